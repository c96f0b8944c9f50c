package tensor

import (
	"github.com/siam-ssl/siam/parallel"
)

// CrossEntropy is the mean negative log-likelihood of labels under logits [N,K]
// (PyTorch's F.cross_entropy with reduction "mean"), a rank-0 tensor. Every label
// must lie in [0,K), len(labels) must be N, and N must be positive; otherwise an
// error is recorded. labels is read only during the call.
func (g *Graph) CrossEntropy(logits *Tensor, labels []int) *Tensor {
	if !g.OK("cross_entropy", logits) {
		return g.dead
	}
	if logits.Rank() != 2 {
		return g.Fail("cross_entropy", "logits must be [N,K]", logits)
	}
	N, K := logits.shape[0], logits.shape[1]
	if len(labels) != N {
		return g.Failf("cross_entropy", []*Tensor{logits}, "%d labels for %d rows", len(labels), N)
	}
	if N == 0 {
		return g.Fail("cross_entropy", "empty batch", logits)
	}
	for i, l := range labels {
		if l < 0 || l >= K {
			return g.Failf("cross_entropy", []*Tensor{logits}, "label %d at index %d out of range [0,%d)", l, i, K)
		}
	}
	// The gradient of the mean loss w.r.t. the logits is (softmax - onehot) / N; it
	// is computed here, when it is needed, so the backward only scales it.
	needGrad := !g.noGrad && logits.requiresGrad
	var dl []float32
	if needGrad {
		dl = g.Scratch(N * K)
	}
	xd := logits.Data
	loss := make([]float64, N)
	grain := max(1, ewGrain/(8*K))
	parallel.ForGrain(N, grain, func(lo, hi int) {
		var row []float32
		if !needGrad {
			row = make([]float32, K)
		}
		invN := 1 / float32(N)
		for r := lo; r < hi; r++ {
			x := xd[r*K : (r+1)*K]
			y := row
			if needGrad {
				y = dl[r*K : (r+1)*K]
			}
			lse := smRow(y, x, false)
			loss[r] = lse - float64(x[labels[r]])
			if needGrad {
				y[labels[r]] -= 1
				for i := range y {
					y[i] *= invN
				}
			}
		}
	})
	var s float64
	for _, v := range loss {
		s += v
	}
	out := g.Alloc()
	out.Data[0] = float32(s / float64(N))
	if !needGrad {
		return out
	}
	g.Record(out, func() {
		gx, gy := g.GradOf(logits), out.Grad[0]
		parallel.ForGrain(len(dl), ewGrain, func(lo, hi int) {
			d, s := gx[lo:hi], dl[lo:hi]
			for i := range d {
				d[i] += gy * s[i]
			}
		})
	}, logits)
	return out
}

// MSE is the mean squared difference of same-shaped a and b (PyTorch's F.mse_loss
// with reduction "mean"), a rank-0 tensor. Shapes must match exactly (no
// broadcasting); the MSE of empty tensors is NaN.
func (g *Graph) MSE(a, b *Tensor) *Tensor {
	if !g.OK("mse", a, b) {
		return g.dead
	}
	if !SameShape(a.shape, b.shape) {
		return g.Fail("mse", "shapes differ", a, b)
	}
	ad, bd := a.Data, b.Data
	n := len(ad)
	chunks := max(1, min(parallel.Workers(), (n+ewGrain-1)/ewGrain))
	part := make([]float64, chunks)
	parallel.For(chunks, func(lo, hi int) {
		for c := lo; c < hi; c++ {
			var s float64
			for i := c * n / chunks; i < (c+1)*n/chunks; i++ {
				d := float64(ad[i]) - float64(bd[i])
				s += d * d
			}
			part[c] = s
		}
	})
	var s float64
	for _, v := range part {
		s += v
	}
	out := g.Alloc()
	out.Data[0] = float32(s / float64(n))
	g.Record(out, func() {
		k := 2 * out.Grad[0] / float32(n)
		var ga, gb []float32
		if a.requiresGrad {
			ga = g.GradOf(a)
		}
		if b.requiresGrad {
			gb = g.GradOf(b)
		}
		parallel.ForGrain(n, ewGrain, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				v := k * (ad[i] - bd[i])
				if ga != nil {
					ga[i] += v
				}
				if gb != nil {
					gb[i] -= v
				}
			}
		})
	}, a, b)
	return out
}
