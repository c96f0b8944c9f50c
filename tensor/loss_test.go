package tensor_test

import (
	"fmt"
	"math"
	"testing"

	"github.com/siam-ssl/siam/tensor"
	"github.com/siam-ssl/siam/tensor/tensortest"
)

func TestCrossEntropy(t *testing.T) {
	for _, c := range []struct {
		n, k int
	}{{1, 1}, {4, 3}, {8, 10}, {300, 200}} {
		t.Run(fmt.Sprint(c.n, c.k), func(t *testing.T) {
			x := tensortest.Rand(2, c.n, c.k)
			labels := make([]int, c.n)
			for i := range labels {
				labels[i] = (i * 7) % c.k
			}
			_, lsm := opsSoftmaxRef(x.Data, c.k)
			var want float64
			for i, l := range labels {
				want -= lsm[i*c.k+l]
			}
			want /= float64(c.n)
			g := tensor.NewGraph()
			y := g.CrossEntropy(x, labels)
			if err := g.Err(); err != nil {
				t.Fatal(err)
			}
			if y.Rank() != 0 {
				t.Fatalf("shape %v, want []", y.Shape())
			}
			opsClose(t, "loss", y.Data, []float64{want}, 1e-6, 1e-6)
			// Same value without recording.
			g2 := tensor.NewGraph()
			g2.SetNoGrad(true)
			opsClose(t, "no-grad loss", g2.CrossEntropy(x, labels).Data, []float64{want}, 1e-6, 1e-6)
			if x.Numel() > 1000 {
				return
			}
			tensortest.CheckGrad(t, func(g *tensor.Graph, in []*tensor.Tensor) *tensor.Tensor {
				return g.CrossEntropy(in[0], labels)
			}, []*tensor.Tensor{x}, tensortest.Options{Eps: 1e-3})
		})
	}
}

// TestCrossEntropyGradExact compares (softmax - onehot)/N with the seed scaling.
func TestCrossEntropyGradExact(t *testing.T) {
	x := tensortest.Rand(3, 5, 4)
	labels := []int{0, 3, 1, 1, 2}
	g := tensor.NewGraph()
	y := g.CrossEntropy(x, labels)
	if err := g.BackwardWith(y, []float32{2}); err != nil {
		t.Fatal(err)
	}
	sm, _ := opsSoftmaxRef(x.Data, 4)
	for i, l := range labels {
		sm[i*4+l]--
	}
	for i := range sm {
		sm[i] *= 2.0 / 5
	}
	opsClose(t, "grad", x.Grad, sm, 1e-7, 1e-6)
}

func TestMSE(t *testing.T) {
	for _, shape := range [][]int{{1}, {3, 4}, {2, 3, 5}, {300, 300}} {
		t.Run(fmt.Sprint(shape), func(t *testing.T) {
			a, b := tensortest.Rand(4, shape...), tensortest.Rand(5, shape...)
			var want float64
			for i := range a.Data {
				d := float64(a.Data[i]) - float64(b.Data[i])
				want += d * d
			}
			want /= float64(a.Numel())
			g := tensor.NewGraph()
			y := g.MSE(a, b)
			if y.Rank() != 0 {
				t.Fatalf("shape %v, want []", y.Shape())
			}
			opsClose(t, "loss", y.Data, []float64{want}, 1e-6, 1e-6)
			if a.Numel() > 1000 {
				return
			}
			tensortest.CheckGrad(t, func(g *tensor.Graph, in []*tensor.Tensor) *tensor.Tensor {
				return g.MSE(in[0], in[1])
			}, []*tensor.Tensor{a, b}, tensortest.Options{Eps: 1e-3})
		})
	}
	g := tensor.NewGraph()
	if v := g.MSE(tensor.New(0), tensor.New(0)).Item(); !math.IsNaN(float64(v)) {
		t.Fatalf("MSE of empty tensors = %v, want NaN", v)
	}
}

func TestLossErrors(t *testing.T) {
	x := tensor.New(3, 4)
	for _, c := range []struct {
		name string
		f    func(g *tensor.Graph) *tensor.Tensor
		frag []string
	}{
		{"label high", func(g *tensor.Graph) *tensor.Tensor { return g.CrossEntropy(x, []int{0, 4, 1}) }, []string{"cross_entropy", "[3 4]", "label 4", "out of range"}},
		{"label negative", func(g *tensor.Graph) *tensor.Tensor { return g.CrossEntropy(x, []int{0, 1, -1}) }, []string{"cross_entropy", "[3 4]", "label -1"}},
		{"label count", func(g *tensor.Graph) *tensor.Tensor { return g.CrossEntropy(x, []int{0, 1}) }, []string{"cross_entropy", "[3 4]", "2 labels"}},
		{"logits rank", func(g *tensor.Graph) *tensor.Tensor { return g.CrossEntropy(tensor.New(12), make([]int, 12)) }, []string{"cross_entropy", "[12]"}},
		{"empty batch", func(g *tensor.Graph) *tensor.Tensor { return g.CrossEntropy(tensor.New(0, 4), nil) }, []string{"cross_entropy", "[0 4]", "empty"}},
		{"nil logits", func(g *tensor.Graph) *tensor.Tensor { return g.CrossEntropy(nil, nil) }, []string{"cross_entropy", "nil"}},
		{"mse shapes", func(g *tensor.Graph) *tensor.Tensor { return g.MSE(x, tensor.New(4, 3)) }, []string{"mse", "[3 4]", "[4 3]"}},
		{"mse broadcast", func(g *tensor.Graph) *tensor.Tensor { return g.MSE(x, tensor.New(4)) }, []string{"mse", "[3 4]", "[4]"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			g := tensor.NewGraph()
			opsWantErr(t, g, c.f(g), c.frag...)
		})
	}
}
