package optim

import (
	"math"

	"github.com/siam-ssl/siam/tensor"
)

// LARS is layer-wise adaptive rate scaling as in the SimSiam/MoCo v3 linear-probe
// code: for parameters not excluded (by default those of rank > 1, so BN and bias
// are excluded) the update d = grad + wd*p is scaled by trust*||p||/||d|| before
// momentum; excluded parameters get neither weight decay nor scaling.
type LARS struct {
	Groups   []Group
	Momentum float64
	Trust    float64                   // trust coefficient, 0.001 in the reference
	Exclude  func(*tensor.Tensor) bool // nil: exclude rank <= 1
	buf      [][]*tensor.Tensor
	steps    int64
}

// NewLARS returns LARS with the reference trust coefficient 0.001.
func NewLARS(groups []Group, momentum float64) *LARS {
	return &LARS{Groups: groups, Momentum: momentum, Trust: 0.001, buf: stateBuffers("lars.momentum", groups)}
}

// Step applies one update at scheduled rate lr.
func (o *LARS) Step(lr float64) {
	m := float32(o.Momentum)
	forEachParam(o.Groups, func(gi, pi int, p *tensor.Tensor) {
		gr := &o.Groups[gi]
		rate := float32(gr.rate(lr))
		excluded := p.Rank() <= 1
		if o.Exclude != nil {
			excluded = o.Exclude(p)
		}
		buf, grad := o.buf[gi][pi].Data, p.Grad
		q, wd := float32(1), float32(0)
		if !excluded {
			wd = float32(gr.WeightDecay)
			var pn, un float64
			for i, w := range p.Data {
				d := float64(grad[i] + wd*w)
				pn += float64(w) * float64(w)
				un += d * d
			}
			if pn > 0 && un > 0 {
				q = float32(o.Trust * math.Sqrt(pn) / math.Sqrt(un))
			}
		}
		for i, w := range p.Data {
			d := (grad[i] + wd*w) * q
			b := m*buf[i] + d
			buf[i] = b
			p.Data[i] = w - rate*b
		}
	})
	o.steps++
}

// State returns the momentum buffers, named "lars.momentum.<param>".
func (o *LARS) State() []*tensor.Tensor { return flatten(o.buf) }

// Steps returns the number of updates taken.
func (o *LARS) Steps() int64 { return o.steps }

// SetSteps restores the update count after loading State from a checkpoint.
func (o *LARS) SetSteps(n int64) { o.steps = n }
