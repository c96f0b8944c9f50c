package ssl

import (
	"fmt"
	"math/rand/v2"

	"github.com/siam-ssl/siam/nn"
	"github.com/siam-ssl/siam/optim"
	"github.com/siam-ssl/siam/tensor"
)

func init() {
	Register("simsiam", func(cfg Config, seed uint64) (Method, error) { return NewSimSiam(cfg, seed) })
}

// headDefaults fills zero head sizes with the paper's values scaled with the
// backbone: projector 4x the feature size (2048 for a width-64 ResNet-18, as
// ../shared/bench/torch_simsiam.py builds), predictor hidden a quarter of the
// projector (512). Bottleneck ResNets keep the width-based 32*Width (2048 at 64).
func headDefaults(c Config, featureDim int) Config {
	if c.ProjDim == 0 {
		c.ProjDim = 4 * featureDim
		if c.Backbone.Width > 0 && 32*c.Backbone.Width < c.ProjDim {
			c.ProjDim = 32 * c.Backbone.Width
		}
	}
	if c.PredHidden == 0 {
		c.PredHidden = max(c.ProjDim/4, 1)
	}
	return c
}

// SimSiam is backbone + projector (the encoder f) and predictor h, trained with
// L = -1/2 [cos(h(f(x1)), sg(f(x2))) + cos(h(f(x2)), sg(f(x1)))].
type SimSiam struct {
	Config    Config
	Net       nn.Backbone    // the backbone (also returned by Backbone)
	Encoder   *nn.Collection // backbone + projector tensors
	Predictor *nn.Collection // predictor tensors
	All       *nn.Collection // both, in state-dict order

	proj   []*nn.Linear
	projBN []*tensor.BatchNorm
	pred   []*nn.Linear
	predBN *tensor.BatchNorm
}

// NewSimSiam builds the model with seeded initialisation. Names follow PyTorch:
// backbone.*, projector.{0,1,3,4,6,7}.*, predictor.{0,1,3}.*.
func NewSimSiam(cfg Config, seed uint64) (*SimSiam, error) {
	rng := rand.New(rand.NewPCG(seed, 0x51a5))
	m := &SimSiam{Encoder: &nn.Collection{}, Predictor: &nn.Collection{}}
	bb, err := nn.NewBackbone(m.Encoder, "backbone.", cfg.Backbone, rng)
	if err != nil {
		return nil, err
	}
	cfg = headDefaults(cfg, bb.FeatureDim())
	if cfg.ProjDim < 1 || cfg.PredHidden < 1 {
		return nil, fmt.Errorf("simsiam: projector %d and predictor hidden %d must be positive", cfg.ProjDim, cfg.PredHidden)
	}
	m.Config, m.Net = cfg, bb
	d, p, h := bb.FeatureDim(), cfg.ProjDim, cfg.PredHidden
	e := m.Encoder
	m.proj = []*nn.Linear{
		nn.NewLinear(e, "projector.0", d, p, false, rng),
		nn.NewLinear(e, "projector.3", p, p, false, rng),
		nn.NewLinear(e, "projector.6", p, p, false, rng),
	}
	m.projBN = []*tensor.BatchNorm{
		nn.NewBatchNorm(e, "projector.1", p, true),
		nn.NewBatchNorm(e, "projector.4", p, true),
		nn.NewBatchNorm(e, "projector.7", p, false),
	}
	pr := m.Predictor
	m.pred = []*nn.Linear{
		nn.NewLinear(pr, "predictor.0", p, h, false, rng),
		nn.NewLinear(pr, "predictor.3", h, p, true, rng),
	}
	m.predBN = nn.NewBatchNorm(pr, "predictor.1", h, true)
	m.All = &nn.Collection{}
	m.All.Add(m.Encoder)
	m.All.Add(m.Predictor)
	return m, nil
}

// Represent returns the backbone representation [N, d] (after global pooling): what
// collapse and k-NN are measured on.
func (m *SimSiam) Represent(g *tensor.Graph, x *tensor.Tensor) *tensor.Tensor {
	return m.Net.Forward(g, x)
}

