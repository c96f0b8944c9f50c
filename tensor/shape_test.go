package tensor_test

import (
	"fmt"
	"testing"

	"github.com/siam-ssl/siam/tensor"
	"github.com/siam-ssl/siam/tensor/tensortest"
)

func opsF64(xs []float32) []float64 {
	r := make([]float64, len(xs))
	for i, v := range xs {
		r[i] = float64(v)
	}
	return r
}

func TestReshape(t *testing.T) {
	cases := []struct {
		in, arg, want []int
	}{
		{[]int{2, 3, 4}, []int{6, 4}, []int{6, 4}},
		{[]int{2, 3, 4}, []int{-1}, []int{24}},
		{[]int{2, 3, 4}, []int{4, -1, 2}, []int{4, 3, 2}},
		{[]int{2, 3, 4}, []int{1, 2, 1, 12}, []int{1, 2, 1, 12}},
		{[]int{1}, []int{}, []int{}},
		{[]int{}, []int{1, 1}, []int{1, 1}},
		{[]int{0, 3}, []int{3, 0}, []int{3, 0}},
	}
	for _, c := range cases {
		t.Run(fmt.Sprint(c.in, c.arg), func(t *testing.T) {
			x := tensortest.Rand(1, c.in...)
			g := tensor.NewGraph()
			y := g.Reshape(x, c.arg...)
			if err := g.Err(); err != nil {
				t.Fatal(err)
			}
			if !tensor.SameShape(y.Shape(), c.want) {
				t.Fatalf("shape %v, want %v", y.Shape(), c.want)
			}
			opsClose(t, "value", y.Data, opsF64(x.Data), 0, 0)
			back := g.Reshape(y, c.in...) // round trip
			if !tensor.SameShape(back.Shape(), c.in) {
				t.Fatalf("round trip shape %v, want %v", back.Shape(), c.in)
			}
			opsClose(t, "round trip", back.Data, opsF64(x.Data), 0, 0)
			if x.Numel() == 0 {
				return
			}
			tensortest.CheckGrad(t, func(g *tensor.Graph, in []*tensor.Tensor) *tensor.Tensor {
				// Use both the view and the original so gradients must add up.
				return g.Add(g.Reshape(g.Scale(in[0], 2), c.arg...), g.Reshape(in[0], c.want...))
			}, []*tensor.Tensor{x}, tensortest.Options{Eps: 1e-3})
		})
	}
}

func TestFlatten(t *testing.T) {
	x := tensortest.Rand(2, 2, 3, 4, 5)
	g := tensor.NewGraph()
	y := g.Flatten(x)
	if !tensor.SameShape(y.Shape(), []int{2, 60}) {
		t.Fatalf("shape %v", y.Shape())
	}
	if y2 := g.Flatten(tensor.New(7)); !tensor.SameShape(y2.Shape(), []int{7, 1}) {
		t.Fatalf("rank-1 flatten shape %v", y2.Shape())
	}
	tensortest.CheckGrad(t, func(g *tensor.Graph, in []*tensor.Tensor) *tensor.Tensor {
		return g.Mul(g.Flatten(in[0]), g.Flatten(in[0]))
	}, []*tensor.Tensor{x}, tensortest.Options{Eps: 1e-3})
}

// opsTransposeRef swaps dims d0, d1 (non-negative) by explicit indexing.
func opsTransposeRef(x *tensor.Tensor, d0, d1 int) ([]int, []float64) {
	s := x.Shape()
	os := append([]int(nil), s...)
	os[d0], os[d1] = os[d1], os[d0]
	n := x.Numel()
	res := make([]float64, n)
	idx := make([]int, len(s))
	for p := range n {
		r := p
		for i := len(os) - 1; i >= 0; i-- {
			idx[i] = r % os[i]
			r /= os[i]
		}
		idx[d0], idx[d1] = idx[d1], idx[d0]
		off := 0
		for i := range s {
			off = off*s[i] + idx[i]
		}
		idx[d0], idx[d1] = idx[d1], idx[d0]
		res[p] = float64(x.Data[off])
	}
	return os, res
}

