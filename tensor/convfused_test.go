package tensor_test

import (
	"fmt"
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

// TestConvBNAddReLUEvalIsTheComposition checks the residual-fused inference op bit
// for bit against ConvBNReLUEval (no ReLU) followed by AddReLU, the path it
// replaces, through every forward lowering (column matrix, shifted views, implicit
// panels, grouped images, widened 14x14/7x7 rows, strided), and against a float64
// reference.
func TestConvBNAddReLUEvalIsTheComposition(t *testing.T) {
	type knobs struct{ implicit, shift, wide, target int }
	cases := []convCase{
		{2, 16, 32, 32, 16, 3, 3, 1, 1, false}, // 32x32 layer of W16
		{3, 8, 4, 4, 6, 3, 3, 1, 1, false},     // grouped small images
		{2, 32, 14, 14, 32, 3, 3, 1, 1, false}, // widened rows
		{2, 16, 7, 7, 24, 3, 3, 1, 1, false},
		{2, 16, 8, 8, 32, 3, 3, 2, 1, false}, // strided 3x3
		{3, 16, 8, 8, 32, 1, 1, 2, 0, false}, // downsample shortcut
		{2, 32, 8, 8, 16, 1, 1, 1, 0, false}, // 1x1 (bottleneck)
	}
	for _, kn := range []knobs{{1, 1, 1, 0}, {0, 1, 1, 0}, {0, 2, 1, 0}, {0, 0, 1, 0}, {1, 1, 0, 0}, {1, 1, 1, 1 << 20}, {0, 0, 1, 1 << 20}} {
		prevI, prevS, prevW := tensor.SetConvImplicit(kn.implicit), tensor.SetConvShift(kn.shift), tensor.SetConvWideFwd(kn.wide)
		prevT := 0
		if kn.target != 0 {
			prevT = tensor.SetConvTargetCols(kn.target)
		}
		for _, cc := range cases {
			for _, affine := range []bool{true, false} {
				x := tensortest.Rand(31, cc.n, cc.c, cc.h, cc.w)
				w := tensor.NewParam("w", cc.k, cc.c, cc.r, cc.s)
				copy(w.Data, tensortest.Rand(32, len(w.Data)).Data)
				bn := newEvalBN(cc.k, affine)
				o := tensor.ConvOpts{Stride: cc.stride, Pad: cc.pad}
				ho, wo := (cc.h+2*cc.pad-cc.r)/cc.stride+1, (cc.w+2*cc.pad-cc.s)/cc.stride+1
				res := tensortest.Rand(33, cc.n, cc.k, ho, wo)
				g := tensor.NewGraph()
				g.SetNoGrad(true)
				fused := g.ConvBNAddReLUEval(x, w, o, bn, res)
				plain := g.ConvBNReLUEval(x, w, o, bn, false)
				want := g.AddReLU(plain, res)
				withReLU, wantReLU := g.ConvBNReLUEval(x, w, o, bn, true), g.ReLU(plain)
				if err := g.Err(); err != nil {
					t.Fatal(err)
				}
				name := fmt.Sprintf("%v affine=%v knobs=%+v", cc, affine, kn)
				for i := range wantReLU.Data {
					if withReLU.Data[i] != wantReLU.Data[i] {
						t.Fatalf("%s: ConvBNReLUEval element %d is %g, ReLU after it gives %g", name, i, withReLU.Data[i], wantReLU.Data[i])
					}
				}
				for i := range want.Data {
					if math.Float32bits(fused.Data[i]) != math.Float32bits(want.Data[i]) {
						t.Fatalf("%s: element %d is %g, the composition gives %g", name, i, fused.Data[i], want.Data[i])
					}
				}
				ref, _, _, _ := refConv(cc, x.Data, w.Data, nil, make([]float32, fused.Numel()))
				p := ho * wo
				for i := range ref {
					k := i / p % cc.k
					v := (ref[i] - float64(bn.RunningMean.Data[k])) / math.Sqrt(float64(bn.RunningVar.Data[k])+float64(bn.Eps))
					if affine {
						v = v*float64(bn.Weight.Data[k]) + float64(bn.Bias.Data[k])
					}
					ref[i] = math.Max(v+float64(res.Data[i]), 0)
				}
				closeTo(t, name, fused.Data, ref, 1e-5)
			}
		}
		tensor.SetConvImplicit(prevI)
		tensor.SetConvShift(prevS)
		tensor.SetConvWideFwd(prevW)
		if kn.target != 0 {
			tensor.SetConvTargetCols(prevT)
		}
	}
}

func TestConvBNAddReLUEvalErrors(t *testing.T) {
	x := tensortest.Rand(1, 1, 3, 6, 6)
	w := tensor.New(4, 3, 3, 3)
	o := tensor.ConvOpts{Stride: 1, Pad: 1}
	for _, c := range []struct {
		res  *tensor.Tensor
		want string
	}{
		{nil, "residual required"},
		{tensor.New(1, 4, 6, 5), "residual shape [1 4 6 5]"},
		{tensor.NewParam("r", 1, 4, 6, 6), ""},
	} {
		g := tensor.NewGraph()
		g.SetNoGrad(c.want != "")
		g.ConvBNAddReLUEval(x, w, o, newEvalBN(4, true), c.res)
		want := c.want
		if want == "" {
			want = "requires grad"
		}
		if g.Err() == nil || !strings.Contains(g.Err().Error(), want) {
			t.Fatalf("want an error containing %q, got %v", want, g.Err())
		}
	}
}
