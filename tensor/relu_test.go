package tensor_test

import (
	"testing"

	"github.com/siam-ssl/siam/tensor"
	"github.com/siam-ssl/siam/tensor/tensortest"
)

func TestReLUGrad(t *testing.T) {
	x := tensortest.Rand(3, 4, 5)
	for i, v := range x.Data { // keep clear of the kink so differences are smooth
		if v > -0.05 && v < 0.05 {
			x.Data[i] = 0.5
		}
	}
	tensortest.CheckGrad(t, func(g *tensor.Graph, in []*tensor.Tensor) *tensor.Tensor {
		return g.ReLU(in[0])
	}, []*tensor.Tensor{x}, tensortest.Options{Eps: 1e-3})
}

func TestStickyError(t *testing.T) {
	g := tensor.NewGraph()
	x := g.Input(make([]float32, 5), 2, 3)
	y := g.ReLU(x)
	if g.Err() == nil || y.Numel() != 0 {
		t.Fatalf("want a recorded error and a dead tensor, got %v %v", g.Err(), y)
	}
	if err := g.Backward(y); err == nil {
		t.Fatal("Backward must report the recorded error")
	}
}
