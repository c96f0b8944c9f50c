package ssl

import (
	"fmt"
	"math/rand/v2"

	"github.com/siam-ssl/siam/nn"
	"github.com/siam-ssl/siam/optim"
	"github.com/siam-ssl/siam/tensor"
)

func init() {
	Register("byol", func(cfg Config, seed uint64) (Method, error) { return NewBYOL(cfg, seed) })
}

// BYOL is Bootstrap Your Own Latent (Grill et al. 2020), as its reference code
// builds it:
//
//   - online encoder f = backbone + projector, predictor q; the projector and the
//     predictor are the paper's MLP: Linear (with bias) -> BN -> ReLU -> Linear
//     (no bias), BN on the hidden layer only, no final BN;
//   - target encoder: an EMA copy of f (see emaTarget), momentum m0 = 0.99 by
//     default rising to 1 on a cosine over the run, updated after every
//     optimizer step with m(step-1) as the reference does; its BN layers use
//     batch statistics while training and keep their own running statistics;
//   - loss, symmetrised and stop-gradient on the target:
//     L = mean(2 - 2 cos(q(f(x1)), sg(f'(x2)))) + mean(2 - 2 cos(q(f(x2)), sg(f'(x1)))),
//     the sum of both directions as in the paper (L_BYOL = L + L~), so it
//     ranges from 0 (perfect agreement) to 8.
//
// Sizes: ProjDim is the output of projector and predictor (256 in the paper),
// PredHidden the hidden size of both MLPs (4096); zero values scale with the
// backbone, 4*W and 64*W at base width W (see momentumHeadDefaults).
//
// Optimisation: the reference trains everything with LARS on one cosine
// schedule (the predictor is not held at a fixed rate). Here BYOL takes the
// run's optimizer like every method; ParamGroups puts the predictor in its own
// group, at the fixed rate when fix_predictor_lr is set (the SimSiam default),
// so set fix_predictor_lr: false to follow the reference.
type BYOL struct {
	Config    Config
	Net       nn.Backbone    // the online backbone (also returned by Backbone)
	Encoder   *nn.Collection // online backbone + projector
	Predictor *nn.Collection // predictor
	All       *nn.Collection // Encoder then Predictor (state dict); BNs also hold the target's

	proj, pred *mlp
	target     *emaTarget
}

// byolHead is the BYOL paper's MLP: Linear(bias) -> BN -> ReLU -> Linear.
func byolHead(in, hidden, out int) mlpSpec {
	return mlpSpec{layers: 2, in: in, hidden: hidden, out: out, firstBias: true}
}

// NewBYOL builds BYOL with seeded initialisation. Names follow PyTorch:
// backbone.*, projector.{0,1,3}.*, predictor.{0,1,3}.*; the target encoder's
// tensors are target.backbone.*, target.projector.* (ExtraState).
func NewBYOL(cfg Config, seed uint64) (*BYOL, error) {
	rng := rand.New(rand.NewPCG(seed, 0xb401))
	m := &BYOL{Encoder: &nn.Collection{}, Predictor: &nn.Collection{}}
	bb, err := nn.NewBackbone(m.Encoder, "backbone.", cfg.Backbone, rng)
	if err != nil {
		return nil, err
	}
	cfg = momentumHeadDefaults(cfg, bb)
	if cfg.ProjDim < 1 || cfg.PredHidden < 1 {
		return nil, fmt.Errorf("byol: projector output %d and hidden size %d must be positive", cfg.ProjDim, cfg.PredHidden)
	}
	if cfg.EMAMomentum == 0 {
		cfg.EMAMomentum = DefaultEMAMomentum
	}
	m.Config, m.Net = cfg, bb
	d, p, h := bb.FeatureDim(), cfg.ProjDim, cfg.PredHidden
	build := func(c *nn.Collection, prefix string, rng *rand.Rand) (nn.Backbone, *mlp, error) {
		net := bb
		if prefix != "" {
			var err error
			if net, err = nn.NewBackbone(c, prefix+"backbone.", cfg.Backbone, rng); err != nil {
				return nil, nil, err
			}
		}
		proj, err := newMLP(c, prefix+"projector.", byolHead(d, h, p), rng)
		return net, proj, err
	}
	if _, m.proj, err = build(m.Encoder, "", rng); err != nil {
		return nil, fmt.Errorf("byol: %w", err)
	}
	if m.pred, err = newMLP(m.Predictor, "predictor.", byolHead(p, h, p), rng); err != nil {
		return nil, fmt.Errorf("byol: %w", err)
	}
	if m.target, err = newEMATarget(m.Encoder, build, cfg.EMAMomentum, 1); err != nil {
		return nil, fmt.Errorf("byol: %w", err)
	}
	m.All = &nn.Collection{}
	m.All.Add(m.Encoder)
	m.All.Add(m.Predictor)
	m.All.BNs = append(m.All.BNs, m.target.State.BNs...)
	return m, nil
}

