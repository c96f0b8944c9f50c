package parallel

import (
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"weak"
)

// withProcs runs f with GOMAXPROCS set to procs.
func withProcs(t *testing.T, procs int, f func()) {
	t.Helper()
	prev := runtime.GOMAXPROCS(procs)
	defer runtime.GOMAXPROCS(prev)
	f()
}

// withSpin runs f with the pool's polling time set to d (0: park at once).
func withSpin(d time.Duration, f func()) {
	prev := spinFor.Swap(int64(d))
	defer spinFor.Store(prev)
	f()
}

type span struct{ w, lo, hi int }

// TestRangesAreTheStaticSplit checks that the ranges and their worker indices depend
// only on n and GOMAXPROCS, whichever goroutine runs them, with workers polling and
// parked alike.
func TestRangesAreTheStaticSplit(t *testing.T) {
	for _, procs := range []int{1, 2, 3, 8} {
		for _, spin := range []time.Duration{0, 50 * time.Microsecond} {
			withProcs(t, procs, func() {
				withSpin(spin, func() {
					for _, n := range []int{1, 2, 5, 8, 9, 1000} {
						w := min(n, procs)
						want := make([]span, w)
						for i := range want {
							want[i] = span{i, i * n / w, (i + 1) * n / w}
						}
						for rep := range 20 {
							var mu sync.Mutex
							var got []span
							ForWorker(n, func(wk, lo, hi int) {
								mu.Lock()
								got = append(got, span{wk, lo, hi})
								mu.Unlock()
							})
							slices.SortFunc(got, func(a, b span) int { return a.w - b.w })
							if !slices.Equal(got, want) {
								t.Fatalf("procs %d spin %v n %d rep %d: ranges %v, want %v", procs, spin, n, rep, got, want)
							}
						}
					}
				})
			})
		}
	}
}

// TestOneWorkerRunsInline checks that with GOMAXPROCS=1 a loop is one call on the
// caller's goroutine, as before the pool existed.
func TestOneWorkerRunsInline(t *testing.T) {
	withProcs(t, 1, func() {
		calls := 0
		ForWorker(100, func(w, lo, hi int) {
			calls++ // no synchronisation: must be the caller's goroutine
			if w != 0 || lo != 0 || hi != 100 {
				t.Errorf("got (%d, %d, %d), want (0, 0, 100)", w, lo, hi)
			}
		})
		For(100, func(lo, hi int) { calls++ })
		if calls != 2 {
			t.Fatalf("%d calls, want 2", calls)
		}
	})
}

// TestNestedLoops runs loops inside loops, three deep, from the caller's range and the
// workers' ranges alike: each inner loop must run (inline) and cover its indices.
func TestNestedLoops(t *testing.T) {
	withProcs(t, 4, func() {
		const n1, n2, n3 = 7, 5, 3
		var hits [n1][n2][n3]atomic.Int32
		ForWorker(n1, func(_, lo, hi int) {
			for i := lo; i < hi; i++ {
				For(n2, func(lo2, hi2 int) {
					for j := lo2; j < hi2; j++ {
						ForWorker(n3, func(_, lo3, hi3 int) {
							for k := lo3; k < hi3; k++ {
								hits[i][j][k].Add(1)
							}
						})
					}
				})
			}
		})
		for i := range hits {
			for j := range hits[i] {
				for k := range hits[i][j] {
					if h := hits[i][j][k].Load(); h != 1 {
						t.Fatalf("index (%d,%d,%d) visited %d times", i, j, k, h)
					}
				}
			}
		}
	})
}

// TestConcurrentCallers starts loops from many goroutines at once: one of them holds
// the pool, the others run inline; every loop must cover its indices exactly once.
func TestConcurrentCallers(t *testing.T) {
	withProcs(t, 4, func() {
		for _, spin := range []time.Duration{0, 50 * time.Microsecond} {
			withSpin(spin, func() {
				var wg sync.WaitGroup
				for g := range 8 {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for rep := range 200 {
							n := 1 + (g*31+rep*7)%300
							hits := make([]int32, n)
							ForGrain(n, 1+rep%4, func(lo, hi int) {
								for i := lo; i < hi; i++ {
									atomic.AddInt32(&hits[i], 1)
								}
							})
							for i, h := range hits {
								if h != 1 {
									t.Errorf("goroutine %d rep %d: index %d visited %d times", g, rep, i, h)
									return
								}
							}
						}
					}()
				}
				wg.Wait()
			})
		}
	})
}

// TestParkAndWake alternates loops with pauses longer than the polling time, so the
// workers park between loops and every loop has to wake them.
func TestParkAndWake(t *testing.T) {
	withProcs(t, 3, func() {
		withSpin(20*time.Microsecond, func() {
			var sum atomic.Int64
			for rep := range 50 {
				For(3, func(lo, hi int) {
					for i := lo; i < hi; i++ {
						sum.Add(int64(i + 1))
					}
				})
				if rep%5 == 0 {
					time.Sleep(200 * time.Microsecond)
				}
			}
			if got := sum.Load(); got != 50*6 {
				t.Fatalf("sum %d, want %d", got, 50*6)
			}
		})
	})
}

