package tensor

import (
	"github.com/siam-ssl/siam/backend"
	"github.com/siam-ssl/siam/parallel"
)

// Matrix products lower to kernels.Sgemm (row-major, C = alpha*op(A)*op(B) +
// beta*C). Backward passes accumulate straight into the gradient buffers with
// beta = 1; forward outputs start zeroed (or holding the bias) so the result does not
// depend on how a kernel treats beta = 0 with an uninitialised C.

// mmGemm runs one GEMM on one core (par false) or, when par and the product is
// large enough, on all of them. Empty products only apply beta.
func (g *Graph) mmGemm(par, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	g.be.Gemm(backend.GemmParams{TransA: transA, TransB: transB, M: m, N: n, K: k, Alpha: alpha, Beta: beta,
		LDA: lda, LDB: ldb, LDC: ldc, Parallel: par}, hb(a), hb(b), hb(c))
}

// MatMul multiplies 2-D a [M,K] by b [K,N] into [M,N].
func (g *Graph) MatMul(a, b *Tensor) *Tensor {
	if !g.OK("matmul", a, b) {
		return g.dead
	}
	if a.Rank() != 2 || b.Rank() != 2 {
		return g.Fail("matmul", "need 2-D operands", a, b)
	}
	M, K, N := a.shape[0], a.shape[1], b.shape[1]
	if b.shape[0] != K {
		return g.Failf("matmul", []*Tensor{a, b}, "inner dimensions %d != %d", K, b.shape[0])
	}
	out := g.Zeros(M, N)
	g.mmGemm(true, false, false, M, N, K, 1, a.Data, K, b.Data, N, 0, out.Data, N)
	g.Record(out, func() {
		gy := out.Grad
		if a.requiresGrad { // da += dy b^T
			g.mmGemm(true, false, true, M, K, N, 1, gy, N, b.Data, N, 1, g.GradOf(a), K)
		}
		if b.requiresGrad { // db += a^T dy
			g.mmGemm(true, true, false, K, N, M, 1, a.Data, K, gy, N, 1, g.GradOf(b), N)
		}
	}, a, b)
	return out
}

// BatchedMatMul multiplies 3-D a [B,M,K] by b [B,K,N] batch by batch into [B,M,N].
// Batches run in parallel, one single-core GEMM each.
func (g *Graph) BatchedMatMul(a, b *Tensor) *Tensor {
	if !g.OK("bmm", a, b) {
		return g.dead
	}
	if a.Rank() != 3 || b.Rank() != 3 {
		return g.Fail("bmm", "need 3-D operands", a, b)
	}
	B, M, K, N := a.shape[0], a.shape[1], a.shape[2], b.shape[2]
	if b.shape[0] != B {
		return g.Failf("bmm", []*Tensor{a, b}, "batch sizes %d != %d", B, b.shape[0])
	}
	if b.shape[1] != K {
		return g.Failf("bmm", []*Tensor{a, b}, "inner dimensions %d != %d", K, b.shape[1])
	}
	out := g.Zeros(B, M, N)
	// batches applies f to every batch: in parallel across batches, or with a
	// multi-core GEMM when there is a single one.
	batches := func(f func(i int, par bool)) {
		if B == 1 {
			f(0, true)
			return
		}
		parallel.For(B, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				f(i, false)
			}
		})
	}
	ad, bd, od := a.Data, b.Data, out.Data
	sa, sb, so := M*K, K*N, M*N
	batches(func(i int, par bool) {
		g.mmGemm(par, false, false, M, N, K, 1, ad[i*sa:], K, bd[i*sb:], N, 0, od[i*so:], N)
	})
	g.Record(out, func() {
		gy := out.Grad
		if a.requiresGrad {
			ga := g.GradOf(a)
			batches(func(i int, par bool) {
				g.mmGemm(par, false, true, M, K, N, 1, gy[i*so:], N, bd[i*sb:], N, 1, ga[i*sa:], K)
			})
		}
		if b.requiresGrad {
			gb := g.GradOf(b)
			batches(func(i int, par bool) {
				g.mmGemm(par, true, false, K, N, M, 1, ad[i*sa:], K, gy[i*so:], N, 1, gb[i*sb:], N)
			})
		}
	}, a, b)
	return out
}

// Linear computes x w^T + b for x [N,in], w [out,in] (PyTorch layout) and b [out] or
// nil, giving [N,out]. x may have any rank >= 1: its leading dimensions are batch
// dimensions, as in PyTorch's F.linear.
func (g *Graph) Linear(x, w, b *Tensor) *Tensor {
	if !g.OK("linear", x, w) {
		return g.dead
	}
	ts := []*Tensor{x, w}
	if b != nil {
		ts = append(ts, b)
	}
	if x.Rank() < 1 || w.Rank() != 2 {
		return g.Fail("linear", "need x of rank >= 1 and 2-D weight", ts...)
	}
	in, nOut := w.shape[1], w.shape[0]
	if x.Dim(-1) != in {
		return g.Failf("linear", ts, "input features %d != weight's %d", x.Dim(-1), in)
	}
	if b != nil && (b.Rank() != 1 || b.shape[0] != nOut) {
		return g.Failf("linear", ts, "bias must be [%d]", nOut)
	}
	N := numel(x.shape[:x.Rank()-1])
	shape := append(append([]int(nil), x.shape[:x.Rank()-1]...), nOut)
	out := g.Alloc(shape...)
	od := out.Data
	if b != nil {
		for r := range N {
			copy(od[r*nOut:(r+1)*nOut], b.Data)
		}
	} else {
		clear(od)
	}
	g.mmGemm(true, false, true, N, nOut, in, 1, x.Data, in, w.Data, in, 1, od, nOut)
	g.Record(out, func() {
		gy := out.Grad
		if x.requiresGrad { // dx += dy w
			g.mmGemm(true, false, false, N, in, nOut, 1, gy, nOut, w.Data, in, 1, g.GradOf(x), in)
		}
		if w.requiresGrad { // dw += dy^T x
			g.mmGemm(true, true, false, nOut, in, N, 1, gy, nOut, x.Data, in, 1, g.GradOf(w), in)
		}
		if b != nil && b.requiresGrad { // db += column sums of dy
			gb := g.GradOf(b)
			parallel.ForGrain(nOut, max(1, ewGrain/max(N, 1)), func(lo, hi int) {
				d := gb[lo:hi]
				for r := range N {
					g.be.Add(hb(d), hb(d), hb(gy[r*nOut+lo:r*nOut+hi]))
				}
			})
		}
	}, x, w, b)
	return out
}