// Name is "byol".
func (m *BYOL) Name() string { return "byol" }

// Views is 2.
func (m *BYOL) Views() int { return 2 }

// Backbone returns the online backbone, whose features are evaluated.
func (m *BYOL) Backbone() nn.Backbone { return m.Net }

// Represent returns the online backbone's representation [N, d].
func (m *BYOL) Represent(g *tensor.Graph, x *tensor.Tensor) *tensor.Tensor {
	return m.Net.Forward(g, x)
}

// Modules returns the trainable online networks in state-dict order; its BNs
// also include the target's, so that switching and restoring the training
// mode through Modules covers every network.
func (m *BYOL) Modules() *nn.Collection { return m.All }

// SetTraining switches every BN layer, online and target (model.train() /
// model.eval() in PyTorch).
func (m *BYOL) SetTraining(v bool) { m.All.SetTraining(v) }

// Target returns the target encoder's parameters and BN statistics.
func (m *BYOL) Target() *nn.Collection { return m.target.State }

// Momentum is the target momentum the update after step (1-based) of total uses.
func (m *BYOL) Momentum(step, total int) float64 { return m.target.Momentum(step, total) }

// Loss returns the symmetrised BYOL loss L + L~ (one element). Each view is a
// separate batch for every BN layer, online and target, as in the reference.
//
// The target runs first: the two networks share no layer, so the order changes
// no value, and the buffers of its forward passes (handed back at once, see
// emaTarget.Encode) are then reused by the online network's.
func (m *BYOL) Loss(g *tensor.Graph, x1, x2 *tensor.Tensor) *tensor.Tensor {
	t1, t2 := m.target.Encode(g, x1), m.target.Encode(g, x2)
	z1 := m.proj.Forward(g, m.Net.Forward(g, x1))
	z2 := m.proj.Forward(g, m.Net.Forward(g, x2))
	p1, p2 := m.pred.Forward(g, z1), m.pred.Forward(g, z2)
	c1 := g.Mean(g.CosineSimilarity(p1, tensor.Detach(t2), 1e-8))
	c2 := g.Mean(g.CosineSimilarity(p2, tensor.Detach(t1), 1e-8))
	// mean(2-2cos_1) + mean(2-2cos_2) = 4 - 2 (mean cos_1 + mean cos_2)
	return g.AddScalar(g.Scale(g.Add(c1, c2), -2), 4)
}

// ParamGroups returns the online encoder on the schedule and the predictor,
// at the fixed rate lr when fixPredictor (see BYOL), both with weight decay wd.
// The target is not trained by the optimizer.
func (m *BYOL) ParamGroups(lr, wd float64, fixPredictor bool) []optim.Group {
	return []optim.Group{
		{Params: m.Encoder.Params, WeightDecay: wd},
		{Params: m.Predictor.Params, WeightDecay: wd, FixedLR: fixPredictor, LR: lr},
	}
}

// AfterStep moves the target towards the online encoder with momentum
// m(step-1) of total (BYOL updates after optimizer step i with m(i)).
func (m *BYOL) AfterStep(step, total int) { m.target.Update(step, total) }

// ExtraState is the target encoder: parameters then BN statistics, named target.*.
func (m *BYOL) ExtraState() []*tensor.Tensor { return m.target.State.StateDict() }

// FLOPs per image of one training step on h x w inputs: both views through the
// online network forward and backward (3x a forward) plus both views through
// the target forward.
func (m *BYOL) FLOPs(h, w int) float64 {
	online := m.Net.FLOPs(h, w) + m.proj.FLOPs() + m.pred.FLOPs()
	return 2 * (3*online + m.target.FLOPs(h, w))
}
