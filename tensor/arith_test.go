package tensor_test

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/siam-ssl/siam/tensor"
	"github.com/siam-ssl/siam/tensor/tensortest"
)

// opsClose fails unless got and want agree elementwise within atol + rtol*|want|.
func opsClose(t *testing.T, what string, got []float32, want []float64, atol, rtol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	for i := range got {
		if d := math.Abs(float64(got[i]) - want[i]); d > atol+rtol*math.Abs(want[i]) || math.IsNaN(float64(got[i])) != math.IsNaN(want[i]) {
			t.Fatalf("%s: element %d = %v, want %v", what, i, got[i], want[i])
		}
	}
}

// opsWantErr fails unless g recorded an error that mentions every fragment.
func opsWantErr(t *testing.T, g *tensor.Graph, out *tensor.Tensor, fragments ...string) {
	t.Helper()
	err := g.Err()
	if err == nil {
		t.Fatalf("want an error mentioning %q, got none (output %v)", fragments, out)
	}
	for _, f := range fragments {
		if !strings.Contains(err.Error(), f) {
			t.Fatalf("error %q does not mention %q", err, f)
		}
	}
	if out == nil || out.Numel() != 0 {
		t.Fatalf("want the dead tensor after an error, got %v", out)
	}
}

// opsRandAway returns Rand values pushed away from zero (|v| >= lo): for divisors.
func opsRandAway(seed uint64, lo float32, shape ...int) *tensor.Tensor {
	x := tensortest.Rand(seed, shape...)
	for i, v := range x.Data {
		if v >= 0 {
			x.Data[i] = v + lo
		} else {
			x.Data[i] = v - lo
		}
	}
	return x
}

// opsBroadcastRef computes op elementwise with NumPy broadcasting in float64 by
// explicit multi-indexing.
func opsBroadcastRef(op string, a *tensor.Tensor, b *tensor.Tensor, out []int) []float64 {
	n := 1
	for _, d := range out {
		n *= d
	}
	res := make([]float64, n)
	idx := make([]int, len(out))
	flat := func(t *tensor.Tensor) int {
		s := t.Shape()
		off, stride := 0, 1
		for i := len(s) - 1; i >= 0; i-- {
			j := idx[i+len(out)-len(s)]
			if s[i] == 1 {
				j = 0
			}
			off += j * stride
			stride *= s[i]
		}
		return off
	}
	for p := range n {
		r := p
		for i := len(out) - 1; i >= 0; i-- {
			idx[i] = r % out[i]
			r /= out[i]
		}
		x, y := float64(a.Data[flat(a)]), float64(b.Data[flat(b)])
		switch op {
		case "add":
			res[p] = x + y
		case "sub":
			res[p] = x - y
		case "mul":
			res[p] = x * y
		case "div":
			res[p] = x / y
		}
	}
	return res
}

var opsBroadcastCases = []struct {
	a, b, out []int
}{
	{[]int{2, 3, 4}, []int{2, 3, 4}, []int{2, 3, 4}},
	{[]int{2, 3, 4}, []int{4}, []int{2, 3, 4}},
	{[]int{4}, []int{2, 3, 4}, []int{2, 3, 4}},
	{[]int{2, 3, 4}, []int{2, 1, 4}, []int{2, 3, 4}},
	{[]int{2, 3, 4, 5}, []int{1, 3, 1, 1}, []int{2, 3, 4, 5}},
	{[]int{1, 3, 1, 1}, []int{2, 3, 4, 5}, []int{2, 3, 4, 5}},
	{[]int{2, 3}, []int{1}, []int{2, 3}},
	{[]int{2, 3}, []int{}, []int{2, 3}},
	{[]int{}, []int{}, []int{}},
	{[]int{3, 1}, []int{1, 4}, []int{3, 4}},
	{[]int{5, 1, 3}, []int{4, 1}, []int{5, 4, 3}},
	{[]int{6, 5}, []int{6, 1}, []int{6, 5}},
	{[]int{1}, []int{1}, []int{1}},
	{[]int{0, 3}, []int{3}, []int{0, 3}},
}

func opsApply(g *tensor.Graph, op string, a, b *tensor.Tensor) *tensor.Tensor {
	switch op {
	case "add":
		return g.Add(a, b)
	case "sub":
		return g.Sub(a, b)
	case "mul":
		return g.Mul(a, b)
	default:
		return g.Div(a, b)
	}
}

func TestBroadcastArith(t *testing.T) {
	for ci, c := range opsBroadcastCases {
		for _, op := range []string{"add", "sub", "mul", "div"} {
			t.Run(fmt.Sprintf("%s%v%v", op, c.a, c.b), func(t *testing.T) {
				a := tensortest.Rand(uint64(10+ci), c.a...)
				b := opsRandAway(uint64(50+ci), 0.5, c.b...)
				g := tensor.NewGraph()
				y := opsApply(g, op, a, b)
				if err := g.Err(); err != nil {
					t.Fatal(err)
				}
				if !tensor.SameShape(y.Shape(), c.out) {
					t.Fatalf("shape %v, want %v", y.Shape(), c.out)
				}
				opsClose(t, "value", y.Data, opsBroadcastRef(op, a, b, c.out), 1e-6, 1e-6)
				if y.Numel() == 0 {
					return
				}
				tensortest.CheckGrad(t, func(g *tensor.Graph, in []*tensor.Tensor) *tensor.Tensor {
					return opsApply(g, op, in[0], in[1])
				}, []*tensor.Tensor{a, b}, tensortest.Options{Eps: 1e-3})
			})
		}
	}
}

