package ssl

import (
	"math/rand/v2"

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
//
// The online and target networks, their parameter groups, AfterStep,
// ExtraState and FLOPs are those MoCo v3 has too (emaSiamese, in ema.go): its
// fields Config, Net, Encoder, Predictor and All are emaSiamese's.
type BYOL struct {
	emaSiamese
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
	m := &BYOL{}
	err := m.init("byol", cfg, rng, 1, func(c *Config, d int) (mlpSpec, mlpSpec, error) {
		p, h := c.ProjDim, c.PredHidden
		return byolHead(d, h, p), byolHead(p, h, p), nil
	})
	if err != nil {
		return nil, err
	}
	return m, nil
}

// Name is "byol".
func (m *BYOL) Name() string { return "byol" }

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