// Name is "simsiam".
func (m *SimSiam) Name() string { return "simsiam" }

// Views is 2: SimSiam compares two augmented views.
func (m *SimSiam) Views() int { return 2 }

// Backbone returns the network whose features are evaluated.
func (m *SimSiam) Backbone() nn.Backbone { return m.Net }

// Modules returns backbone, projector and predictor in state-dict order.
func (m *SimSiam) Modules() *nn.Collection { return m.All }

// AfterStep does nothing: SimSiam has no target network or queue.
func (m *SimSiam) AfterStep(step, total int) {}

// ExtraState is empty: everything SimSiam holds is in Modules.
func (m *SimSiam) ExtraState() []*tensor.Tensor { return nil }

// Project applies the projector to representations, giving z.
func (m *SimSiam) Project(g *tensor.Graph, r *tensor.Tensor) *tensor.Tensor {
	z := g.BatchNormReLU(m.proj[0].Forward(g, r), m.projBN[0])
	z = g.BatchNormReLU(m.proj[1].Forward(g, z), m.projBN[1])
	return g.BatchNorm(m.proj[2].Forward(g, z), m.projBN[2])
}

// Predict applies the predictor to z, giving p.
func (m *SimSiam) Predict(g *tensor.Graph, z *tensor.Tensor) *tensor.Tensor {
	h := g.BatchNormReLU(m.pred[0].Forward(g, z), m.predBN)
	return m.pred[1].Forward(g, h)
}

// Encode is Project(Represent(x)): the encoder f.
func (m *SimSiam) Encode(g *tensor.Graph, x *tensor.Tensor) *tensor.Tensor {
	return m.Project(g, m.Represent(g, x))
}

// Loss runs both views through the model and returns the symmetrised negative
// cosine loss (a one-element tensor); each view is a separate batch, so BN uses
// per-view statistics as in the reference implementation.
func (m *SimSiam) Loss(g *tensor.Graph, x1, x2 *tensor.Tensor) *tensor.Tensor {
	z1 := m.Encode(g, x1)
	z2 := m.Encode(g, x2)
	p1, p2 := m.Predict(g, z1), m.Predict(g, z2)
	return NegCosine(g, p1, p2, z1, z2)
}

// NegCosine is -1/2 [mean cos(p1, sg(z2)) + mean cos(p2, sg(z1))], SimSiam's loss
// (ranges from -1, perfect agreement, to 1).
func NegCosine(g *tensor.Graph, p1, p2, z1, z2 *tensor.Tensor) *tensor.Tensor {
	c1 := g.Mean(g.CosineSimilarity(p1, tensor.Detach(z2), 1e-8))
	c2 := g.Mean(g.CosineSimilarity(p2, tensor.Detach(z1), 1e-8))
	return g.Scale(g.Add(c1, c2), -0.5)
}

// SetTraining switches every BN layer of the model.
func (m *SimSiam) SetTraining(v bool) { m.All.SetTraining(v) }

// ParamGroups returns the optimizer groups of the paper: the encoder on the
// schedule, the predictor at a fixed rate lr (when fixPredictor), both with weight
// decay wd.
func (m *SimSiam) ParamGroups(lr, wd float64, fixPredictor bool) []optim.Group {
	return []optim.Group{
		{Params: m.Encoder.Params, WeightDecay: wd},
		{Params: m.Predictor.Params, WeightDecay: wd, FixedLR: fixPredictor, LR: lr},
	}
}

// FLOPs estimates the floating-point operations of one training step per image
// (both views, forward and backward): 3x the forward (backward costs about twice
// the forward) of the backbone convolutions and the head matmuls, on h x w inputs.
func (m *SimSiam) FLOPs(h, w int) float64 {
	d, p, hd := float64(m.Net.FeatureDim()), float64(m.Config.ProjDim), float64(m.Config.PredHidden)
	heads := 2 * (d*p + p*p + p*p + p*hd + hd*p)
	return 2 * 3 * (m.Net.FLOPs(h, w) + heads)
}