// TestBroadcastArithLarge runs the parallel paths (several chunks, per-chunk partial
// sums for the broadcast operand) and checks the gradients against float64 sums.
func TestBroadcastArithLarge(t *testing.T) {
	const N, C, HW = 64, 32, 64
	a := tensortest.Rand(1, N, C, 8, 8)
	b := opsRandAway(2, 0.5, 1, C, 1, 1)
	for _, op := range []string{"add", "sub", "mul", "div"} {
		a.Grad, b.Grad = nil, nil
		g := tensor.NewGraph()
		y := opsApply(g, op, a, b)
		opsClose(t, op+" value", y.Data, opsBroadcastRef(op, a, b, y.Shape()), 1e-6, 1e-6)
		seed := make([]float32, y.Numel())
		for i := range seed {
			seed[i] = float32(i%7) - 3
		}
		if err := g.BackwardWith(y, seed); err != nil {
			t.Fatal(err)
		}
		wantA := make([]float64, a.Numel())
		wantB := make([]float64, C)
		for i := range seed {
			c := i / HW % C
			s, x, w := float64(seed[i]), float64(a.Data[i]), float64(b.Data[c])
			switch op {
			case "add":
				wantA[i], wantB[c] = s, wantB[c]+s
			case "sub":
				wantA[i], wantB[c] = s, wantB[c]-s
			case "mul":
				wantA[i], wantB[c] = s*w, wantB[c]+s*x
			case "div":
				wantA[i], wantB[c] = s/w, wantB[c]-s*x/(w*w)
			}
		}
		opsClose(t, op+" grad a", a.Grad, wantA, 1e-6, 1e-5)
		opsClose(t, op+" grad b", b.Grad, wantB, 1e-2, 1e-4)
	}
}

func TestScaleAddScalar(t *testing.T) {
	x := tensortest.Rand(3, 3, 4)
	g := tensor.NewGraph()
	s, p := g.Scale(x, -2.5), g.AddScalar(x, 0.75)
	want1, want2 := make([]float64, x.Numel()), make([]float64, x.Numel())
	for i, v := range x.Data {
		want1[i], want2[i] = -2.5*float64(v), float64(v)+0.75
	}
	opsClose(t, "scale", s.Data, want1, 1e-6, 1e-6)
	opsClose(t, "add_scalar", p.Data, want2, 1e-6, 1e-6)
	tensortest.CheckGrad(t, func(g *tensor.Graph, in []*tensor.Tensor) *tensor.Tensor {
		return g.AddScalar(g.Scale(in[0], -2.5), 0.75)
	}, []*tensor.Tensor{x}, tensortest.Options{Eps: 1e-3})
}

// TestArithSharedInput checks x*x and x-x, where both operands are one tensor.
func TestArithSharedInput(t *testing.T) {
	x := tensortest.Rand(4, 5)
	tensortest.CheckGrad(t, func(g *tensor.Graph, in []*tensor.Tensor) *tensor.Tensor {
		return g.Add(g.Mul(in[0], in[0]), g.Sub(in[0], in[0]))
	}, []*tensor.Tensor{x}, tensortest.Options{Eps: 1e-3})
}

func TestArithErrors(t *testing.T) {
	for _, op := range []string{"add", "sub", "mul", "div"} {
		g := tensor.NewGraph()
		y := opsApply(g, op, tensor.New(2, 3), tensor.New(4))
		opsWantErr(t, g, y, op, "[2 3]", "[4]", "broadcast")
		g = tensor.NewGraph()
		y = opsApply(g, op, tensor.New(2, 3, 4), tensor.New(3, 3, 4))
		opsWantErr(t, g, y, op, "[2 3 4]", "[3 3 4]")
		g = tensor.NewGraph()
		y = opsApply(g, op, nil, tensor.New(4))
		opsWantErr(t, g, y, op, "nil")
	}
	g := tensor.NewGraph()
	opsWantErr(t, g, g.Scale(nil, 2), "scale")
	g = tensor.NewGraph()
	opsWantErr(t, g, g.AddScalar(nil, 2), "add_scalar")
}

func BenchmarkAddBiasNCHW(b *testing.B) {
	x, bias := tensortest.Rand(1, 64, 64, 16, 16), tensortest.Rand(2, 1, 64, 1, 1)
	seed := make([]float32, x.Numel())
	g := tensor.NewGraph()
	b.SetBytes(int64(4 * x.Numel()))
	for b.Loop() {
		g.Reset()
		y := g.Add(x, bias)
		if err := g.BackwardWith(y, seed); err != nil {
			b.Fatal(err)
		}
		x.Grad, bias.Grad = nil, nil
	}
}

func BenchmarkMulSameShape(b *testing.B) {
	x, w := tensortest.Rand(1, 64, 64, 16, 16), tensortest.Rand(2, 64, 64, 16, 16)
	g := tensor.NewGraph()
	b.SetBytes(int64(4 * x.Numel()))
	for b.Loop() {
		g.Reset()
		g.Mul(x, w)
	}
}
