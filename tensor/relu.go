package tensor

import "github.com/siam-ssl/siam/parallel"

// ReLU returns max(x, 0) elementwise.
func (g *Graph) ReLU(x *Tensor) *Tensor {
	if !g.OK("relu", x) {
		return g.dead
	}
	out := g.Alloc(x.shape...)
	xd, od := x.Data, out.Data
	parallel.ForGrain(len(xd), 1<<15, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			if v := xd[i]; v > 0 {
				od[i] = v
			} else {
				od[i] = 0
			}
		}
	})
	g.Record(out, func() {
		if !x.requiresGrad {
			return
		}
		gx, gy := g.GradOf(x), out.Grad
		parallel.ForGrain(len(od), 1<<15, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				if od[i] > 0 {
					gx[i] += gy[i]
				}
			}
		})
	}, x)
	return out
}