// TestSpinBacksOffWhenDescheduled simulates a spinning thread losing its core (a
// long pause between two polls) and checks that spinning then stops: the next wait
// polls only briefly before it would park.
func TestSpinBacksOffWhenDescheduled(t *testing.T) {
	withSpin(time.Second, func() {
		contendedUntil.Store(0)
		defer contendedUntil.Store(0)
		calls := 0
		if spinUntil(func() bool {
			calls++
			if calls == 100 {
				time.Sleep(2 * time.Millisecond) // as if preempted mid-spin
			}
			return false
		}) {
			t.Fatal("spinUntil reported a condition that never held")
		}
		if calls > 1000 {
			t.Fatalf("kept spinning after a 2 ms pause (%d polls)", calls)
		}
		if time.Duration(contendedUntil.Load()) <= time.Since(spinEpoch) {
			t.Fatal("the pause was not recorded")
		}
		calls = 0
		spinUntil(func() bool { calls++; return false })
		if calls > 65 {
			t.Fatalf("spun %d polls during the back-off, want at most 65", calls)
		}
		// A condition that holds is still seen at once.
		if !spinUntil(func() bool { return true }) {
			t.Fatal("spinUntil missed a condition that holds")
		}
	})
}

// catch runs f and returns the value it panicked with (nil if none).
func catch(f func()) (v any) {
	defer func() { v = recover() }()
	f()
	return nil
}

// panicValue returns the value a body panicked with, unwrapping a *BodyPanic.
func panicValue(v any) any {
	if bp, ok := v.(*BodyPanic); ok {
		if len(bp.Stack) == 0 || !strings.Contains(bp.Error(), "worker goroutine stack") {
			panic("BodyPanic without the worker's stack")
		}
		return bp.Value
	}
	return v
}

// TestPanicPropagates checks that a panic in any range reaches the caller with its
// value (wrapped with the worker's stack when a worker ran the range), after every
// started range has finished, and that the pool works afterwards.
func TestPanicPropagates(t *testing.T) {
	withProcs(t, 4, func() {
		for _, bad := range []int{0, 1, 3} {
			var running atomic.Int32
			var after atomic.Bool
			v := catch(func() {
				ForWorker(4, func(w, lo, hi int) {
					running.Add(1)
					defer running.Add(-1)
					if w == bad {
						panic(fmt.Sprintf("range %d", w))
					}
					time.Sleep(time.Millisecond)
					if after.Load() {
						t.Errorf("range %d still running after the panic returned", w)
					}
				})
			})
			after.Store(true)
			if panicValue(v) != fmt.Sprintf("range %d", bad) {
				t.Fatalf("panic in range %d: recovered %v", bad, v)
			}
			if r := running.Load(); r != 0 {
				t.Fatalf("panic in range %d: %d ranges still running when the caller saw it", bad, r)
			}
		}
		// A runtime error stays one, directly or through errors.As.
		for range 20 {
			v := catch(func() {
				For(8, func(lo, hi int) {
					var s []int
					_ = s[lo]
				})
			})
			var re runtime.Error
			if err, ok := v.(error); !ok || !errors.As(err, &re) {
				t.Fatalf("index panic recovered as %T %v, want a runtime.Error", v, v)
			}
		}
		count := 0
		var mu sync.Mutex
		For(100, func(lo, hi int) { mu.Lock(); count += hi - lo; mu.Unlock() })
		if count != 100 {
			t.Fatalf("after panics, a loop covered %d of 100", count)
		}
	})
}

// TestWorkerPanicCarriesItsStack panics in the range a pool worker runs (the two
// ranges wait for each other, so each goroutine runs one) and checks the *BodyPanic.
func TestWorkerPanicCarriesItsStack(t *testing.T) {
	withProcs(t, 2, func() {
		var started atomic.Int32
		onWorker := func() bool {
			buf := make([]byte, 1<<14)
			return strings.Contains(string(buf[:runtime.Stack(buf, false)]), "(*worker).loop")
		}
		v := catch(func() {
			ForWorker(2, func(w, lo, hi int) {
				started.Add(1)
				deadline := time.Now().Add(5 * time.Second)
				for started.Load() < 2 && time.Now().Before(deadline) {
					runtime.Gosched()
				}
				if onWorker() {
					panicHere()
				}
			})
		})
		if started.Load() < 2 {
			t.Skip("the worker did not start a range within 5 s; nothing to check")
		}
		bp, ok := v.(*BodyPanic)
		if !ok {
			t.Fatalf("recovered %T %v, want a *BodyPanic", v, v)
		}
		if bp.Value != "boom" || !strings.Contains(string(bp.Stack), "panicHere") {
			t.Fatalf("BodyPanic value %v, stack without the panicking function:\n%s", bp.Value, bp.Stack)
		}
	})
}

