package optim

import (
	"math"

	"github.com/siam-ssl/siam/tensor"
)

// AdamW is Adam with decoupled weight decay, as torch.optim.AdamW:
// p *= 1 - lr*wd; m = b1*m + (1-b1)*g; v = b2*v + (1-b2)*g^2;
// p -= lr * m/(1-b1^t) / (sqrt(v/(1-b2^t)) + eps).
type AdamW struct {
	Groups       []Group
	Beta1, Beta2 float64
	Eps          float64
	m, v         [][]*tensor.Tensor
	steps        int64
}

// NewAdamW returns AdamW with betas (0.9, 0.999) and eps 1e-8.
func NewAdamW(groups []Group) *AdamW {
	return &AdamW{Groups: groups, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8,
		m: stateBuffers("adamw.m", groups), v: stateBuffers("adamw.v", groups)}
}

// Step applies one update at scheduled rate lr.
func (o *AdamW) Step(lr float64) {
	o.steps++
	t := float64(o.steps)
	c1, c2 := 1-math.Pow(o.Beta1, t), 1-math.Pow(o.Beta2, t)
	b1, b2, eps := float32(o.Beta1), float32(o.Beta2), float32(o.Eps)
	forEachParam(o.Groups, func(gi, pi int, p *tensor.Tensor) {
		gr := &o.Groups[gi]
		rate := gr.rate(lr)
		decay := float32(1 - rate*gr.WeightDecay)
		step := float32(rate / c1)
		sc2 := float32(1 / math.Sqrt(c2))
		m, v, grad := o.m[gi][pi].Data, o.v[gi][pi].Data, p.Grad
		for i, w := range p.Data {
			gv := grad[i]
			mi := b1*m[i] + (1-b1)*gv
			vi := b2*v[i] + (1-b2)*gv*gv
			m[i], v[i] = mi, vi
			den := float32(math.Sqrt(float64(vi)))*sc2 + eps
			p.Data[i] = w*decay - step*mi/den
		}
	})
}

// State returns the first and second moment buffers.
func (o *AdamW) State() []*tensor.Tensor { return append(flatten(o.m), flatten(o.v)...) }

// Steps returns the number of updates taken (used for bias correction).
func (o *AdamW) Steps() int64 { return o.steps }

// SetSteps restores the update count after loading State from a checkpoint.
func (o *AdamW) SetSteps(n int64) { o.steps = n }
