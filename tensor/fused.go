package tensor

import (
	"github.com/siam-ssl/siam/parallel"
)

// AddReLU returns ReLU(a + b) for same-shaped a and b in one pass: the residual join
// of a ResNet block.
//
// The backward pass reads the output once to mask the incoming gradient and hands
// the masked gradient to both inputs in the same pass.
func (g *Graph) AddReLU(a, b *Tensor) *Tensor {
	if !g.OK("add_relu", a, b) {
		return g.dead
	}
	if !SameShape(a.shape, b.shape) {
		return g.Fail("add_relu", "shapes differ", a, b)
	}
	out := g.Alloc(a.shape...)
	ad, bd, od := a.Data, b.Data, out.Data
	parallel.ForGrain(len(od), 1<<15, func(lo, hi int) {
		g.be.AddReLU(hb(od[lo:hi]), hb(ad[lo:hi]), hb(bd[lo:hi]))
	})
	g.Record(out, func() {
		gy := out.Grad
		var ga, gb []float32
		var accA, accB bool
		if a.requiresGrad {
			var fresh bool
			ga, fresh = g.gradOut(a)
			accA = !fresh
		}
		if b.requiresGrad { // after a: AddReLU(x, x) then accumulates into x's buffer
			var fresh bool
			gb, fresh = g.gradOut(b)
			accB = !fresh
		}
		parallel.ForGrain(len(od), 1<<15, func(lo, hi int) {
			switch {
			case ga != nil && gb != nil && !accA && !accB:
				// Both fresh: one pass, two writes.
				g.be.ReLUMaskGradPair(hb(ga[lo:hi]), hb(gb[lo:hi]), hb(gy[lo:hi]), hb(od[lo:hi]))
			default:
				if ga != nil {
					g.maskInto(ga[lo:hi], gy[lo:hi], od[lo:hi], accA)
				}
				if gb != nil {
					g.maskInto(gb[lo:hi], gy[lo:hi], od[lo:hi], accB)
				}
			}
		})
	}, a, b)
	return out
}
