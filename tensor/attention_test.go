package tensor_test

import (
	"fmt"
	"math"
	"testing"

	"github.com/siam-ssl/siam/tensor"
	"github.com/siam-ssl/siam/tensor/tensortest"
)

// attnRef is multi-head attention in float64 on [B, N, D] slices (q rows of
// length ldq starting at column offq, likewise k and v).
func attnRef(q, k, v []float32, B, Nq, Nk, D, H, ld, offq, offk, offv int) []float64 {
	hd := D / H
	out := make([]float64, B*Nq*D)
	s := make([]float64, Nk)
	for b := 0; b < B; b++ {
		for h := 0; h < H; h++ {
			for i := 0; i < Nq; i++ {
				m := math.Inf(-1)
				for j := 0; j < Nk; j++ {
					var d float64
					for c := 0; c < hd; c++ {
						d += float64(q[(b*Nq+i)*ld+offq+h*hd+c]) * float64(k[(b*Nk+j)*ld+offk+h*hd+c])
					}
					s[j] = d / math.Sqrt(float64(hd))
					m = math.Max(m, s[j])
				}
				var z float64
				for j := range s {
					s[j] = math.Exp(s[j] - m)
					z += s[j]
				}
				for c := 0; c < hd; c++ {
					var o float64
					for j := 0; j < Nk; j++ {
						o += s[j] / z * float64(v[(b*Nk+j)*ld+offv+h*hd+c])
					}
					out[(b*Nq+i)*D+h*hd+c] = o
				}
			}
		}
	}
	return out
}

func TestAttention(t *testing.T) {
	cases := []struct{ B, Nq, Nk, D, H int }{
		{1, 1, 1, 4, 1},    // one unit: the multi-core GEMM path
		{2, 5, 5, 8, 2},    // self-attention shapes
		{3, 4, 7, 12, 3},   // cross-attention: Nq != Nk
		{2, 65, 65, 24, 3}, // a ViT at 32x32 with 4x4 patches (8x8 + class token)
		{1, 3, 2, 6, 6},    // head dimension 1
	}
	for _, c := range cases {
		t.Run(fmt.Sprint(c), func(t *testing.T) {
			q, k, v := tensortest.Rand(1, c.B, c.Nq, c.D), tensortest.Rand(2, c.B, c.Nk, c.D), tensortest.Rand(3, c.B, c.Nk, c.D)
			want := attnRef(q.Data, k.Data, v.Data, c.B, c.Nq, c.Nk, c.D, c.H, c.D, 0, 0, 0)
			for _, noGrad := range []bool{false, true} {
				g := tensor.NewGraph()
				g.SetNoGrad(noGrad)
				y := g.Attention(q, k, v, c.H)
				if err := g.Err(); err != nil {
					t.Fatal(err)
				}
				if !tensor.SameShape(y.Shape(), []int{c.B, c.Nq, c.D}) {
					t.Fatalf("shape %v", y.Shape())
				}
				opsClose(t, fmt.Sprintf("attention (no grad %v)", noGrad), y.Data, want, 1e-6, 1e-5)
			}
			if c.Nq > 10 {
				return // the gradient checks below cover the small shapes
			}
			tensortest.CheckGrad(t, func(g *tensor.Graph, in []*tensor.Tensor) *tensor.Tensor {
				return g.Attention(in[0], in[1], in[2], c.H)
			}, []*tensor.Tensor{q, k, v}, tensortest.Options{Eps: 1e-3})
		})
	}
}

func TestAttentionQKV(t *testing.T) {
	for _, c := range []struct{ B, N, D, H int }{{1, 3, 4, 1}, {2, 5, 12, 3}, {2, 17, 32, 2}} {
		t.Run(fmt.Sprint(c), func(t *testing.T) {
			qkv := tensortest.Rand(4, c.B, c.N, 3*c.D)
			want := attnRef(qkv.Data, qkv.Data, qkv.Data, c.B, c.N, c.N, c.D, c.H, 3*c.D, 0, c.D, 2*c.D)
			g := tensor.NewGraph()
			y := g.AttentionQKV(qkv, c.H)
			if err := g.Err(); err != nil {
				t.Fatal(err)
			}
			opsClose(t, "attention_qkv", y.Data, want, 1e-6, 1e-5)
			tensortest.CheckGrad(t, func(g *tensor.Graph, in []*tensor.Tensor) *tensor.Tensor {
				return g.AttentionQKV(in[0], c.H)
			}, []*tensor.Tensor{qkv}, tensortest.Options{Eps: 1e-3, MaxChecks: 128})
			// The gradient must equal the separate op's on the split operands.
			split := func(part int) *tensor.Tensor {
				p := tensor.New(c.B, c.N, c.D)
				for r := 0; r < c.B*c.N; r++ {
					copy(p.Data[r*c.D:(r+1)*c.D], qkv.Data[r*3*c.D+part*c.D:])
				}
				p.SetRequiresGrad(true)
				return p
			}
			q, k, v := split(0), split(1), split(2)
			seed := make([]float32, c.B*c.N*c.D)
			for i := range seed {
				seed[i] = float32(math.Sin(float64(i)))
			}
			g1, g2 := tensor.NewGraph(), tensor.NewGraph()
			qkv.Grad = nil
			if err := g1.BackwardWith(g1.AttentionQKV(qkv, c.H), seed); err != nil {
				t.Fatal(err)
			}
			if err := g2.BackwardWith(g2.Attention(q, k, v, c.H), seed); err != nil {
				t.Fatal(err)
			}
			for r := 0; r < c.B*c.N; r++ {
				for part, x := range []*tensor.Tensor{q, k, v} {
					for j := 0; j < c.D; j++ {
						a, b := qkv.Grad[r*3*c.D+part*c.D+j], x.Grad[r*c.D+j]
						if math.Abs(float64(a-b)) > 1e-6*math.Max(1, math.Abs(float64(b))) {
							t.Fatalf("row %d part %d col %d: packed gradient %g, separate %g", r, part, j, a, b)
						}
					}
				}
			}
		})
	}
}

