package parallel

import (
	"runtime"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// spinFor is how long an idle worker keeps polling for the next loop before it parks,
// and how long a caller polls for its loop's last range before it parks. Loops in a
// training step follow each other within microseconds; waking a parked worker costs a
// futex wake of an idle virtual CPU, which takes from tens of microseconds to
// milliseconds on the shared VMs this engine runs on. 50 µs is a few times the gap
// between consecutive loops and costs at most that much CPU after the last loop.
// Atomic so the package's tests can change it while workers poll.
var spinFor atomic.Int64 // nanoseconds

func init() { spinFor.Store(int64(50 * time.Microsecond)) }

// Worker states for the park/wake handshake.
const (
	awake int32 = iota
	sleeping
)

// job is one parallel loop: w ranges of [0,n), claimed one at a time through next by
// the caller and the workers, counted through done. A fresh job per loop means a
// worker that arrives late can only find its counter exhausted, never run a range of
// the next loop with this loop's body.
type job struct {
	n    int
	w    int32
	body func(worker, lo, hi int) // read only by a goroutine that claimed a range

	next   atomic.Int32  // next range to hand out
	done   atomic.Int32  // ranges finished (run, skipped after a failure, or failed)
	parked atomic.Bool   // the caller is (about to be) blocked on wake
	wake   chan struct{} // made by the caller before it sets parked

	failed   atomic.Bool // a range panicked or called runtime.Goexit
	panicMu  sync.Mutex
	panicVal any // a worker's *BodyPanic; nil for runtime.Goexit or the caller's own failure
}

// work claims and runs ranges until none is left. Ranges claimed after a failure are
// counted but not run. onCaller tells whether this is the loop's caller.
func (j *job) work(onCaller bool) {
	for {
		i := j.next.Add(1) - 1
		if i >= j.w {
			return
		}
		if !j.failed.Load() {
			j.runRange(int(i), onCaller)
		}
		j.finish()
	}
}

// finish counts one range as done and wakes a parked caller after the last one.
func (j *job) finish() {
	if j.done.Add(1) == j.w && j.parked.Load() {
		j.wake <- struct{}{} // buffered: never blocks
		// The caller was readied onto this P: let it run now rather than after
		// this worker's spin.
		runtime.Gosched()
	}
}

// runRange runs range i. A panic or runtime.Goexit (t.FailNow in a test) in the body
// marks the loop failed, so no further range starts. On the caller's goroutine it
// then goes on unwinding, with its own stack, through run's cleanup, which waits
// for the ranges other goroutines are running. On a worker it is recorded, the
// panic value wrapped with the worker's stack in a *BodyPanic, for run to re-raise
// on the caller's goroutine; a Goexit ends the worker goroutine, so its range is
// counted here.
func (j *job) runRange(i int, onCaller bool) {
	normal := false
	defer func() {
		if normal {
			return
		}
		if onCaller {
			j.failed.Store(true)
			j.finish()
			return
		}
		r := recover()
		var v any
		if r != nil {
			v = &BodyPanic{Value: r, Stack: debug.Stack()}
		}
		j.panicMu.Lock()
		if !j.failed.Load() {
			j.panicVal = v
			j.failed.Store(true)
		}
		j.panicMu.Unlock()
		if r == nil {
			j.finish()
		}
	}()
	n, w := j.n, int(j.w)
	j.body(i, i*n/w, (i+1)*n/w)
	normal = true
}

// waitDone returns once every range is finished: it polls for spinFor, then parks.
func (j *job) waitDone() {
	if spinUntil(func() bool { return j.done.Load() == j.w }) {
		return
	}
	j.wake = make(chan struct{}, 1) // before parked: the finisher sends on it
	j.parked.Store(true)
	if j.done.Load() == j.w {
		return // a finisher that saw parked may leave a token in wake: harmless
	}
	<-j.wake
}

// spinUntil polls cond for up to spinFor, yielding the processor now and then so
// other goroutines (the runtime's GC workers, a data loader) are not held up. It
// reports whether cond became true.
//
// Spinning pays only while every spinning thread has a core. On an oversubscribed
// host the kernel preempts spinners, and a thread that never sleeps also loses the
// scheduler's favour for sleepers, so its real work then starts late. A pause of
// more than spinGap between two polls means this thread was descheduled (or another
// goroutine needed the processor): spinning then stops, for everyone, for
// spinBackoff, and waits park at once, as they did before the pool existed.
func spinUntil(cond func() bool) bool {
	for range 64 {
		if cond() {
			return true
		}
	}
	now := time.Since(spinEpoch)
	if now < time.Duration(contendedUntil.Load()) {
		return cond()
	}
	deadline := now + time.Duration(spinFor.Load())
	for {
		runtime.Gosched()
		for range 64 {
			if cond() {
				return true
			}
		}
		last := now
		now = time.Since(spinEpoch)
		if now-last > spinGap {
			contendedUntil.Store(int64(now + spinBackoff))
			return cond()
		}
		if now > deadline {
			return cond()
		}
	}
}

const (
	// spinGap: a pause this long between two polls (normally well under a
	// microsecond apart) means the spinning thread lost its core.
	spinGap = 25 * time.Microsecond
	// spinBackoff: how long nobody spins after that.
	spinBackoff = 5 * time.Millisecond
)

var (
	spinEpoch      = time.Now() // monotonic origin of contendedUntil
	contendedUntil atomic.Int64 // time.Since(spinEpoch) before which nobody spins
)

// worker is one persistent pool goroutine.
type worker struct {
	state  atomic.Int32 // awake or sleeping
	quit   atomic.Bool  // retire: GOMAXPROCS went down
	exited atomic.Bool  // a body called runtime.Goexit on this goroutine
	wake   chan struct{}
}

// pool is the process-wide set of workers. Only the goroutine that holds busy (the
// caller of the running top-level loop) changes workers or cur.
type pool struct {
	busy    atomic.Bool
	cur     atomic.Pointer[job]
	workers []*worker
	live    atomic.Int32 // len(workers), readable without holding busy
}

var thePool pool

// loop is a worker's life: run every new job's ranges it can claim, poll for the
// next job for spinFor, then park until a caller wakes it.
func (wk *worker) loop(p *pool, seen *job) {
	defer wk.exited.Store(true)
	for {
		if wk.quit.Load() {
			return
		}
		if j := p.cur.Load(); j != seen {
			seen = j
			j.work(false)
			continue
		}
		if spinUntil(func() bool { return p.cur.Load() != seen || wk.quit.Load() }) {
			continue
		}
		wk.state.Store(sleeping)
		if p.cur.Load() != seen || wk.quit.Load() {
			if wk.state.CompareAndSwap(sleeping, awake) {
				continue
			}
			// A waker won the race and sent a token: take it.
		}
		<-wk.wake
	}
}

// wakeOne makes a sleeping worker runnable; an awake one is polling and needs nothing.
func (wk *worker) wakeOne() {
	if wk.state.CompareAndSwap(sleeping, awake) {
		wk.wake <- struct{}{} // buffered, and only the CAS winner sends
	}
}

// resize starts or retires workers so the pool has want of them, replacing any that a
// runtime.Goexit ended. Called with busy held.
func (p *pool) resize(want int) {
	if anyExited(p.workers) {
		p.workers = slices.DeleteFunc(p.workers, func(wk *worker) bool { return wk.exited.Load() })
	}
	for len(p.workers) < want {
		wk := &worker{wake: make(chan struct{}, 1)}
		p.workers = append(p.workers, wk)
		go wk.loop(p, p.cur.Load())
	}
	for len(p.workers) > want {
		wk := p.workers[len(p.workers)-1]
		p.workers = p.workers[:len(p.workers)-1]
		wk.quit.Store(true)
		wk.wakeOne()
	}
	p.live.Store(int32(len(p.workers)))
}

func anyExited(ws []*worker) bool {
	for _, wk := range ws {
		if wk.exited.Load() {
			return true
		}
	}
	return false
}

// run executes the w ranges of [0,n) on the pool, the caller taking part. It returns
// false, having run nothing, when the pool is held by another loop (a nested call from
// a body, or another goroutine's loop): the caller then runs the loop inline.
func run(n, w int, body func(worker, lo, hi int)) bool {
	p := &thePool
	if !p.busy.CompareAndSwap(false, true) {
		return false
	}
	p.resize(Workers() - 1)
	j := &job{n: n, w: int32(w), body: body}
	p.cur.Store(j)
	for _, wk := range p.workers[:min(w-1, len(p.workers))] {
		wk.wakeOne()
	}
	returned := false
	defer func() {
		if !returned {
			// A panic or runtime.Goexit in the caller's own range: end the loop
			// before it unwinds further, so no range still runs and the pool is free.
			j.waitDone()
			j.body = nil
			p.busy.Store(false)
		}
	}()
	j.work(true)
	j.waitDone()
	// Every claimed range has finished, so no goroutine reads body any more: drop
	// it so the pool does not keep the loop's buffers alive until the next loop.
	j.body = nil
	failed, val := j.failed.Load(), j.panicVal
	p.busy.Store(false)
	returned = true
	if failed {
		if val == nil {
			runtime.Goexit() // a worker's range called it (t.FailNow): end this goroutine too
		}
		panic(val) // a worker's *BodyPanic
	}
	return true
}

// trimIfShrunk retires workers beyond GOMAXPROCS-1 when a loop runs inline because
// GOMAXPROCS went down, so lowering it does not leave idle goroutines behind.
func trimIfShrunk() {
	p := &thePool
	want := Workers() - 1
	if int(p.live.Load()) <= want || !p.busy.CompareAndSwap(false, true) {
		return
	}
	p.resize(want)
	p.busy.Store(false)
}
