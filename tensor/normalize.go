package tensor

import (
	"math"

	"github.com/siam-ssl/siam/parallel"
)

// L2Normalize divides each row (last dimension) of x by max(||row||, eps), as
// PyTorch's F.normalize(x, dim=-1, eps=eps). The backward matches PyTorch's
// clamp_min: rows with ||row|| >= eps get the exact derivative of x/||x||, rows below
// eps are treated as divided by the constant eps. x must have rank >= 1.
func (g *Graph) L2Normalize(x *Tensor, eps float32) *Tensor {
	if !g.OK("l2_normalize", x) {
		return g.dead
	}
	if x.Rank() < 1 {
		return g.Fail("l2_normalize", "need rank >= 1", x)
	}
	D := x.Dim(-1)
	out := g.Alloc(x.shape...)
	if D == 0 {
		return out
	}
	rows := len(x.Data) / D
	norms := g.Scratch(rows) // per-row ||x|| (unclamped)
	xd, od := x.Data, out.Data
	grain := max(1, ewGrain/D)
	parallel.ForGrain(rows, grain, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			xr, yr := xd[r*D:(r+1)*D], od[r*D:(r+1)*D]
			var s float64
			for _, v := range xr {
				s += float64(v) * float64(v)
			}
			n := float32(math.Sqrt(s))
			norms[r] = n
			inv := 1 / float64(max(n, eps))
			for i, v := range xr {
				yr[i] = float32(float64(v) * inv)
			}
		}
	})
	g.Record(out, func() {
		if !x.requiresGrad {
			return
		}
		gx, gy := g.GradOf(x), out.Grad
		parallel.ForGrain(rows, grain, func(lo, hi int) {
			for r := lo; r < hi; r++ {
				y, dy, dx := od[r*D:(r+1)*D], gy[r*D:(r+1)*D], gx[r*D:(r+1)*D]
				n := norms[r]
				if n < eps || n == 0 { // constant denominator eps
					inv := 1 / eps
					for i, v := range dy {
						dx[i] += v * inv
					}
					continue
				}
				// d(x/n) = (dy - y (y·dy)) / n
				var s float64
				for i, v := range y {
					s += float64(v) * float64(dy[i])
				}
				dot, inv := float32(s), 1/n
				for i, v := range y {
					dx[i] += (dy[i] - v*dot) * inv
				}
			}
		})
	}, x)
	return out
}

// CosineSimilarity returns the cosine of each pair of rows of a and b [N,D] as [N]
// (more generally: same-shaped a and b of rank >= 1, reduced over the last
// dimension), matching PyTorch 1.13's F.cosine_similarity(a, b, dim=-1, eps):
//
//	cos = sum(a/na * b/nb),  na = sqrt(max(||a||², eps²)),  nb likewise,
//
// where PyTorch clamps the squared norms under no_grad, so the gradient always takes
// the form of the unclamped formula evaluated with the clamped norms:
//
//	d cos/da = b/(na nb) - cos a/na²   (and symmetrically for b).
//
// This differs from the older max(||a||·||b||, eps) form only for rows whose norm is
// below eps. PyTorch's default eps is 1e-8. a and b are not broadcast.
func (g *Graph) CosineSimilarity(a, b *Tensor, eps float32) *Tensor {
	if !g.OK("cosine_similarity", a, b) {
		return g.dead
	}
	if a.Rank() < 1 || !SameShape(a.shape, b.shape) {
		return g.Fail("cosine_similarity", "need same-shaped operands of rank >= 1", a, b)
	}
	D := a.Dim(-1)
	shape := a.shape[:a.Rank()-1]
	out := g.Alloc(shape...)
	rows := len(out.Data)
	// Per row: 1/na, 1/nb for the backward.
	inv := g.Scratch(2 * rows)
	ad, bd, od := a.Data, b.Data, out.Data
	eps2 := float64(eps) * float64(eps)
	grain := max(1, ewGrain/max(D, 1))
	parallel.ForGrain(rows, grain, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			ar, br := ad[r*D:(r+1)*D], bd[r*D:(r+1)*D]
			var saa, sbb, sab float64
			for i, v := range ar {
				w := float64(br[i])
				saa += float64(v) * float64(v)
				sbb += w * w
				sab += float64(v) * w
			}
			ia := 1 / math.Sqrt(max(saa, eps2))
			ib := 1 / math.Sqrt(max(sbb, eps2))
			od[r] = float32(sab * ia * ib)
			inv[2*r], inv[2*r+1] = float32(ia), float32(ib)
		}
	})
	g.Record(out, func() {
		gy := out.Grad
		var ga, gb []float32
		if a.requiresGrad {
			ga = g.GradOf(a)
		}
		if b.requiresGrad {
			gb = g.GradOf(b)
		}
		parallel.ForGrain(rows, grain, func(lo, hi int) {
			for r := lo; r < hi; r++ {
				ar, br := ad[r*D:(r+1)*D], bd[r*D:(r+1)*D]
				ia, ib, c, gr := inv[2*r], inv[2*r+1], od[r], gy[r]
				kab := gr * ia * ib // coefficient of the other row
				if ga != nil {
					k := gr * c * ia * ia
					d := ga[r*D : (r+1)*D]
					for i := range d {
						d[i] += kab*br[i] - k*ar[i]
					}
				}
				if gb != nil {
					k := gr * c * ib * ib
					d := gb[r*D : (r+1)*D]
					for i := range d {
						d[i] += kab*ar[i] - k*br[i]
					}
				}
			}
		})
	}, a, b)
	return out
}