// TestAttentionSharedAndAccumulated covers q, k, v given as one tensor (their
// gradients add into one buffer) and gradients that accumulate into buffers that
// already hold values (a second use of the input).
func TestAttentionSharedAndAccumulated(t *testing.T) {
	x := tensortest.Rand(5, 2, 4, 8)
	tensortest.CheckGrad(t, func(g *tensor.Graph, in []*tensor.Tensor) *tensor.Tensor {
		return g.Attention(in[0], in[0], in[0], 2)
	}, []*tensor.Tensor{x}, tensortest.Options{Eps: 1e-3})
	q, kv := tensortest.Rand(6, 2, 3, 8), tensortest.Rand(7, 2, 5, 8)
	tensortest.CheckGrad(t, func(g *tensor.Graph, in []*tensor.Tensor) *tensor.Tensor {
		return g.Add(g.Attention(in[0], in[1], in[1], 4), g.Scale(in[0], 0.5))
	}, []*tensor.Tensor{q, kv}, tensortest.Options{Eps: 1e-3})
	qkv := tensortest.Rand(8, 2, 4, 12)
	tensortest.CheckGrad(t, func(g *tensor.Graph, in []*tensor.Tensor) *tensor.Tensor {
		y := g.AttentionQKV(in[0], 2)
		return g.Add(g.Mul(in[0], in[0]), g.Concat(2, y, y, y))
	}, []*tensor.Tensor{qkv}, tensortest.Options{Eps: 1e-3})
}

// TestAttentionStable feeds logits that overflow a naive exp.
func TestAttentionStable(t *testing.T) {
	q, k, v := tensortest.Rand(9, 1, 3, 4), tensortest.Rand(10, 1, 3, 4), tensortest.Rand(11, 1, 3, 4)
	for i := range q.Data {
		q.Data[i] *= 60
		k.Data[i] *= 60
	}
	want := attnRef(q.Data, k.Data, v.Data, 1, 3, 3, 4, 2, 4, 0, 0, 0)
	g := tensor.NewGraph()
	y := g.Attention(q, k, v, 2)
	for _, w := range y.Data {
		if math.IsNaN(float64(w)) || math.IsInf(float64(w), 0) {
			t.Fatalf("non-finite output %v", y.Data)
		}
	}
	opsClose(t, "attention", y.Data, want, 1e-5, 1e-5)
}

func TestAttentionErrors(t *testing.T) {
	x := tensor.New(2, 3, 8)
	cases := []struct {
		name      string
		f         func(g *tensor.Graph) *tensor.Tensor
		fragments []string
	}{
		{"rank", func(g *tensor.Graph) *tensor.Tensor { return g.Attention(tensor.New(3, 8), x, x, 2) }, []string{"attention", "[B, N, D]"}},
		{"heads", func(g *tensor.Graph) *tensor.Tensor { return g.Attention(x, x, x, 3) }, []string{"3 heads", "8"}},
		{"zero heads", func(g *tensor.Graph) *tensor.Tensor { return g.Attention(x, x, x, 0) }, []string{"0 heads"}},
		{"batch", func(g *tensor.Graph) *tensor.Tensor { return g.Attention(x, tensor.New(1, 3, 8), x, 2) }, []string{"batch"}},
		{"dim", func(g *tensor.Graph) *tensor.Tensor { return g.Attention(x, tensor.New(2, 3, 4), x, 2) }, []string{"dimension"}},
		{"kv length", func(g *tensor.Graph) *tensor.Tensor { return g.Attention(x, x, tensor.New(2, 4, 8), 2) }, []string{"lengths"}},
		{"nil", func(g *tensor.Graph) *tensor.Tensor { return g.Attention(x, nil, x, 2) }, []string{"nil"}},
		{"qkv width", func(g *tensor.Graph) *tensor.Tensor { return g.AttentionQKV(x, 2) }, []string{"attention_qkv", "3D"}},
		{"qkv heads", func(g *tensor.Graph) *tensor.Tensor { return g.AttentionQKV(tensor.New(2, 3, 12), 3) }, []string{"3 heads", "4"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := tensor.NewGraph()
			opsWantErr(t, g, c.f(g), c.fragments...)
		})
	}
}

// TestAttentionReusesArena: a repeated step allocates its buffers once.
func TestAttentionReusesArena(t *testing.T) {
	qkv := tensortest.Rand(12, 4, 17, 72)
	g := tensor.NewGraph()
	var sizes []int64
	for range 3 {
		y := g.AttentionQKV(qkv, 3)
		if err := g.Backward(g.Sum(g.Mul(y, y))); err != nil {
			t.Fatal(err)
		}
		sizes = append(sizes, g.ArenaBytes())
		g.Reset()
	}
	if sizes[1] != sizes[0] || sizes[2] != sizes[0] {
		t.Fatalf("arena grew across steps: %v", sizes)
	}
}

func BenchmarkAttentionQKV(b *testing.B) {
	// vit-tiny at 32x32: batch 64, 65 tokens, dim 192, 3 heads
	qkv := tensortest.Rand(1, 64, 65, 3*192)
	g := tensor.NewGraph()
	for b.Loop() {
		y := g.AttentionQKV(qkv, 3)
		if err := g.BackwardWith(y, y.Data); err != nil {
			b.Fatal(err)
		}
		g.Reset()
	}
}
