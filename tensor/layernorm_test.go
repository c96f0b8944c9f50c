package tensor_test

import (
	"math"
	"strings"
	"testing"

	"github.com/siam-ssl/siam/tensor"
	"github.com/siam-ssl/siam/tensor/tensortest"
)

func lnRef(x []float32, d int, w, b []float32, eps float64) []float64 {
	out := make([]float64, len(x))
	for r := 0; r < len(x)/d; r++ {
		row := x[r*d : (r+1)*d]
		var m, v float64
		for _, e := range row {
			m += float64(e)
		}
		m /= float64(d)
		for _, e := range row {
			v += (float64(e) - m) * (float64(e) - m)
		}
		v /= float64(d)
		for j, e := range row {
			y := (float64(e) - m) / math.Sqrt(v+eps)
			if w != nil {
				y *= float64(w[j])
			}
			if b != nil {
				y += float64(b[j])
			}
			out[r*d+j] = y
		}
	}
	return out
}

func TestLayerNormForward(t *testing.T) {
	for _, shape := range [][]int{{5}, {3, 8}, {2, 3, 17}, {64, 300}} {
		for _, affine := range []bool{true, false} {
			d := shape[len(shape)-1]
			x := tensortest.Rand(1, shape...)
			for i := range x.Data {
				x.Data[i] = 3*x.Data[i] + 2
			}
			var w, b *tensor.Tensor
			var wd, bd []float32
			if affine {
				w, b = tensortest.Rand(2, d), tensortest.Rand(3, d)
				wd, bd = w.Data, b.Data
			}
			g := tensor.NewGraph()
			y := g.LayerNorm(x, w, b, 1e-5)
			if err := g.Err(); err != nil {
				t.Fatal(err)
			}
			bnClose(t, "layernorm", y.Data, lnRef(x.Data, d, wd, bd, 1e-5), 1e-5, 1e-5)
		}
	}
}

func TestLayerNormGrad(t *testing.T) {
	for _, shape := range [][]int{{6}, {4, 7}, {2, 3, 5}, {40, 300}} {
		d := shape[len(shape)-1]
		x := tensortest.Rand(4, shape...)
		w, b := tensortest.Rand(5, d), tensortest.Rand(6, d)
		o := tensortest.Options{Eps: 1e-3, ATol: 3e-3}
		tensortest.CheckGrad(t, func(g *tensor.Graph, in []*tensor.Tensor) *tensor.Tensor {
			return g.LayerNorm(in[0], in[1], in[2], 1e-5)
		}, []*tensor.Tensor{x, w, b}, o)
		tensortest.CheckGrad(t, func(g *tensor.Graph, in []*tensor.Tensor) *tensor.Tensor {
			return g.LayerNorm(in[0], nil, nil, 1e-5)
		}, []*tensor.Tensor{x}, o)
		// x used twice: the second backward accumulates.
		tensortest.CheckGrad(t, func(g *tensor.Graph, in []*tensor.Tensor) *tensor.Tensor {
			return g.AddReLU(g.LayerNorm(in[0], in[1], nil, 1e-5), g.LayerNorm(in[0], nil, in[2], 1e-5))
		}, []*tensor.Tensor{x, w, b}, o)
	}
}

func TestLayerNormErrors(t *testing.T) {
	g := tensor.NewGraph()
	g.LayerNorm(tensortest.Rand(1, 4, 6), tensor.New(5), nil, 1e-5)
	if err := g.Err(); err == nil || !strings.Contains(err.Error(), "layernorm: shapes [4 6], [5]") {
		t.Fatalf("weight mismatch: got %v", err)
	}
	g = tensor.NewGraph()
	g.LayerNorm(tensortest.Rand(1, 4, 6), nil, tensor.New(6, 1), 1e-5)
	if err := g.Err(); err == nil || !strings.Contains(err.Error(), "bias") {
		t.Fatalf("bias mismatch: got %v", err)
	}
}

func TestGELU(t *testing.T) {
	x := tensor.New(7)
	copy(x.Data, []float32{-3, -1, -0.5, 0, 0.5, 1, 3})
	// x * Phi(x), Phi from the float64 erf.
	want := make([]float64, len(x.Data))
	for i, v := range x.Data {
		want[i] = float64(v) * 0.5 * (1 + math.Erf(float64(v)/math.Sqrt2))
	}
	if math.Abs(want[5]-0.8413447460685429) > 1e-12 {
		t.Fatalf("reference GELU(1) = %v", want[5])
	}
	g := tensor.NewGraph()
	y := g.GELU(x)
	if err := g.Err(); err != nil {
		t.Fatal(err)
	}
	// float32 erf leaves ~2e-7 absolute error in 1+erf(x/sqrt 2) for negative x,
	// which x/2 carries into GELU: PyTorch's own float32 GELU is off by 1.7e-7 at
	// x = -3 (and by up to 3.7e-7 on [-9, 9]); kernels.GELU by 1.8e-7.
	bnClose(t, "gelu", y.Data, want, 2.5e-7, 1e-6)
}

func TestGELUGrad(t *testing.T) {
	x := tensortest.Rand(8, 3, 50)
	tensortest.CheckGrad(t, func(g *tensor.Graph, in []*tensor.Tensor) *tensor.Tensor {
		return g.GELU(in[0])
	}, []*tensor.Tensor{x}, tensortest.Options{Eps: 1e-3, MaxChecks: 150})
	tensortest.CheckGrad(t, func(g *tensor.Graph, in []*tensor.Tensor) *tensor.Tensor {
		return g.AddReLU(g.GELU(in[0]), g.GELU(in[0]))
	}, []*tensor.Tensor{x}, tensortest.Options{Eps: 1e-3, MaxChecks: 150})
}
