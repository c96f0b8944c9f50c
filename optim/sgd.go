package optim

import "github.com/siam-ssl/siam/tensor"

// SGD is stochastic gradient descent with momentum and L2 weight decay, exactly as
// torch.optim.SGD (dampening 0): d = grad + wd*p; buf = m*buf + d; p -= lr*buf
// (or lr*(d + m*buf) with Nesterov).
type SGD struct {
	Groups   []Group
	Momentum float64
	Nesterov bool
	buf      [][]*tensor.Tensor
	steps    int64
}

// NewSGD returns SGD over the groups with the given momentum (0 for plain SGD).
func NewSGD(groups []Group, momentum float64) *SGD {
	return &SGD{Groups: groups, Momentum: momentum, buf: stateBuffers("sgd.momentum", groups)}
}

// Step applies one update at scheduled rate lr.
func (o *SGD) Step(lr float64) {
	m := float32(o.Momentum)
	forEachParam(o.Groups, func(gi, pi int, p *tensor.Tensor) {
		gr := &o.Groups[gi]
		rate, wd := float32(gr.rate(lr)), float32(gr.WeightDecay)
		buf, grad := o.buf[gi][pi].Data, p.Grad
		for i, w := range p.Data {
			d := grad[i] + wd*w
			if m != 0 {
				b := m*buf[i] + d
				buf[i] = b
				if o.Nesterov {
					d += m * b
				} else {
					d = b
				}
			}
			p.Data[i] = w - rate*d
		}
	})
	o.steps++
}

// State returns the momentum buffers, named "sgd.momentum.<param>".
func (o *SGD) State() []*tensor.Tensor { return flatten(o.buf) }

// Steps returns the number of updates taken.
func (o *SGD) Steps() int64 { return o.steps }

// SetSteps restores the update count after loading State from a checkpoint.
func (o *SGD) SetSteps(n int64) { o.steps = n }
