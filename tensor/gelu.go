package tensor

import (
	"github.com/siam-ssl/siam/parallel"
)

// GELU is x * Phi(x) with the exact erf form (PyTorch's default), the activation
// of a transformer's MLP.
//
// Both passes run kernels.GELU / kernels.GELUGrad: float32 rational and
// polynomial approximations of erf and exp, within 5e-7 of the float64 result
// relative to max(1, |value|), vectorised where the CPU allows (a ViT's MLP
// evaluates millions of these per layer, so float64 math.Erf would cost more
// than its matrix products). The backward pass recomputes Phi from the saved
// input: d/dx = Phi(x) + x*exp(-x*x/2)/sqrt(2*pi).
func (g *Graph) GELU(x *Tensor) *Tensor {
	if !g.OK("gelu", x) {
		return g.dead
	}
	out := g.Alloc(x.shape...)
	xd, od := x.Data, out.Data
	parallel.ForGrain(len(xd), 1<<14, func(lo, hi int) {
		g.be.GELU(hb(od[lo:hi]), hb(xd[lo:hi]))
	})
	g.Record(out, func() {
		if !x.requiresGrad {
			return
		}
		gy := out.Grad
		gx, fresh := g.gradOut(x)
		parallel.ForGrain(len(xd), 1<<14, func(lo, hi int) {
			g.be.GELUGrad(hb(gx[lo:hi]), hb(gy[lo:hi]), hb(xd[lo:hi]), !fresh)
		})
	}, x)
	return out
}
