package tensor_test

import (
	"fmt"
	"math"
	"testing"

	"github.com/siam-ssl/siam/tensor"
	"github.com/siam-ssl/siam/tensor/tensortest"
)

// opsSoftmaxRef returns softmax and log-softmax of rows of length d in float64.
func opsSoftmaxRef(x []float32, d int) (sm, lsm []float64) {
	sm, lsm = make([]float64, len(x)), make([]float64, len(x))
	for r := 0; r < len(x); r += d {
		m := math.Inf(-1)
		for _, v := range x[r : r+d] {
			m = math.Max(m, float64(v))
		}
		var s float64
		for _, v := range x[r : r+d] {
			s += math.Exp(float64(v) - m)
		}
		for i, v := range x[r : r+d] {
			lsm[r+i] = float64(v) - m - math.Log(s)
			sm[r+i] = math.Exp(lsm[r+i])
		}
	}
	return sm, lsm
}

func TestSoftmax(t *testing.T) {
	for _, shape := range [][]int{{5}, {3, 4}, {2, 3, 7}, {1, 1}, {600, 100}} {
		t.Run(fmt.Sprint(shape), func(t *testing.T) {
			x := tensortest.Rand(1, shape...)
			for i := range x.Data {
				x.Data[i] *= 3
			}
			d := shape[len(shape)-1]
			sm, lsm := opsSoftmaxRef(x.Data, d)
			g := tensor.NewGraph()
			y, ly := g.Softmax(x), g.LogSoftmax(x)
			if !tensor.SameShape(y.Shape(), shape) || !tensor.SameShape(ly.Shape(), shape) {
				t.Fatalf("shapes %v %v", y.Shape(), ly.Shape())
			}
			opsClose(t, "softmax", y.Data, sm, 1e-7, 1e-6)
			opsClose(t, "log_softmax", ly.Data, lsm, 1e-6, 1e-6)
			if x.Numel() > 1000 {
				return
			}
			for _, log := range []bool{false, true} {
				tensortest.CheckGrad(t, func(g *tensor.Graph, in []*tensor.Tensor) *tensor.Tensor {
					if log {
						return g.LogSoftmax(in[0])
					}
					return g.Softmax(in[0])
				}, []*tensor.Tensor{x}, tensortest.Options{Eps: 1e-3})
			}
		})
	}
}

// TestSoftmaxStable feeds logits that overflow a naive exp.
func TestSoftmaxStable(t *testing.T) {
	g := tensor.NewGraph()
	x := g.Input([]float32{1000, 1001, 999, -1000, -1001, -1000}, 2, 3)
	sm, lsm := opsSoftmaxRef(x.Data, 3)
	opsClose(t, "softmax", g.Softmax(x).Data, sm, 1e-7, 1e-6)
	opsClose(t, "log_softmax", g.LogSoftmax(x).Data, lsm, 1e-5, 1e-6)
}

func TestSoftmaxErrors(t *testing.T) {
	g := tensor.NewGraph()
	opsWantErr(t, g, g.Softmax(tensor.New()), "softmax", "[]", "rank")
	g = tensor.NewGraph()
	opsWantErr(t, g, g.LogSoftmax(tensor.New()), "log_softmax", "[]")
	g = tensor.NewGraph()
	opsWantErr(t, g, g.Softmax(nil), "softmax", "nil")
}
