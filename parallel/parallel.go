// Package parallel splits loops across the machine's cores. It is the engine's only
// source of concurrency, so kernels never oversubscribe the two cores of the target
// machine (two thread pools on two cores cost PyTorch up to 2x here).
//
// Loops run on a persistent pool of GOMAXPROCS-1 worker goroutines plus the caller
// (see pool.go): starting goroutines and waking an idle virtual CPU for every loop
// costs from tens of microseconds to milliseconds on the VMs this engine runs on,
// so workers spin briefly after each loop before they park, as OpenMP runtimes do.
package parallel

import (
	"runtime"
)

// Workers returns how many goroutines a parallel loop uses: GOMAXPROCS.
func Workers() int { return runtime.GOMAXPROCS(0) }

// For runs body over [0,n) split into at most Workers() contiguous ranges and returns
// when all are done. Small n runs inline.
//
// The split depends only on n and Workers(), never on timing: range i is always
// [i*n/w, (i+1)*n/w), whichever goroutine runs it. A call made from inside a body
// (a nested loop), or while another goroutine's loop holds the pool, runs inline on
// the calling goroutine as one range. A panic in a body is re-raised on the caller's
// goroutine, with the same value, once every range already started has finished;
// ranges not yet started are skipped.
func For(n int, body func(lo, hi int)) {
	ForGrain(n, 1, body)
}

// ForGrain is For with a minimum range size: ranges shorter than grain are not split
// further, so cheap loops do not pay the synchronisation for nothing.
func ForGrain(n, grain int, body func(lo, hi int)) {
	if n <= 0 {
		return
	}
	w := Workers()
	if grain < 1 {
		grain = 1
	}
	if m := (n + grain - 1) / grain; m < w {
		w = m
	}
	if w <= 1 {
		trimIfShrunk()
		body(0, n)
		return
	}
	if !run(n, w, func(_, lo, hi int) { body(lo, hi) }) {
		body(0, n)
	}
}

// ForWorker is For that also passes the range index in [0, Workers()) as the worker,
// so a body can use per-worker scratch buffers (packing panels, partial sums) without
// locking: each index is handed to exactly one range per call. Nested and concurrent
// calls run inline as worker 0 (see For), so scratch indexed by worker must belong to
// the call, not be shared between loops that may run at the same time.
func ForWorker(n int, body func(worker, lo, hi int)) {
	if n <= 0 {
		return
	}
	w := Workers()
	if n < w {
		w = n
	}
	if w <= 1 {
		trimIfShrunk()
		body(0, 0, n)
		return
	}
	if !run(n, w, body) {
		body(0, 0, n)
	}
}
