package tensor

import "github.com/siam-ssl/siam/parallel"

// ReLU returns max(x, 0) elementwise.
//
// Both passes are branch-free (the select goes through the sign bit), so random
// signs cost no mispredictions; the backward pass writes a fresh gradient buffer
// instead of clearing it and adding.
func (g *Graph) ReLU(x *Tensor) *Tensor {
	if !g.OK("relu", x) {
		return g.dead
	}
	out := g.Alloc(x.shape...)
	xd, od := x.Data, out.Data
	parallel.ForGrain(len(xd), 1<<15, func(lo, hi int) {
		reluInto(od[lo:hi], xd[lo:hi])
	})
	g.Record(out, func() {
		if !x.requiresGrad {
			return
		}
		gy := out.Grad
		gx, fresh := g.gradOut(x)
		parallel.ForGrain(len(od), 1<<15, func(lo, hi int) {
			maskInto(gx[lo:hi], gy[lo:hi], od[lo:hi], !fresh)
		})
	}, x)
	return out
}
