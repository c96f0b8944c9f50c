package tensor_test

import (
	"slices"
	"testing"

	"github.com/siam-ssl/siam/tensor"
)

// TestNoGradScope checks that a scope returns the same values as the ops run
// without it, records no gradient path through them, restores recording, hands
// its buffers back (a second scope in the same step takes new memory only for
// its result), and
// nests.
func TestNoGradScope(t *testing.T) {
	x := make([]float32, 4*6)
	for i := range x {
		x[i] = float32(i%7) - 2.5
	}
	w := tensor.NewParam("w", 5, 6)
	for i := range w.Data {
		w.Data[i] = float32(i%5)*0.1 - 0.2
	}
	branch := func(g *tensor.Graph) *tensor.Tensor {
		h := g.ReLU(g.Linear(g.Input(x, 4, 6), w, nil))
		return g.Reshape(g.Scale(h, 2), 5, 4) // a view of an intermediate
	}
	g := tensor.NewGraph()
	want := slices.Clone(branch(g).Data)

	g.Reset()
	a := g.NoGradScope(func() *tensor.Tensor { return branch(g) })
	if g.NoGrad() {
		t.Fatal("recording not restored")
	}
	if !slices.Equal(a.Data, want) || !slices.Equal(a.Shape(), []int{5, 4}) || a.RequiresGrad() {
		t.Fatalf("scope result %v %v (requires grad %v), want %v", a.Shape(), a.Data, a.RequiresGrad(), want)
	}
	used := g.ArenaBytes()
	b := g.NoGradScope(func() *tensor.Tensor { return branch(g) })
	if grow := g.ArenaBytes() - used; grow != int64(4*b.Numel()) {
		t.Fatalf("a second scope grew the arena by %d bytes, want only its result's %d", grow, 4*b.Numel())
	}
	if !slices.Equal(a.Data, want) || !slices.Equal(b.Data, want) {
		t.Fatal("a later scope overwrote an earlier result")
	}
	// Nested scopes, and a recorded op after them still gets its gradient.
	c := g.NoGradScope(func() *tensor.Tensor {
		inner := g.NoGradScope(func() *tensor.Tensor { return branch(g) })
		return g.Scale(inner, 0.5)
	})
	for i := range c.Data {
		if c.Data[i] != want[i]*0.5 {
			t.Fatalf("nested scope: %v, want %v", c.Data[i], want[i]*0.5)
		}
	}
	loss := g.Sum(g.Mul(g.Linear(g.Input(x, 4, 6), w, nil), g.Reshape(c, 4, 5)))
	w.ZeroGrad()
	if err := g.Backward(loss); err != nil {
		t.Fatal(err)
	}
	if slices.Equal(w.Grad, make([]float32, len(w.Grad))) {
		t.Fatal("no gradient reached w outside the scope")
	}
	// An error inside the scope is kept and gives the dead tensor.
	g.Reset()
	d := g.NoGradScope(func() *tensor.Tensor { return g.MatMul(g.Input(x, 4, 6), g.Input(x, 4, 6)) })
	if g.Err() == nil || d.Numel() != 0 || g.NoGrad() {
		t.Fatalf("error in scope: err %v, result %v, no-grad %v", g.Err(), d, g.NoGrad())
	}
}
