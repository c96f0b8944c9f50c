package tensor

import (
	"github.com/siam-ssl/siam/parallel"
)

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
		g.be.ReLU(hb(od[lo:hi]), hb(xd[lo:hi]))
	})
	g.Record(out, func() {
		if !x.requiresGrad {
			return
		}
		gy := out.Grad
		gx, fresh := g.gradOut(x)
		parallel.ForGrain(len(od), 1<<15, func(lo, hi int) {
			g.maskInto(gx[lo:hi], gy[lo:hi], od[lo:hi], !fresh)
		})
	}, x)
	return out
}

// maskInto writes (acc: adds) dx = dy where y > 0, 0 elsewhere. y must be a ReLU
// output (every value +0 or positive): the overwrite form then works on bit
// patterns alone (kernels.ReLUMaskGrad).
func (g *Graph) maskInto(dx, dy, y []float32, acc bool) {
	if acc {
		g.be.ReLUMaskGrad(hb(dx), hb(dy), hb(y), true)
	} else {
		g.be.ReLUMaskGrad(hb(dx), hb(dy), hb(y), false)
	}
}
