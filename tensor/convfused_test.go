package tensor_test

import (
	"math"
	"strings"
	"testing"

	"github.com/siam-ssl/siam/tensor"
	"github.com/siam-ssl/siam/tensor/tensortest"
)

func newEvalBN(k int, affine bool) *tensor.BatchNorm {
	bn := &tensor.BatchNorm{
		RunningMean: tensortest.Rand(21, k),
		RunningVar:  tensor.New(k),
		Eps:         1e-5,
		Momentum:    0.1,
	}
	for i, v := range tensortest.Rand(22, k).Data {
		bn.RunningVar.Data[i] = 0.5 + v*v
	}
	if affine {
		bn.Weight = tensor.NewParam("bn.weight", k)
		bn.Bias = tensor.NewParam("bn.bias", k)
		copy(bn.Weight.Data, tensortest.Rand(23, k).Data)
		copy(bn.Bias.Data, tensortest.Rand(24, k).Data)
	}
	return bn
}

func TestConvBNReLUEval(t *testing.T) {
	for _, cc := range []convCase{
		{2, 3, 8, 8, 4, 3, 3, 1, 1, false},
		{3, 4, 4, 4, 5, 1, 1, 2, 0, false},
		{2, 8, 4, 4, 6, 3, 3, 1, 1, false}, // grouped GEMMs
	} {
		for _, affine := range []bool{true, false} {
			for _, relu := range []bool{true, false} {
				x := tensortest.Rand(11, cc.n, cc.c, cc.h, cc.w)
				w := tensor.NewParam("w", cc.k, cc.c, cc.r, cc.s)
				copy(w.Data, tensortest.Rand(12, len(w.Data)).Data)
				bn := newEvalBN(cc.k, affine)
				g := tensor.NewGraph()
				g.SetNoGrad(true)
				o := tensor.ConvOpts{Stride: cc.stride, Pad: cc.pad}
				out := g.ConvBNReLUEval(x, w, o, bn, relu)
				if err := g.Err(); err != nil {
					t.Fatal(err)
				}
				ref, _, _, _ := refConv(cc, x.Data, w.Data, nil, make([]float32, out.Numel()))
				p := out.Numel() / (cc.n * cc.k)
				for i := range ref {
					k := i / p % cc.k
					v := (ref[i] - float64(bn.RunningMean.Data[k])) / math.Sqrt(float64(bn.RunningVar.Data[k])+float64(bn.Eps))
					if affine {
						v = v*float64(bn.Weight.Data[k]) + float64(bn.Bias.Data[k])
					}
					if relu {
						v = math.Max(v, 0)
					}
					ref[i] = v
				}
				closeTo(t, "out", out.Data, ref, 1e-5)
			}
		}
	}
}

func TestConvBNReLUEvalErrors(t *testing.T) {
	x := tensortest.Rand(1, 1, 3, 6, 6)
	w := tensor.NewParam("w", 4, 3, 3, 3)
	g := tensor.NewGraph() // recording, and w requires grad
	g.ConvBNReLUEval(x, w, tensor.ConvOpts{Stride: 1, Pad: 1}, newEvalBN(4, true), true)
	if g.Err() == nil || !strings.Contains(g.Err().Error(), "requires grad") {
		t.Fatalf("want a recording error, got %v", g.Err())
	}
	g = tensor.NewGraph()
	g.SetNoGrad(true)
	g.ConvBNReLUEval(x, w, tensor.ConvOpts{Stride: 1, Pad: 1}, newEvalBN(5, true), true)
	if g.Err() == nil || !strings.Contains(g.Err().Error(), "output channels") {
		t.Fatalf("want a channel error, got %v", g.Err())
	}
	g = tensor.NewGraph()
	g.SetNoGrad(true)
	g.ConvBNReLUEval(x, tensor.New(4, 2, 3, 3), tensor.ConvOpts{Stride: 1, Pad: 1}, newEvalBN(4, true), true)
	if g.Err() == nil || !strings.Contains(g.Err().Error(), "[4 2 3 3]") {
		t.Fatalf("want a shape error, got %v", g.Err())
	}
}
