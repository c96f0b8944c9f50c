package tensor

import (
	"math"

	"github.com/siam-ssl/siam/parallel"
)

// GELU is x * Phi(x) with the exact erf form (PyTorch's default).
//
// Phi is evaluated as 0.5*(1+erf(x/sqrt 2)) with math.Erf in float64; the
// backward pass recomputes it: d/dx = Phi(x) + x*exp(-x*x/2)/sqrt(2*pi).
func (g *Graph) GELU(x *Tensor) *Tensor {
	if !g.OK("gelu", x) {
		return g.dead
	}
	out := g.Alloc(x.shape...)
	xd, od := x.Data, out.Data
	parallel.ForGrain(len(xd), 1<<12, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			v := float64(xd[i])
			od[i] = float32(0.5 * v * (1 + math.Erf(v*(1/math.Sqrt2))))
		}
	})
	g.Record(out, func() {
		if !x.requiresGrad {
			return
		}
		gy := out.Grad
		gx, fresh := g.gradOut(x)
		const invSqrt2Pi = 0.3989422804014327 // 1/sqrt(2*pi)
		parallel.ForGrain(len(xd), 1<<12, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				v := float64(xd[i])
				d := 0.5*(1+math.Erf(v*(1/math.Sqrt2))) + v*invSqrt2Pi*math.Exp(-0.5*v*v)
				r := float32(d * float64(gy[i]))
				if fresh {
					gx[i] = r
				} else {
					gx[i] += r
				}
			}
		})
	}, x)
	return out
}
