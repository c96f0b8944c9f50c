package tensor

import (
	"math"

	"github.com/siam-ssl/siam/parallel"
)

// Softmax normalises exp(x) over the last dimension, subtracting each row's maximum
// first so large logits do not overflow. x must have rank >= 1.
func (g *Graph) Softmax(x *Tensor) *Tensor { return g.softmax("softmax", x, false) }

// LogSoftmax is log(Softmax(x)) computed stably over the last dimension as
// x - max - log(sum(exp(x - max))). x must have rank >= 1.
func (g *Graph) LogSoftmax(x *Tensor) *Tensor { return g.softmax("log_softmax", x, true) }

// smRow writes the softmax (or log-softmax) of one row x into y and returns
// log(sum(exp(x - max))) + max, the row's log-sum-exp.
func smRow(y, x []float32, logOut bool) float64 {
	y = y[:len(x)]
	m := float32(math.Inf(-1))
	for _, v := range x {
		m = max(m, v)
	}
	if math.IsInf(float64(m), -1) { // all -Inf (or empty): avoid -Inf - -Inf
		m = 0
	}
	var s float64
	for i, v := range x {
		e := math.Exp(float64(v - m))
		s += e
		if !logOut {
			y[i] = float32(e)
		}
	}
	ls := math.Log(s)
	if logOut {
		for i, v := range x {
			y[i] = float32(float64(v-m) - ls)
		}
	} else {
		inv := 1 / s
		for i := range y {
			y[i] = float32(float64(y[i]) * inv)
		}
	}
	return ls + float64(m)
}

func (g *Graph) softmax(op string, x *Tensor, logOut bool) *Tensor {
	if !g.OK(op, x) {
		return g.dead
	}
	if x.Rank() < 1 {
		return g.Fail(op, "need rank >= 1", x)
	}
	D := x.Dim(-1)
	out := g.Alloc(x.shape...)
	if D == 0 {
		return out
	}
	rows := len(x.Data) / D
	xd, od := x.Data, out.Data
	grain := max(1, ewGrain/(8*D))
	parallel.ForGrain(rows, grain, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			smRow(od[r*D:(r+1)*D], xd[r*D:(r+1)*D], logOut)
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
				if logOut { // dx = dy - softmax * sum(dy)
					var s float64
					for _, v := range dy {
						s += float64(v)
					}
					for i, v := range y {
						dx[i] += dy[i] - float32(math.Exp(float64(v))*s)
					}
				} else { // dx = y * (dy - sum(dy * y))
					var s float64
					for i, v := range y {
						s += float64(v) * float64(dy[i])
					}
					dot := float32(s)
					for i, v := range y {
						dx[i] += v * (dy[i] - dot)
					}
				}
			}
		})
	}, x)
	return out
}
