// Package parallel splits loops across the machine's cores. It is the engine's only
// source of concurrency, so kernels never oversubscribe the two cores of the target
// machine (two thread pools on two cores cost PyTorch up to 2x here).
package parallel

import (
	"runtime"
	"sync"
)

// Workers returns how many goroutines a parallel loop uses: GOMAXPROCS.
func Workers() int { return runtime.GOMAXPROCS(0) }

// For runs body over [0,n) split into at most Workers() contiguous ranges, one
// goroutine each, and returns when all are done. Small n runs inline.
func For(n int, body func(lo, hi int)) {
	ForGrain(n, 1, body)
}

// ForGrain is For with a minimum range size: ranges shorter than grain are not split
// further, so cheap loops do not pay goroutine start-up for nothing.
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
		body(0, n)
		return
	}
	var wg sync.WaitGroup
	wg.Add(w - 1)
	for i := 1; i < w; i++ {
		lo, hi := i*n/w, (i+1)*n/w
		go func() {
			defer wg.Done()
			body(lo, hi)
		}()
	}
	body(0, n/w)
	wg.Wait()
}

// ForWorker is For that also passes the worker index in [0, Workers()), so a body can
// use per-worker scratch buffers (packing panels, partial sums) without locking.
func ForWorker(n int, body func(worker, lo, hi int)) {
	if n <= 0 {
		return
	}
	w := Workers()
	if n < w {
		w = n
	}
	if w <= 1 {
		body(0, 0, n)
		return
	}
	var wg sync.WaitGroup
	wg.Add(w - 1)
	for i := 1; i < w; i++ {
		lo, hi := i*n/w, (i+1)*n/w
		go func() {
			defer wg.Done()
			body(i, lo, hi)
		}()
	}
	body(0, 0, n/w)
	wg.Wait()
}
