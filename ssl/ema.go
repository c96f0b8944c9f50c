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

// emaSiamese is what BYOL and MoCo v3 share: an online encoder (backbone +
// projector), a predictor on top of it, and the EMA copy of the encoder
// (emaTarget) that gives the targets. Both methods embed it and add their own
// Name and Loss (and MoCo v3 its temperature); the methods below are theirs.
type emaSiamese struct {
	Config    Config
	Net       nn.Backbone    // the online backbone (also returned by Backbone)
	Encoder   *nn.Collection // online backbone + projector
	Predictor *nn.Collection // predictor
	All       *nn.Collection // Encoder then Predictor (state dict); BNs also hold the target's

	proj, pred *mlp
	target     *emaTarget
}

// emaHeads gives the projector and predictor of a method built by
// emaSiamese.init, once head sizes and momentum have their defaults: d is the
// backbone's feature size, c the method's config, which it may complete
// (MoCo v3's temperature) or reject with an error naming the method.
type emaHeads func(c *Config, d int) (proj, pred mlpSpec, err error)

// init builds the networks of method name (the prefix of its errors) from
// rng, in the order that fixes every initial value: online backbone, online
// projector, predictor; then the target as a copy of the online encoder,
// following it with schedule lag lag (see emaTarget). Head sizes default as
// momentumHeadDefaults says, the base momentum to DefaultEMAMomentum.
func (m *emaSiamese) init(name string, cfg Config, rng *rand.Rand, lag int, heads emaHeads) error {
	m.Encoder, m.Predictor = &nn.Collection{}, &nn.Collection{}
	bb, err := nn.NewBackbone(m.Encoder, "backbone.", cfg.Backbone, rng)
	if err != nil {
		return err
	}
	cfg = momentumHeadDefaults(cfg, bb)
	if cfg.ProjDim < 1 || cfg.PredHidden < 1 {
		return fmt.Errorf("%s: projector output %d and hidden size %d must be positive", name, cfg.ProjDim, cfg.PredHidden)
	}
	if cfg.EMAMomentum == 0 {
		cfg.EMAMomentum = DefaultEMAMomentum
	}
	projSpec, predSpec, err := heads(&cfg, bb.FeatureDim())
	if err != nil {
		return err
	}
	m.Config, m.Net = cfg, bb
	build := func(c *nn.Collection, prefix string, rng *rand.Rand) (nn.Backbone, *mlp, error) {
		net := bb
		if prefix != "" {
			var err error
			if net, err = nn.NewBackbone(c, prefix+"backbone.", cfg.Backbone, rng); err != nil {
				return nil, nil, err
			}
		}
		proj, err := newMLP(c, prefix+"projector.", projSpec, rng)
		return net, proj, err
	}
	if _, m.proj, err = build(m.Encoder, "", rng); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if m.pred, err = newMLP(m.Predictor, "predictor.", predSpec, rng); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if m.target, err = newEMATarget(m.Encoder, build, cfg.EMAMomentum, lag); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	m.All = &nn.Collection{}
	m.All.Add(m.Encoder)
	m.All.Add(m.Predictor)
	m.All.BNs = append(m.All.BNs, m.target.State.BNs...)
	return nil
}

// Views is 2.
func (m *emaSiamese) Views() int { return 2 }

// Backbone returns the online backbone, whose features are evaluated.
func (m *emaSiamese) Backbone() nn.Backbone { return m.Net }

// Represent returns the online backbone's representation [N, d].
func (m *emaSiamese) Represent(g *tensor.Graph, x *tensor.Tensor) *tensor.Tensor {
	return m.Net.Forward(g, x)
}

// Modules returns the trainable online networks in state-dict order; its BNs
// also include the target's, so that switching and restoring the training
// mode through Modules covers every network.
func (m *emaSiamese) Modules() *nn.Collection { return m.All }

// SetTraining switches every BN layer, online and target (model.train() /
// model.eval() in PyTorch).
func (m *emaSiamese) SetTraining(v bool) { m.All.SetTraining(v) }

// Target returns the target (momentum) encoder's parameters and BN statistics.
func (m *emaSiamese) Target() *nn.Collection { return m.target.State }

// Momentum is the target momentum the update after step (1-based) of total
// uses: m(step-1) for BYOL, m(step) for MoCo v3 (see emaTarget).
func (m *emaSiamese) Momentum(step, total int) float64 { return m.target.Momentum(step, total) }

// ParamGroups returns the online encoder on the schedule and the predictor,
// at the fixed rate lr when fixPredictor (see BYOL, MoCoV3), both with weight
// decay wd. The target is not trained by the optimizer.
func (m *emaSiamese) ParamGroups(lr, wd float64, fixPredictor bool) []optim.Group {
	return []optim.Group{
		{Params: m.Encoder.Params, WeightDecay: wd},
		{Params: m.Predictor.Params, WeightDecay: wd, FixedLR: fixPredictor, LR: lr},
	}
}

// AfterStep moves the target towards the online encoder after step (1-based)
// of total, with momentum m(step-1) for BYOL (its update after optimizer step
// i uses m(i)) and m(step) for MoCo v3 (the reference's update before the
// next step).
func (m *emaSiamese) AfterStep(step, total int) { m.target.Update(step, total) }

// ExtraState is the target encoder: parameters then BN statistics, named target.*.
func (m *emaSiamese) ExtraState() []*tensor.Tensor { return m.target.State.StateDict() }

// FLOPs per image of one training step on h x w inputs: both views through the
// online network forward and backward (3x a forward) plus both views through
// the target forward. MoCo v3's N x N logits (2*N*ProjDim per image and loss,
// N the batch) are left out: FLOPs does not know the batch, and they are far
// below the backbone's share.
func (m *emaSiamese) FLOPs(h, w int) float64 {
	online := m.Net.FLOPs(h, w) + m.proj.FLOPs() + m.pred.FLOPs()
	return 2 * (3*online + m.target.FLOPs(h, w))
}
