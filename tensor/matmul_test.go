package tensor_test

import (
	"fmt"
	"testing"

	"github.com/siam-ssl/siam/tensor"
	"github.com/siam-ssl/siam/tensor/tensortest"
)

// opsMatMulRef returns a[M,K] * b[K,N] in float64; tb means b is given as [N,K].
func opsMatMulRef(a, b []float32, M, K, N int, tb bool) []float64 {
	res := make([]float64, M*N)
	for i := range M {
		for j := range N {
			var s float64
			for p := range K {
				bv := b[p*N+j]
				if tb {
					bv = b[j*K+p]
				}
				s += float64(a[i*K+p]) * float64(bv)
			}
			res[i*N+j] = s
		}
	}
	return res
}

func TestMatMul(t *testing.T) {
	for _, c := range [][3]int{{1, 1, 1}, {3, 4, 5}, {7, 1, 3}, {64, 48, 32}, {4, 0, 3}, {0, 3, 2}} {
		M, K, N := c[0], c[1], c[2]
		t.Run(fmt.Sprint(c), func(t *testing.T) {
			a, b := tensortest.Rand(1, M, K), tensortest.Rand(2, K, N)
			g := tensor.NewGraph()
			y := g.MatMul(a, b)
			if err := g.Err(); err != nil {
				t.Fatal(err)
			}
			if !tensor.SameShape(y.Shape(), []int{M, N}) {
				t.Fatalf("shape %v", y.Shape())
			}
			opsClose(t, "value", y.Data, opsMatMulRef(a.Data, b.Data, M, K, N, false), 1e-5, 1e-5)
			if M*K*N == 0 || M*K*N > 10000 {
				return
			}
			tensortest.CheckGrad(t, func(g *tensor.Graph, in []*tensor.Tensor) *tensor.Tensor {
				return g.MatMul(in[0], in[1])
			}, []*tensor.Tensor{a, b}, tensortest.Options{Eps: 1e-3})
		})
	}
}

// TestMatMulLargeGrad checks the multi-core backward against float64 products.
func TestMatMulLargeGrad(t *testing.T) {
	const M, K, N = 64, 48, 40
	a, b := tensortest.Rand(3, M, K), tensortest.Rand(4, K, N)
	g := tensor.NewGraph()
	y := g.MatMul(a, b)
	seed := tensortest.Rand(5, M, N).Data
	if err := g.BackwardWith(y, seed); err != nil {
		t.Fatal(err)
	}
	// da = dy b^T: [M,N] x [N,K] with b^T given as b [K,N] read transposed.
	opsClose(t, "grad a", a.Grad, opsMatMulRef(seed, b.Data, M, N, K, true), 1e-4, 1e-4)
	// db = a^T dy.
	at := make([]float32, K*M)
	for i := range M {
		for p := range K {
			at[p*M+i] = a.Data[i*K+p]
		}
	}
	opsClose(t, "grad b", b.Grad, opsMatMulRef(at, seed, K, M, N, false), 1e-4, 1e-4)
}

func TestBatchedMatMul(t *testing.T) {
	for _, c := range [][4]int{{1, 3, 4, 5}, {3, 2, 3, 4}, {5, 4, 1, 2}, {2, 40, 40, 50}} {
		B, M, K, N := c[0], c[1], c[2], c[3]
		t.Run(fmt.Sprint(c), func(t *testing.T) {
			a, b := tensortest.Rand(6, B, M, K), tensortest.Rand(7, B, K, N)
			g := tensor.NewGraph()
			y := g.BatchedMatMul(a, b)
			if err := g.Err(); err != nil {
				t.Fatal(err)
			}
			if !tensor.SameShape(y.Shape(), []int{B, M, N}) {
				t.Fatalf("shape %v", y.Shape())
			}
			var want []float64
			for i := range B {
				want = append(want, opsMatMulRef(a.Data[i*M*K:], b.Data[i*K*N:], M, K, N, false)...)
			}
			opsClose(t, "value", y.Data, want, 1e-5, 1e-5)
			if B*M*K*N > 10000 {
				return
			}
			tensortest.CheckGrad(t, func(g *tensor.Graph, in []*tensor.Tensor) *tensor.Tensor {
				return g.BatchedMatMul(in[0], in[1])
			}, []*tensor.Tensor{a, b}, tensortest.Options{Eps: 1e-3})
		})
	}
}

