package tensor_test

import (
	"fmt"
	"math"
	"testing"

	"github.com/siam-ssl/siam/tensor"
	"github.com/siam-ssl/siam/tensor/tensortest"
)

func TestSumMean(t *testing.T) {
	for _, shape := range [][]int{{}, {1}, {7}, {2, 3, 4}, {300, 257}} {
		t.Run(fmt.Sprint(shape), func(t *testing.T) {
			x := tensortest.Rand(5, shape...)
			var want float64
			for _, v := range x.Data {
				want += float64(v)
			}
			g := tensor.NewGraph()
			s, m := g.Sum(x), g.Mean(x)
			if s.Rank() != 0 || m.Rank() != 0 || s.Numel() != 1 {
				t.Fatalf("shapes %v %v, want rank 0", s.Shape(), m.Shape())
			}
			opsClose(t, "sum", s.Data, []float64{want}, 1e-5, 1e-6)
			opsClose(t, "mean", m.Data, []float64{want / float64(x.Numel())}, 1e-6, 1e-6)
			if x.Numel() > 1000 {
				return
			}
			tensortest.CheckGrad(t, func(g *tensor.Graph, in []*tensor.Tensor) *tensor.Tensor {
				return g.Add(g.Sum(in[0]), g.Scale(g.Mean(in[0]), 3))
			}, []*tensor.Tensor{x}, tensortest.Options{Eps: 1e-3})
		})
	}
	// A rank-0 result is a valid loss.
	x := tensortest.Rand(6, 2, 3)
	g := tensor.NewGraph()
	if err := g.Backward(g.Mean(g.Mul(x, x))); err != nil {
		t.Fatal(err)
	}
	for i, v := range x.Grad {
		if d := v - x.Data[i]/3; d > 1e-6 || d < -1e-6 {
			t.Fatalf("grad %d = %v, want %v", i, v, x.Data[i]/3)
		}
	}
}

// opsSumAxisRef reduces x over axis in float64 (mean when mean).
func opsSumAxisRef(x *tensor.Tensor, axis int, mean bool) []float64 {
	s := x.Shape()
	outer, d, inner := 1, s[axis], 1
	for _, v := range s[:axis] {
		outer *= v
	}
	for _, v := range s[axis+1:] {
		inner *= v
	}
	res := make([]float64, outer*inner)
	for o := range outer {
		for k := range d {
			for c := range inner {
				res[o*inner+c] += float64(x.Data[(o*d+k)*inner+c])
			}
		}
	}
	if mean {
		for i := range res {
			res[i] /= float64(d)
		}
	}
	return res
}

func TestSumMeanAxis(t *testing.T) {
	cases := []struct {
		shape []int
		axis  int
	}{
		{[]int{2, 3, 4}, 0}, {[]int{2, 3, 4}, 1}, {[]int{2, 3, 4}, 2}, {[]int{2, 3, 4}, -1},
		{[]int{2, 3, 4}, -3}, {[]int{5}, 0}, {[]int{4, 1}, 1}, {[]int{3, 0, 2}, 1},
		{[]int{512, 300}, 0}, {[]int{300, 512}, 1}, {[]int{4, 64, 16, 16}, 1},
	}
	for _, c := range cases {
		for _, keep := range []bool{false, true} {
			for _, mean := range []bool{false, true} {
				t.Run(fmt.Sprint(c.shape, c.axis, keep, mean), func(t *testing.T) {
					x := tensortest.Rand(7, c.shape...)
					ax := c.axis
					if ax < 0 {
						ax += len(c.shape)
					}
					wantShape := append([]int(nil), c.shape...)
					if keep {
						wantShape[ax] = 1
					} else {
						wantShape = append(wantShape[:ax], wantShape[ax+1:]...)
					}
					op := func(g *tensor.Graph, in []*tensor.Tensor) *tensor.Tensor {
						if mean {
							return g.MeanAxis(in[0], c.axis, keep)
						}
						return g.SumAxis(in[0], c.axis, keep)
					}
					g := tensor.NewGraph()
					y := op(g, []*tensor.Tensor{x})
					if err := g.Err(); err != nil {
						t.Fatal(err)
					}
					if !tensor.SameShape(y.Shape(), wantShape) {
						t.Fatalf("shape %v, want %v", y.Shape(), wantShape)
					}
					want := opsSumAxisRef(x, ax, mean)
					if c.shape[ax] == 0 && mean {
						for i := range want {
							want[i] = math.NaN()
						}
					}
					opsClose(t, "value", y.Data, want, 1e-5, 1e-5)
					if x.Numel() == 0 || x.Numel() > 1000 {
						return
					}
					tensortest.CheckGrad(t, op, []*tensor.Tensor{x}, tensortest.Options{Eps: 1e-3})
				})
			}
		}
	}
}

// TestSumAxisLargeGrad checks the parallel backward of a reduction over the batch.
func TestSumAxisLargeGrad(t *testing.T) {
	x := tensortest.Rand(8, 512, 300)
	g := tensor.NewGraph()
	y := g.MeanAxis(x, 0, true)
	seed := make([]float32, y.Numel())
	for i := range seed {
		seed[i] = float32(i%5) - 2
	}
	if err := g.BackwardWith(y, seed); err != nil {
		t.Fatal(err)
	}
	want := make([]float64, x.Numel())
	for i := range want {
		want[i] = float64(seed[i%300]) / 512
	}
	opsClose(t, "grad", x.Grad, want, 1e-7, 1e-6)
}

func TestReduceErrors(t *testing.T) {
	g := tensor.NewGraph()
	opsWantErr(t, g, g.SumAxis(tensor.New(2, 3, 4), 3, false), "sum_axis", "[2 3 4]", "axis 3")
	g = tensor.NewGraph()
	opsWantErr(t, g, g.MeanAxis(tensor.New(2, 3, 4), -4, true), "mean_axis", "[2 3 4]", "axis -4")
	g = tensor.NewGraph()
	opsWantErr(t, g, g.SumAxis(tensor.New(), 0, false), "sum_axis", "[]")
	g = tensor.NewGraph()
	opsWantErr(t, g, g.Sum(nil), "sum")
	g = tensor.NewGraph()
	opsWantErr(t, g, g.Mean(nil), "mean")
}
