package tensor

import (
	"errors"
	"fmt"
	"math"

	"github.com/siam-ssl/siam/backend"
	_ "github.com/siam-ssl/siam/backend/cpu" // the default backend
)

// Graph records the operations of one forward pass on a tape so Backward can run
// their gradients in reverse, and owns the step's buffers (see Reset). A Graph is
// used by one goroutine at a time; ops parallelise internally.
type Graph struct {
	tape   []tapeEntry
	graded []*Tensor // tensors whose Grad came from the arena, cleared at Reset
	arena  arena
	noGrad bool
	err    error
	dead   *Tensor
	be     backend.Backend // what the ops compute on (a host backend: see NewGraphOn)
}

type tapeEntry struct {
	out  *Tensor
	back func()
}

// NewGraph returns an empty graph that records gradients and computes on
// backend.Default() (the CPU unless --device chose another).
func NewGraph() *Graph { return NewGraphOn(backend.Default()) }

// NewGraphOn returns an empty graph whose ops compute on b. The graph's tensors
// keep their values in host memory between ops, so b must be a host backend
// (b.IsHost()); NewGraphOn panics otherwise, as a programming error.
func NewGraphOn(b backend.Backend) *Graph {
	if !b.IsHost() {
		panic("tensor: backend " + b.Name() + " is not a host backend; tensor graphs need host buffers")
	}
	return &Graph{dead: &Tensor{shape: []int{0}}, be: b}
}

// Backend returns the backend the graph computes on.
func (g *Graph) Backend() backend.Backend { return g.be }

// hb wraps a host slice as a backend buffer (no copy, no allocation).
func hb(s []float32) backend.Buffer { return backend.HostBuffer(s) }

// SetNoGrad switches recording off (true) or on. With recording off ops only compute
// values: the evaluation mode for feature extraction, k-NN and collapse analysis.
func (g *Graph) SetNoGrad(v bool) { g.noGrad = v }

// NoGrad reports whether recording is off.
func (g *Graph) NoGrad() bool { return g.noGrad }

// Err returns the first error an op recorded since the last Reset, or nil.
func (g *Graph) Err() error { return g.err }

// Reset clears the tape and the sticky error and returns every buffer the graph
// handed out to its arena for reuse. Tensors made on this graph before Reset must
// not be used afterwards (parameters are not affected: they live on the heap).
func (g *Graph) Reset() {
	clear(g.tape)
	g.tape = g.tape[:0]
	g.err = nil
	for i, t := range g.graded {
		t.Grad = nil
		g.graded[i] = nil
	}
	g.graded = g.graded[:0]
	g.arena.reset()
}

// ArenaBytes reports how many bytes of buffers the graph's arena holds, in use or
// free; a steady training loop keeps this constant from the second step on.
func (g *Graph) ArenaBytes() int64 { return g.arena.bytes }

// Input wraps data (not copied) as a leaf tensor of the given shape on this graph,
// recording an error if the length does not match.
func (g *Graph) Input(data []float32, shape ...int) *Tensor {
	if g.err != nil {
		return g.dead
	}
	t, err := FromData(data, shape...)
	if err != nil {
		g.err = err
		return g.dead
	}
	return t
}

// Alloc returns a tensor of the given shape whose storage comes from the arena and
// holds arbitrary values: for op outputs that are written in full.
func (g *Graph) Alloc(shape ...int) *Tensor {
	return &Tensor{shape: append([]int(nil), shape...), Data: g.arena.get(numel(shape))}
}

// Zeros is Alloc with the storage cleared.
func (g *Graph) Zeros(shape ...int) *Tensor {
	t := g.Alloc(shape...)
	clear(t.Data)
	return t
}

// Scratch returns an arena buffer of n floats with arbitrary contents, released at
// Reset: for values an op saves for its backward pass.
func (g *Graph) Scratch(n int) []float32 { return g.arena.get(n) }

// GradOf returns t's gradient buffer, allocating it zeroed from the arena on first
// use (parameters keep their persistent heap buffer). Backward closures accumulate
// into it with +=.
func (g *Graph) GradOf(t *Tensor) []float32 {
	b, _ := g.gradBuf(t, true)
	return b
}

// gradOut is GradOf for kernels that overwrite every element when the buffer is
// fresh (reported by the bool), saving the clearing pass; otherwise they add.
func (g *Graph) gradOut(t *Tensor) ([]float32, bool) { return g.gradBuf(t, false) }