func TestLinear(t *testing.T) {
	for _, c := range []struct {
		x    []int
		out  int
		bias bool
	}{
		{[]int{4, 3}, 5, true},
		{[]int{4, 3}, 5, false},
		{[]int{2, 3, 6}, 4, true},
		{[]int{6}, 2, true},
		{[]int{40, 64}, 48, true},
	} {
		t.Run(fmt.Sprint(c.x, c.out, c.bias), func(t *testing.T) {
			in := c.x[len(c.x)-1]
			x := tensortest.Rand(8, c.x...)
			w := tensor.NewParam("w", c.out, in)
			copy(w.Data, tensortest.Rand(9, c.out, in).Data)
			var b *tensor.Tensor
			inputs := []*tensor.Tensor{x, w}
			if c.bias {
				b = tensor.NewParam("b", c.out)
				copy(b.Data, tensortest.Rand(10, c.out).Data)
				inputs = append(inputs, b)
			}
			g := tensor.NewGraph()
			y := g.Linear(x, w, b)
			if err := g.Err(); err != nil {
				t.Fatal(err)
			}
			wantShape := append(append([]int(nil), c.x[:len(c.x)-1]...), c.out)
			if !tensor.SameShape(y.Shape(), wantShape) {
				t.Fatalf("shape %v, want %v", y.Shape(), wantShape)
			}
			N := x.Numel() / in
			want := opsMatMulRef(x.Data, w.Data, N, in, c.out, true)
			if c.bias {
				for i := range want {
					want[i] += float64(b.Data[i%c.out])
				}
			}
			opsClose(t, "value", y.Data, want, 1e-5, 1e-5)
			tensortest.CheckGrad(t, func(g *tensor.Graph, in []*tensor.Tensor) *tensor.Tensor {
				var bb *tensor.Tensor
				if len(in) == 3 {
					bb = in[2]
				}
				return g.Linear(in[0], in[1], bb)
			}, inputs, tensortest.Options{Eps: 1e-3, MaxChecks: 24})
		})
	}
}

// TestLinearGradAccumulates checks that parameter gradients add up over two steps
// until ZeroGrad, as an optimiser with gradient accumulation expects.
func TestLinearGradAccumulates(t *testing.T) {
	x := tensortest.Rand(11, 3, 2)
	w, b := tensor.NewParam("w", 2, 2), tensor.NewParam("b", 2)
	copy(w.Data, []float32{1, 2, 3, 4})
	var first []float32
	for step := range 2 {
		g := tensor.NewGraph()
		if err := g.Backward(g.Sum(g.Linear(x, w, b))); err != nil {
			t.Fatal(err)
		}
		if step == 0 {
			first = append([]float32(nil), w.Grad...)
		}
	}
	for i, v := range w.Grad {
		if v != 2*first[i] {
			t.Fatalf("w.Grad[%d] = %v after two steps, want %v", i, v, 2*first[i])
		}
	}
	if b.Grad[0] != 6 || b.Grad[1] != 6 {
		t.Fatalf("b.Grad = %v, want [6 6]", b.Grad)
	}
}

func TestMatMulErrors(t *testing.T) {
	for _, c := range []struct {
		name string
		f    func(g *tensor.Graph) *tensor.Tensor
		frag []string
	}{
		{"matmul inner", func(g *tensor.Graph) *tensor.Tensor { return g.MatMul(tensor.New(2, 3), tensor.New(4, 5)) }, []string{"matmul", "[2 3]", "[4 5]", "3 != 4"}},
		{"matmul rank", func(g *tensor.Graph) *tensor.Tensor { return g.MatMul(tensor.New(2, 3, 4), tensor.New(4, 5)) }, []string{"matmul", "[2 3 4]", "2-D"}},
		{"bmm batch", func(g *tensor.Graph) *tensor.Tensor { return g.BatchedMatMul(tensor.New(2, 3, 4), tensor.New(3, 4, 5)) }, []string{"bmm", "[2 3 4]", "[3 4 5]", "batch"}},
		{"bmm inner", func(g *tensor.Graph) *tensor.Tensor { return g.BatchedMatMul(tensor.New(2, 3, 4), tensor.New(2, 5, 5)) }, []string{"bmm", "[2 3 4]", "[2 5 5]"}},
		{"bmm rank", func(g *tensor.Graph) *tensor.Tensor { return g.BatchedMatMul(tensor.New(3, 4), tensor.New(4, 5)) }, []string{"bmm", "3-D"}},
		{"linear in", func(g *tensor.Graph) *tensor.Tensor { return g.Linear(tensor.New(2, 3), tensor.New(5, 4), nil) }, []string{"linear", "[2 3]", "[5 4]"}},
		{"linear bias", func(g *tensor.Graph) *tensor.Tensor {
			return g.Linear(tensor.New(2, 4), tensor.New(5, 4), tensor.New(4))
		}, []string{"linear", "[2 4]", "[5 4]", "[4]", "bias"}},
		{"linear weight rank", func(g *tensor.Graph) *tensor.Tensor { return g.Linear(tensor.New(2, 4), tensor.New(4), nil) }, []string{"linear", "[4]"}},
		{"linear rank 0", func(g *tensor.Graph) *tensor.Tensor { return g.Linear(tensor.New(), tensor.New(1, 1), nil) }, []string{"linear", "[]"}},
		{"linear nil", func(g *tensor.Graph) *tensor.Tensor { return g.Linear(nil, tensor.New(1, 1), nil) }, []string{"linear", "nil"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			g := tensor.NewGraph()
			opsWantErr(t, g, c.f(g), c.frag...)
		})
	}
}