func TestTranspose(t *testing.T) {
	cases := []struct {
		shape  []int
		d0, d1 int
	}{
		{[]int{3, 4}, 0, 1}, {[]int{3, 4}, 1, 0}, {[]int{3, 4}, -1, -2},
		{[]int{2, 3, 4, 5}, 0, 3}, {[]int{2, 3, 4, 5}, 1, 2}, {[]int{2, 3, 4, 5}, 1, -1},
		{[]int{2, 3, 4, 5}, 2, 2}, {[]int{2, 1, 4}, 0, 2}, {[]int{300, 200}, 0, 1},
	}
	for _, c := range cases {
		t.Run(fmt.Sprint(c.shape, c.d0, c.d1), func(t *testing.T) {
			x := tensortest.Rand(3, c.shape...)
			a, b := c.d0, c.d1
			if a < 0 {
				a += len(c.shape)
			}
			if b < 0 {
				b += len(c.shape)
			}
			wantShape, want := opsTransposeRef(x, a, b)
			g := tensor.NewGraph()
			y := g.Transpose(x, c.d0, c.d1)
			if err := g.Err(); err != nil {
				t.Fatal(err)
			}
			if !tensor.SameShape(y.Shape(), wantShape) {
				t.Fatalf("shape %v, want %v", y.Shape(), wantShape)
			}
			opsClose(t, "value", y.Data, want, 0, 0)
			back := g.Transpose(y, c.d1, c.d0)
			if !tensor.SameShape(back.Shape(), c.shape) {
				t.Fatalf("round trip shape %v", back.Shape())
			}
			opsClose(t, "round trip", back.Data, opsF64(x.Data), 0, 0)
			tensortest.CheckGrad(t, func(g *tensor.Graph, in []*tensor.Tensor) *tensor.Tensor {
				return g.Transpose(in[0], c.d0, c.d1)
			}, []*tensor.Tensor{x}, tensortest.Options{Eps: 1e-3})
		})
	}
}

func TestConcat(t *testing.T) {
	cases := []struct {
		shapes [][]int
		axis   int
		want   []int
	}{
		{[][]int{{2, 3}, {4, 3}}, 0, []int{6, 3}},
		{[][]int{{2, 3}, {2, 1}, {2, 4}}, 1, []int{2, 8}},
		{[][]int{{2, 3, 4}, {2, 2, 4}}, -2, []int{2, 5, 4}},
		{[][]int{{2, 3, 4}, {2, 3, 1}}, -1, []int{2, 3, 5}},
		{[][]int{{5}}, 0, []int{5}},
		{[][]int{{2, 0}, {2, 3}}, 1, []int{2, 3}},
	}
	for _, c := range cases {
		t.Run(fmt.Sprint(c.shapes, c.axis), func(t *testing.T) {
			xs := make([]*tensor.Tensor, len(c.shapes))
			for i, s := range c.shapes {
				xs[i] = tensortest.Rand(uint64(20+i), s...)
			}
			g := tensor.NewGraph()
			y := g.Concat(c.axis, xs...)
			if err := g.Err(); err != nil {
				t.Fatal(err)
			}
			if !tensor.SameShape(y.Shape(), c.want) {
				t.Fatalf("shape %v, want %v", y.Shape(), c.want)
			}
			// Round trip: each input is the matching slab of the output, found by
			// index arithmetic on out viewed as [outer, total, inner].
			ax := c.axis
			if ax < 0 {
				ax += len(c.want)
			}
			outer, inner := 1, 1
			for _, d := range c.want[:ax] {
				outer *= d
			}
			for _, d := range c.want[ax+1:] {
				inner *= d
			}
			start := 0
			for i, x := range xs {
				w := x.Shape()[ax]
				got := make([]float32, 0, x.Numel())
				for o := range outer {
					base := (o*c.want[ax] + start) * inner
					got = append(got, y.Data[base:base+w*inner]...)
				}
				opsClose(t, fmt.Sprint("slab ", i), got, opsF64(x.Data), 0, 0)
				start += w
			}
			tensortest.CheckGrad(t, func(g *tensor.Graph, in []*tensor.Tensor) *tensor.Tensor {
				return g.Concat(c.axis, in...)
			}, xs, tensortest.Options{Eps: 1e-3})
		})
	}
}