func (g *Graph) gradBuf(t *Tensor, zero bool) ([]float32, bool) {
	if t.Grad != nil {
		return t.Grad, false
	}
	t.Grad = g.arena.get(len(t.Data))
	if zero {
		clear(t.Grad)
	}
	g.graded = append(g.graded, t)
	return t.Grad, true
}

// Record registers back as the gradient step of out when recording is on and any
// input requires a gradient; out then requires one too. back reads out.Grad and
// accumulates into the inputs' GradOf buffers, only for inputs that RequiresGrad.
func (g *Graph) Record(out *Tensor, back func(), inputs ...*Tensor) {
	if g.noGrad {
		return
	}
	for _, in := range inputs {
		if in != nil && in.requiresGrad {
			out.requiresGrad = true
			g.tape = append(g.tape, tapeEntry{out: out, back: back})
			return
		}
	}
}

// Fail records a shape error for op (the first error wins) and returns the graph's
// dead tensor, which every later op passes through untouched.
func (g *Graph) Fail(op, msg string, ts ...*Tensor) *Tensor {
	if g.err == nil {
		e := &ShapeError{Op: op, Msg: msg}
		for _, t := range ts {
			if t != nil {
				e.Shapes = append(e.Shapes, t.shape)
			}
		}
		g.err = e
	}
	return g.dead
}

// Failf is Fail with a formatted message.
func (g *Graph) Failf(op string, ts []*Tensor, format string, args ...any) *Tensor {
	return g.Fail(op, fmt.Sprintf(format, args...), ts...)
}

// OK reports whether op may run on ts: no earlier error and no nil input (a nil
// input records an error).
func (g *Graph) OK(op string, ts ...*Tensor) bool {
	if g.err != nil {
		return false
	}
	for i, t := range ts {
		if t == nil {
			g.err = fmt.Errorf("%s: input %d is nil", op, i)
			return false
		}
	}
	return true
}

// Backward computes the gradient of the scalar loss with respect to every tensor
// that requires one, accumulating into parameters' Grad. It fails on a recorded op
// error, a non-scalar loss, or a loss that is NaN or infinite (nothing is updated).
func (g *Graph) Backward(loss *Tensor) error {
	if g.err != nil {
		return g.err
	}
	if loss == nil || loss.Numel() != 1 {
		return fmt.Errorf("backward: loss must have one element, got shape %v", loss)
	}
	if v := float64(loss.Data[0]); math.IsNaN(v) || math.IsInf(v, 0) {
		return fmt.Errorf("backward: loss is %v", v)
	}
	return g.BackwardWith(loss, []float32{1})
}

// ErrNoGradPath is returned by Backward when the output does not depend on anything
// that requires a gradient.
var ErrNoGradPath = errors.New("backward: output does not depend on any tensor that requires a gradient")

// BackwardWith runs the tape backwards from out with the given seed gradient
// (len(seed) == out.Numel()): the vector-Jacobian product used by gradient checks.
func (g *Graph) BackwardWith(out *Tensor, seed []float32) error {
	if g.err != nil {
		return g.err
	}
	if len(seed) != out.Numel() {
		return fmt.Errorf("backward: seed has %d values, output %v has %d", len(seed), out.shape, out.Numel())
	}
	if g.noGrad {
		return errors.New("backward: graph is in no-grad mode")
	}
	if !out.requiresGrad {
		return ErrNoGradPath
	}
	gr := g.GradOf(out)
	for i, s := range seed {
		gr[i] += s
	}
	for i := len(g.tape) - 1; i >= 0; i-- {
		e := g.tape[i]
		if e.out.Grad == nil {
			continue
		}
		e.back()
		// Every consumer of e.out ran before it (reverse tape order), so its gradient
		// is dead: recycle the buffer for the gradients still to come. The seed
		// output keeps its gradient for the caller.
		if e.out != out && !e.out.param {
			g.arena.release(e.out.Grad)
			e.out.Grad = nil
		}
	}
	clear(g.tape)
	g.tape = g.tape[:0]
	return nil
}

// Detach returns a tensor sharing t's values that no gradient flows through: the
// stop-gradient of SimSiam's target branch.
func Detach(t *Tensor) *Tensor {
	return &Tensor{shape: t.shape, Data: t.Data, Name: t.Name}
}
