package tensor_test

import (
	"strings"
	"testing"

	"github.com/siam-ssl/siam/tensor"
	"github.com/siam-ssl/siam/tensor/tensortest"
)

// awayFromZero moves values within d of 0 to 0.5 so finite differences stay on one
// side of the ReLU kink.
func awayFromZero(x *tensor.Tensor, d float32) *tensor.Tensor {
	for i, v := range x.Data {
		if v > -d && v < d {
			x.Data[i] = 0.5
		}
	}
	return x
}

func TestAddReLU(t *testing.T) {
	for _, shape := range [][]int{{7}, {3, 5}, {2, 3, 4, 5}, {1, 70001}} {
		a, b := tensortest.Rand(1, shape...), tensortest.Rand(2, shape...)
		g := tensor.NewGraph()
		y := g.AddReLU(a, b)
		if err := g.Err(); err != nil {
			t.Fatal(err)
		}
		want := make([]float64, len(a.Data))
		for i := range want {
			want[i] = max(float64(a.Data[i]+b.Data[i]), 0)
		}
		bnClose(t, "add_relu", y.Data, want, 0, 0)
	}
}

func TestAddReLUGrad(t *testing.T) {
	a, b := tensortest.Rand(3, 4, 3, 5), tensortest.Rand(4, 4, 3, 5)
	for i := range a.Data { // keep a+b clear of the kink
		if s := a.Data[i] + b.Data[i]; s > -0.05 && s < 0.05 {
			a.Data[i] += 0.5
		}
	}
	f := func(g *tensor.Graph, in []*tensor.Tensor) *tensor.Tensor { return g.AddReLU(in[0], in[1]) }
	tensortest.CheckGrad(t, f, []*tensor.Tensor{a, b}, tensortest.Options{Eps: 1e-3})
	// One input only requires a gradient.
	b.SetRequiresGrad(false)
	tensortest.CheckGrad(t, f, []*tensor.Tensor{a, b}, tensortest.Options{Eps: 1e-3})
	// The same tensor on both sides: the second gradient accumulates onto the first.
	x := awayFromZero(tensortest.Rand(5, 3, 8), 0.05)
	tensortest.CheckGrad(t, func(g *tensor.Graph, in []*tensor.Tensor) *tensor.Tensor {
		return g.AddReLU(in[0], in[0])
	}, []*tensor.Tensor{x}, tensortest.Options{Eps: 1e-3})
}

func TestAddReLUShapeError(t *testing.T) {
	g := tensor.NewGraph()
	y := g.AddReLU(tensortest.Rand(1, 2, 3), tensortest.Rand(1, 3, 2))
	if err := g.Err(); err == nil || y.Numel() != 0 || !strings.Contains(err.Error(), "add_relu: shapes [2 3], [3 2]") {
		t.Fatalf("want an add_relu shape error, got %v", err)
	}
}

// ReLU's backward overwrites a fresh gradient buffer and accumulates into one that
// exists: x feeding two ReLUs exercises both.
func TestReLUGradAccumulates(t *testing.T) {
	x := awayFromZero(tensortest.Rand(6, 5, 7), 0.05)
	tensortest.CheckGrad(t, func(g *tensor.Graph, in []*tensor.Tensor) *tensor.Tensor {
		return g.AddReLU(g.ReLU(in[0]), g.ReLU(in[0]))
	}, []*tensor.Tensor{x}, tensortest.Options{Eps: 1e-3})
}

func TestReLUValues(t *testing.T) {
	x := tensortest.Rand(7, 1001)
	x.Data[0], x.Data[1] = 0, float32(-0.0)
	g := tensor.NewGraph()
	y := g.ReLU(x)
	for i, v := range x.Data {
		if want := max(v, 0); y.Data[i] != want {
			t.Fatalf("relu(%v) = %v, want %v", v, y.Data[i], want)
		}
	}
}
