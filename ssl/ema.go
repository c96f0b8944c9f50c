package ssl

import (
	"fmt"
	"math/rand/v2"

	"github.com/siam-ssl/siam/nn"
	"github.com/siam-ssl/siam/optim"
	"github.com/siam-ssl/siam/tensor"
)

// TargetPrefix starts the names of a momentum encoder's tensors in a method's
// ExtraState (target.backbone.conv1.weight, target.projector.0.weight, ...), so
// they never clash with the online network's state-dict names.
const TargetPrefix = "target."

// DefaultEMAMomentum is the base momentum of BYOL's and MoCo v3's target
// encoders when Config.EMAMomentum is 0 (both references' ResNet setting is 0.99
// for short schedules: BYOL's 0.99 at batch 256-512, MoCo v3's --moco-m 0.99).
const DefaultEMAMomentum = 0.99

// encoderBuilder registers an encoder (backbone under prefix+"backbone.",
// projector under prefix+"projector.") in c, initialised from rng. A method
// calls it once with prefix "" for its online encoder and once more, through
// newEMATarget, with TargetPrefix for the momentum copy, so both are built the
// same way and pair up name by name.
type encoderBuilder func(c *nn.Collection, prefix string, rng *rand.Rand) (nn.Backbone, *mlp, error)

// emaTarget is the momentum ("target") encoder of BYOL and MoCo v3: a deep copy
// of the online backbone + projector whose parameters follow the online ones as
// an exponential moving average,
//
//	target = m(k) * target + (1 - m(k)) * online,
//	m(k) = 1 - (1 - m0) * (cos(pi*k/K) + 1) / 2,
//
// m0 the base momentum, K the run's total steps (m rises from m0 to 1).
//
// BN running statistics are not averaged: as in both references (BYOL's
// target_state is the state returned by the target's own forward pass; MoCo v3
// updates only parameters(), never buffers(), of its momentum encoder) the
// target's BN layers normalise with batch statistics while training and update
// their own running statistics from the batches they see. They start as a copy
// of the online network's. Parameters and statistics live in State and travel
// in checkpoints as the method's ExtraState.
type emaTarget struct {
	State *nn.Collection // target.* parameters then BN statistics
	net   nn.Backbone
	proj  *mlp
	ema   *optim.EMA
	// lag maps the trainer's completed-step count to the schedule's k: BYOL
	// updates after optimizer step i (0-based) with m(i), i.e. k = step-1 (lag
	// 1); MoCo v3 updates before step i with m(i), i.e. after step i-1
	// completes, so k = step (lag 0).
	lag int
}

// newEMATarget builds the momentum copy of online (the encoder build
// registered with prefix "") and copies its parameters and BN statistics.
func newEMATarget(online *nn.Collection, build encoderBuilder, base float64, lag int) (*emaTarget, error) {
	if !(base >= 0 && base < 1) {
		return nil, fmt.Errorf("ema momentum %v out of range [0, 1)", base)
	}
	t := &emaTarget{State: &nn.Collection{}, lag: lag}
	var err error
	// Every value is overwritten from the online encoder below; this generator
	// only feeds the constructors.
	if t.net, t.proj, err = build(t.State, TargetPrefix, rand.New(rand.NewPCG(0, 0))); err != nil {
		return nil, err
	}
	pair := func(what string, tgt, on []*tensor.Tensor) error {
		if len(tgt) != len(on) {
			return fmt.Errorf("target encoder: %d %s, online encoder %d", len(tgt), what, len(on))
		}
		for i := range tgt {
			if tgt[i].Name != TargetPrefix+on[i].Name {
				return fmt.Errorf("target encoder: %s %s pairs with %s", what, tgt[i].Name, on[i].Name)
			}
		}
		return nil
	}
	if err := pair("parameters", t.State.Params, online.Params); err != nil {
		return nil, err
	}
	if err := pair("buffers", t.State.Buffers, online.Buffers); err != nil {
		return nil, err
	}
	for i, b := range t.State.Buffers {
		copy(b.Data, online.Buffers[i].Data)
	}
	if t.ema, err = optim.NewEMA(t.State.Params, online.Params, base); err != nil {
		return nil, err
	}
	t.ema.Cosine = true
	for _, p := range t.State.Params {
		p.Grad = nil // never trained: no gradient buffer
	}
	return t, nil
}

// Encode runs the target encoder on x without recording gradients (the
// stop-gradient of both methods) and returns its projection. It runs in a
// tensor.NoGradScope: its activations go back to the graph's arena as soon as
// the projection is out, so the target adds the working set of one forward
// pass to a step's memory, not the activations of both views.
func (t *emaTarget) Encode(g *tensor.Graph, x *tensor.Tensor) *tensor.Tensor {
	return g.NoGradScope(func() *tensor.Tensor { return t.proj.Forward(g, t.net.Forward(g, x)) })
}

// Momentum is m(k) after the trainer's step (1-based) of total.
func (t *emaTarget) Momentum(step, total int) float64 {
	t.ema.Total = total
	return t.ema.Momentum(step - t.lag)
}

// Update moves the target's parameters towards the online ones after step
// (1-based) of total.
func (t *emaTarget) Update(step, total int) {
	t.ema.Total = total
	t.ema.Update(step - t.lag)
}

// FLOPs is one forward pass of the target over one h x w image.
func (t *emaTarget) FLOPs(h, w int) float64 { return t.net.FLOPs(h, w) + t.proj.FLOPs() }
