package tensor_test

import (
	"fmt"
	"math"
	"testing"

	"github.com/siam-ssl/siam/tensor"
	"github.com/siam-ssl/siam/tensor/tensortest"
)

func TestL2Normalize(t *testing.T) {
	for _, c := range []struct {
		shape []int
		eps   float32
	}{{[]int{4}, 1e-12}, {[]int{3, 5}, 1e-12}, {[]int{2, 3, 4}, 1e-6}, {[]int{256, 512}, 1e-12}} {
		t.Run(fmt.Sprint(c.shape, c.eps), func(t *testing.T) {
			x := tensortest.Rand(1, c.shape...)
			d := c.shape[len(c.shape)-1]
			want := make([]float64, x.Numel())
			for r := 0; r < len(want); r += d {
				var s float64
				for _, v := range x.Data[r : r+d] {
					s += float64(v) * float64(v)
				}
				n := math.Max(math.Sqrt(s), float64(c.eps))
				for i, v := range x.Data[r : r+d] {
					want[r+i] = float64(v) / n
				}
			}
			g := tensor.NewGraph()
			y := g.L2Normalize(x, c.eps)
			if !tensor.SameShape(y.Shape(), c.shape) {
				t.Fatalf("shape %v", y.Shape())
			}
			opsClose(t, "value", y.Data, want, 1e-7, 1e-6)
			tensortest.CheckGrad(t, func(g *tensor.Graph, in []*tensor.Tensor) *tensor.Tensor {
				return g.L2Normalize(in[0], c.eps)
			}, []*tensor.Tensor{x}, tensortest.Options{Eps: 1e-3})
		})
	}
}

// TestL2NormalizeClamped checks rows whose norm is below eps: divided by eps, with
// the gradient of a division by the constant eps (PyTorch's clamp_min).
func TestL2NormalizeClamped(t *testing.T) {
	x := tensortest.Rand(2, 2, 3)
	copy(x.Data, []float32{0.01, -0.02, 0.015, 1, 2, -2})
	g := tensor.NewGraph()
	y := g.L2Normalize(x, 0.5)
	opsClose(t, "value", y.Data, []float64{0.02, -0.04, 0.03, 1.0 / 3, 2.0 / 3, -2.0 / 3}, 1e-7, 1e-6)
	tensortest.CheckGrad(t, func(g *tensor.Graph, in []*tensor.Tensor) *tensor.Tensor {
		return g.L2Normalize(in[0], 0.5)
	}, []*tensor.Tensor{x}, tensortest.Options{Eps: 1e-3})
}

// opsCosineRef is PyTorch 1.13's cosine similarity over rows of length d and its
// gradients for a seed gy: cos = a·b/(na nb), na = sqrt(max(|a|², eps²)),
// dcos/da = b/(na nb) - cos a/na².
func opsCosineRef(a, b []float32, d int, eps float64, gy []float32) (cos, ga, gb []float64) {
	rows := len(a) / d
	cos, ga, gb = make([]float64, rows), make([]float64, len(a)), make([]float64, len(a))
	for r := range rows {
		var saa, sbb, sab float64
		for i := r * d; i < (r+1)*d; i++ {
			saa += float64(a[i]) * float64(a[i])
			sbb += float64(b[i]) * float64(b[i])
			sab += float64(a[i]) * float64(b[i])
		}
		na, nb := math.Sqrt(math.Max(saa, eps*eps)), math.Sqrt(math.Max(sbb, eps*eps))
		c := sab / (na * nb)
		cos[r] = c
		if gy == nil {
			continue
		}
		g := float64(gy[r])
		for i := r * d; i < (r+1)*d; i++ {
			ga[i] = g * (float64(b[i])/(na*nb) - c*float64(a[i])/(na*na))
			gb[i] = g * (float64(a[i])/(na*nb) - c*float64(b[i])/(nb*nb))
		}
	}
	return cos, ga, gb
}

func TestCosineSimilarity(t *testing.T) {
	for _, shape := range [][]int{{4}, {3, 5}, {2, 3, 4}, {256, 512}} {
		t.Run(fmt.Sprint(shape), func(t *testing.T) {
			a, b := tensortest.Rand(3, shape...), tensortest.Rand(4, shape...)
			d := shape[len(shape)-1]
			g := tensor.NewGraph()
			y := g.CosineSimilarity(a, b, 1e-8)
			if !tensor.SameShape(y.Shape(), shape[:len(shape)-1]) {
				t.Fatalf("shape %v", y.Shape())
			}
			seed := tensortest.Rand(5, y.Numel()).Data
			want, wa, wb := opsCosineRef(a.Data, b.Data, d, 1e-8, seed)
			opsClose(t, "value", y.Data, want, 1e-7, 1e-6)
			if err := g.BackwardWith(y, seed); err != nil {
				t.Fatal(err)
			}
			opsClose(t, "grad a", a.Grad, wa, 1e-7, 1e-5)
			opsClose(t, "grad b", b.Grad, wb, 1e-7, 1e-5)
			if a.Numel() > 1000 {
				return
			}
			tensortest.CheckGrad(t, func(g *tensor.Graph, in []*tensor.Tensor) *tensor.Tensor {
				return g.CosineSimilarity(in[0], in[1], 1e-8)
			}, []*tensor.Tensor{a, b}, tensortest.Options{Eps: 1e-3})
		})
	}
}