func TestShapeErrors(t *testing.T) {
	x := tensor.New(2, 3, 4)
	for _, c := range []struct {
		name string
		f    func(g *tensor.Graph) *tensor.Tensor
		frag []string
	}{
		{"reshape size", func(g *tensor.Graph) *tensor.Tensor { return g.Reshape(x, 5, 5) }, []string{"reshape", "[2 3 4]", "[5 5]"}},
		{"reshape two -1", func(g *tensor.Graph) *tensor.Tensor { return g.Reshape(x, -1, -1) }, []string{"reshape", "[2 3 4]", "-1"}},
		{"reshape infer", func(g *tensor.Graph) *tensor.Tensor { return g.Reshape(x, 5, -1) }, []string{"reshape", "[2 3 4]"}},
		{"reshape negative", func(g *tensor.Graph) *tensor.Tensor { return g.Reshape(x, -2, -12) }, []string{"reshape", "negative"}},
		{"reshape zero infer", func(g *tensor.Graph) *tensor.Tensor { return g.Reshape(tensor.New(0, 3), 0, -1) }, []string{"reshape", "[0 3]"}},
		{"flatten rank 0", func(g *tensor.Graph) *tensor.Tensor { return g.Flatten(tensor.New()) }, []string{"flatten", "[]"}},
		{"transpose range", func(g *tensor.Graph) *tensor.Tensor { return g.Transpose(x, 0, 3) }, []string{"transpose", "[2 3 4]", "out of range"}},
		{"transpose negative", func(g *tensor.Graph) *tensor.Tensor { return g.Transpose(x, -4, 0) }, []string{"transpose", "[2 3 4]"}},
		{"concat dims", func(g *tensor.Graph) *tensor.Tensor { return g.Concat(0, x, tensor.New(2, 4, 4)) }, []string{"concat", "[2 3 4]", "[2 4 4]"}},
		{"concat rank", func(g *tensor.Graph) *tensor.Tensor { return g.Concat(0, x, tensor.New(2, 3)) }, []string{"concat", "[2 3 4]", "[2 3]", "rank"}},
		{"concat axis", func(g *tensor.Graph) *tensor.Tensor { return g.Concat(3, x, x) }, []string{"concat", "[2 3 4]", "axis 3"}},
		{"concat rank 0", func(g *tensor.Graph) *tensor.Tensor { return g.Concat(0, tensor.New(), tensor.New()) }, []string{"concat", "[]"}},
		{"concat empty", func(g *tensor.Graph) *tensor.Tensor { return g.Concat(0) }, []string{"concat", "no inputs"}},
		{"concat nil", func(g *tensor.Graph) *tensor.Tensor { return g.Concat(0, x, nil) }, []string{"concat", "nil"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			g := tensor.NewGraph()
			opsWantErr(t, g, c.f(g), c.frag...)
		})
	}
}

func TestNarrow(t *testing.T) {
	cases := []struct {
		shape               []int
		axis, start, length int
	}{
		{[]int{3, 5, 4}, 1, 0, 1}, // a ViT's class token
		{[]int{2, 3, 7}, -1, 2, 3},
		{[]int{4, 6}, 0, 1, 2},
		{[]int{2, 3}, 1, 3, 0}, // empty slice at the end
		{[]int{5}, 0, 0, 5},    // the whole tensor
	}
	for _, c := range cases {
		t.Run(fmt.Sprint(c), func(t *testing.T) {
			x := tensortest.Rand(3, c.shape...)
			g := tensor.NewGraph()
			y := g.Narrow(x, c.axis, c.start, c.length)
			if err := g.Err(); err != nil {
				t.Fatal(err)
			}
			ax := c.axis
			if ax < 0 {
				ax += len(c.shape)
			}
			want := append([]int(nil), c.shape...)
			want[ax] = c.length
			if !tensor.SameShape(y.Shape(), want) {
				t.Fatalf("shape %v, want %v", y.Shape(), want)
			}
			// Every output element is x at the same index shifted by start on ax.
			inner := 1
			for _, d := range c.shape[ax+1:] {
				inner *= d
			}
			for i, v := range y.Data {
				o, r := i/(c.length*inner), i%(c.length*inner)
				src := o*c.shape[ax]*inner + c.start*inner + r
				if v != x.Data[src] {
					t.Fatalf("element %d = %g, want x[%d] = %g", i, v, src, x.Data[src])
				}
			}
			if y.Numel() == 0 {
				return
			}
			tensortest.CheckGrad(t, func(g *tensor.Graph, in []*tensor.Tensor) *tensor.Tensor {
				return g.Narrow(in[0], c.axis, c.start, c.length)
			}, []*tensor.Tensor{x}, tensortest.Options{})
		})
	}
}

func TestNarrowErrors(t *testing.T) {
	x := tensor.New(2, 3)
	for _, c := range []struct {
		axis, start, length int
		frag                string
	}{{2, 0, 1, "axis 2"}, {1, 2, 2, "[2, 4)"}, {1, -1, 1, "out of range"}, {0, 0, -1, "out of range"}} {
		g := tensor.NewGraph()
		opsWantErr(t, g, g.Narrow(x, c.axis, c.start, c.length), "narrow", c.frag)
	}
}
