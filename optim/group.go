package optim

import (
	"github.com/siam-ssl/siam/parallel"
	"github.com/siam-ssl/siam/tensor"
)

// Group is a set of parameters sharing hyper-parameters. With FixedLR the group
// always uses LR, ignoring the schedule (SimSiam's predictor); otherwise its rate
// is the scheduled rate times LRScale (1 when zero).
type Group struct {
	Params      []*tensor.Tensor
	WeightDecay float64
	FixedLR     bool
	LR          float64 // the group's rate when FixedLR
	LRScale     float64 // multiplier on the scheduled rate; 0 means 1
}

func (gr *Group) rate(lr float64) float64 {
	if gr.FixedLR {
		return gr.LR
	}
	if gr.LRScale != 0 {
		return lr * gr.LRScale
	}
	return lr
}

// Optimizer is what the trainer drives: one Step per batch at the scheduled rate,
// and its per-parameter state for checkpoints.
type Optimizer interface {
	// Step updates every parameter from its Grad at scheduled rate lr.
	Step(lr float64)
	// State returns the optimizer's buffers, named "<kind>.<param name>", for
	// checkpointing; loading copies values back into them.
	State() []*tensor.Tensor
	// Steps returns how many Steps have been taken (restored from State).
	Steps() int64
}

// forEachParam runs fn over every parameter of every group, spreading parameters
// across cores (each parameter is updated by one goroutine).
func forEachParam(groups []Group, fn func(gi, pi int, p *tensor.Tensor)) {
	type ref struct{ g, p int }
	var refs []ref
	for gi := range groups {
		for pi := range groups[gi].Params {
			refs = append(refs, ref{gi, pi})
		}
	}
	parallel.For(len(refs), func(lo, hi int) {
		for _, r := range refs[lo:hi] {
			fn(r.g, r.p, groups[r.g].Params[r.p])
		}
	})
}

func stateBuffers(kind string, groups []Group) [][]*tensor.Tensor {
	out := make([][]*tensor.Tensor, len(groups))
	for gi, gr := range groups {
		for _, p := range gr.Params {
			b := tensor.New(p.Shape()...)
			b.Name = kind + "." + p.Name
			out[gi] = append(out[gi], b)
		}
	}
	return out
}

func flatten(bufs [][]*tensor.Tensor, extra ...*tensor.Tensor) []*tensor.Tensor {
	var out []*tensor.Tensor
	for _, g := range bufs {
		out = append(out, g...)
	}
	return append(out, extra...)
}
