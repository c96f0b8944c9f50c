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
	"fmt"
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
// the calling goroutine as one range.
//
// A panic in a body reaches the caller of For once every range already started has
// finished (ranges not yet started are skipped): as itself, with its own stack, when
// the range ran on the caller's goroutine (always so for an inline loop), or as a
// *BodyPanic carrying the value and the worker's stack when it ran on a pool worker
// (before the pool, such a panic killed the process). runtime.Goexit in a body
// (t.FailNow) ends the caller's goroutine likewise.
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

// BodyPanic is what a parallel loop panics with on its caller's goroutine when a body
// panicked on one of the pool's worker goroutines: the original value and the
// worker's stack at the panic, which the caller's own stack cannot show. Its Error
// prints both, so an unrecovered one reads like the worker's own crash; Unwrap gives
// the original error, if the value was one (errors.As finds a runtime.Error).
type BodyPanic struct {
	Value any    // what the body panicked with
	Stack []byte // the worker goroutine's stack (runtime/debug.Stack) at the panic
}

// Error returns the panic value followed by the worker's stack.
func (p *BodyPanic) Error() string {
	return fmt.Sprintf("%v [in a parallel loop body, on a pool worker]\n\nworker goroutine stack:\n%s", p.Value, p.Stack)
}

// Unwrap returns the panic value when it is an error, else nil.
func (p *BodyPanic) Unwrap() error {
	err, _ := p.Value.(error)
	return err
}