// TestCosineSimilarityClamped covers a zero row and a row with norm below eps, where
// PyTorch 1.13's clamp (under no_grad) sets both the value and the gradient.
func TestCosineSimilarityClamped(t *testing.T) {
	for _, eps := range []float32{1e-8, 0.5} {
		a := tensortest.Rand(6, 3, 4)
		b := tensortest.Rand(7, 3, 4)
		copy(a.Data[0:4], []float32{0, 0, 0, 0})
		copy(b.Data[4:8], []float32{0.01, 0.02, -0.03, 0.04})
		g := tensor.NewGraph()
		y := g.CosineSimilarity(a, b, eps)
		seed := []float32{1, -2, 0.5}
		want, wa, wb := opsCosineRef(a.Data, b.Data, 4, float64(eps), seed)
		opsClose(t, "value", y.Data, want, 1e-7, 1e-6)
		if err := g.BackwardWith(y, seed); err != nil {
			t.Fatal(err)
		}
		opsClose(t, "grad a", a.Grad, wa, 1e-6, 1e-5)
		opsClose(t, "grad b", b.Grad, wb, 1e-6, 1e-5)
		if y.Data[0] != 0 {
			t.Fatalf("cosine with a zero row = %v, want 0", y.Data[0])
		}
	}
}

// TestSimSiamLossGrad checks L = -mean(cos(p, sg(z))): the gradient reaches p only,
// exactly -(z/(|p||z|) - cos p/|p|²)/N per row.
func TestSimSiamLossGrad(t *testing.T) {
	const N, D = 8, 16
	p, z := tensortest.Rand(8, N, D), tensortest.Rand(9, N, D)
	loss := func(g *tensor.Graph, in []*tensor.Tensor) *tensor.Tensor {
		return g.Scale(g.Mean(g.CosineSimilarity(in[0], tensor.Detach(z), 1e-8)), -1)
	}
	g := tensor.NewGraph()
	l := loss(g, []*tensor.Tensor{p})
	if err := g.Backward(l); err != nil {
		t.Fatal(err)
	}
	if z.Grad != nil {
		t.Fatal("gradient leaked through the stop-gradient")
	}
	seed := make([]float32, N)
	for i := range seed {
		seed[i] = -1.0 / N
	}
	cos, wp, _ := opsCosineRef(p.Data, z.Data, D, 1e-8, seed)
	var wl float64
	for _, c := range cos {
		wl -= c / N
	}
	opsClose(t, "loss", l.Data, []float64{wl}, 1e-7, 1e-6)
	opsClose(t, "grad p", p.Grad, wp, 1e-8, 1e-5)
	tensortest.CheckGrad(t, loss, []*tensor.Tensor{p}, tensortest.Options{Eps: 1e-3})
}

func TestNormalizeErrors(t *testing.T) {
	for _, c := range []struct {
		name string
		f    func(g *tensor.Graph) *tensor.Tensor
		frag []string
	}{
		{"normalize rank 0", func(g *tensor.Graph) *tensor.Tensor { return g.L2Normalize(tensor.New(), 1e-12) }, []string{"l2_normalize", "[]"}},
		{"cosine shapes", func(g *tensor.Graph) *tensor.Tensor {
			return g.CosineSimilarity(tensor.New(3, 4), tensor.New(3, 5), 1e-8)
		}, []string{"cosine_similarity", "[3 4]", "[3 5]"}},
		{"cosine rank 0", func(g *tensor.Graph) *tensor.Tensor { return g.CosineSimilarity(tensor.New(), tensor.New(), 1e-8) }, []string{"cosine_similarity", "[]"}},
		{"cosine nil", func(g *tensor.Graph) *tensor.Tensor { return g.CosineSimilarity(tensor.New(3), nil, 1e-8) }, []string{"cosine_similarity", "nil"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			g := tensor.NewGraph()
			opsWantErr(t, g, c.f(g), c.frag...)
		})
	}
}