func panicHere() { panic("boom") }

// TestGoexitInWorker checks that runtime.Goexit in a worker's range (t.FailNow) ends
// the caller's goroutine too instead of hanging the loop, and that the pool replaces
// the worker it lost.
func TestGoexitInWorker(t *testing.T) {
	withProcs(t, 2, func() {
		for _, who := range []int{0, 1} {
			returned := make(chan bool)
			go func() {
				normal := false
				defer func() { returned <- normal }()
				ForWorker(2, func(w, lo, hi int) {
					if w == who {
						runtime.Goexit()
					}
				})
				normal = true
			}()
			select {
			case normal := <-returned:
				if normal {
					t.Fatalf("Goexit in range %d: the caller returned normally", who)
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("Goexit in range %d: the loop hangs", who)
			}
			count := 0
			var mu sync.Mutex
			For(10, func(lo, hi int) { mu.Lock(); count += hi - lo; mu.Unlock() })
			if count != 10 {
				t.Fatalf("after Goexit, a loop covered %d of 10", count)
			}
		}
	})
}

// waitGoroutines waits up to 5 s for the goroutine count to drop to at most want.
func waitGoroutines(want int) int {
	deadline := time.Now().Add(5 * time.Second)
	for {
		n := runtime.NumGoroutine()
		if n <= want || time.Now().After(deadline) {
			return n
		}
		time.Sleep(time.Millisecond)
	}
}

// TestNoGoroutineLeak checks that the pool holds at most GOMAXPROCS-1 goroutines
// however many loops run, and retires workers when GOMAXPROCS goes down.
func TestNoGoroutineLeak(t *testing.T) {
	body := func(lo, hi int) {}
	For(64, body) // retire workers left by earlier tests' GOMAXPROCS
	base := runtime.NumGoroutine() - int(thePool.live.Load())
	withProcs(t, 6, func() {
		for range 1000 {
			For(64, body)
		}
		if n := runtime.NumGoroutine(); n > base+5 {
			t.Fatalf("GOMAXPROCS 6: %d goroutines after 1000 loops, want at most %d", n, base+5)
		}
	})
	withProcs(t, 3, func() {
		For(64, body)
		if n := waitGoroutines(base + 2); n > base+2 {
			t.Fatalf("GOMAXPROCS 3: %d goroutines, want at most %d", n, base+2)
		}
	})
	withProcs(t, 1, func() {
		For(64, body)
		if n := waitGoroutines(base); n > base {
			t.Fatalf("GOMAXPROCS 1: %d goroutines, want at most %d", n, base)
		}
	})
}

// TestLoopBuffersAreReleased checks that the pool does not keep a finished loop's body
// (and so the buffers it captures) reachable.
func TestLoopBuffersAreReleased(t *testing.T) {
	withProcs(t, 2, func() {
		wp := loopOverFreshBuffer()
		runtime.GC()
		runtime.GC()
		if wp.Value() != nil {
			t.Fatal("the buffer captured by a finished loop's body is still reachable")
		}
	})
}

func loopOverFreshBuffer() weak.Pointer[[1 << 16]float32] {
	buf := new([1 << 16]float32)
	For(len(buf), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			buf[i] = float32(i)
		}
	})
	return weak.Make(buf)
}

func BenchmarkForEmpty(b *testing.B) {
	body := func(lo, hi int) {}
	for b.Loop() {
		For(64, body)
	}
}

func ExampleForWorker() {
	x := make([]float64, 1000)
	for i := range x {
		x[i] = float64(i)
	}
	// One partial sum per worker, added in worker order: the result does not depend
	// on which goroutine ran which range.
	partial := make([]float64, Workers())
	ForWorker(len(x), func(w, lo, hi int) {
		for _, v := range x[lo:hi] {
			partial[w] += v
		}
	})
	sum := 0.0
	for _, p := range partial {
		sum += p
	}
	fmt.Println(sum)
	// Output: 499500
}

// spinWork burns about iters*1ns of arithmetic, standing in for a kernel's range.
func spinWork(iters int) float64 {
	x := 1.0
	for i := range iters {
		x = x*0.999999 + float64(i&1)
	}
	return x
}

var sink float64

// BenchmarkForWork runs loops of two ranges of ~25 µs each back to back, with a
// short serial gap between them as in a training step: the wall time per loop shows
// the cost of handing a range to another core (ideal: ~20 µs + gap).
func BenchmarkForWork(b *testing.B) {
	var mu sync.Mutex
	for b.Loop() {
		For(2, func(lo, hi int) {
			v := 0.0
			for range hi - lo {
				v += spinWork(20000)
			}
			mu.Lock()
			sink += v
			mu.Unlock()
		})
		sink += spinWork(2000)
	}
}
