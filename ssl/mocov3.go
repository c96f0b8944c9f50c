package ssl

import (
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/siam-ssl/siam/tensor"
)

func init() {
	Register("mocov3", func(cfg Config, seed uint64) (Method, error) { return NewMoCoV3(cfg, seed) })
}

// Default MoCo v3 temperatures of the reference configurations (CONFIG.md of
// facebookresearch/moco-v3: --moco-t 1.0 for ResNet-50, 0.2 for ViTs).
const (
	MoCoV3TemperatureResNet = 1.0
	MoCoV3TemperatureViT    = 0.2
)

// MoCoV3 is MoCo v3 (Chen, Xie, He 2021) as its reference code builds it:
//
//   - query q = predictor(projector(backbone(x))) from the online ("base")
//     encoder, key k = momentum_encoder(x) (backbone + projector, an EMA copy:
//     see emaTarget), momentum m0 = 0.99 by default rising to 1 on a cosine;
//     the reference updates the momentum encoder at the start of iteration i
//     with m(i), which is the update after step i-1 here (AfterStep uses
//     m(step)); the momentum encoder's BN layers use batch statistics and keep
//     their own running statistics;
//   - loss: InfoNCE of q against all keys of the batch, l(q, k) =
//     CrossEntropy(normalize(q) normalize(k)^T / T, labels 0..N-1) * 2T,
//     symmetrised as l(q1, k2) + l(q2, k1);
//   - heads as moco/builder.py's _build_mlp (Linear without bias, BN + ReLU on
//     hidden layers, hidden size PredHidden, output ProjDim): for a ResNet the
//     projector has 2 layers ending in BN without affine and the predictor 2
//     layers without a final BN (MoCo_ResNet); for a ViT (arch names starting
//     with "vit") the projector has 3 layers and the predictor's last layer is
//     followed by BN without affine too (MoCo_ViT). The paper's text describes
//     the ViT heads (a 3-layer projector); its ResNet code uses 2 layers, which
//     this follows;
//   - temperature T: Config.Temperature, or 1.0 for ResNets and 0.2 for ViTs.
//
// Sizes default to the reference's 4096 hidden and 256 output scaled with the
// backbone (4*W and 64*W at base width W, see momentumHeadDefaults).
//
// Optimisation: the reference trains base encoder and predictor with one
// optimizer (LARS for ResNets, AdamW for ViTs) on one schedule. Here MoCo v3
// takes the run's optimizer like every method; ParamGroups puts the predictor in
// its own group at the fixed rate when fix_predictor_lr is set (the SimSiam
// default), so set fix_predictor_lr: false to follow the reference.
//
// The online and momentum encoders, the predictor, their parameter groups,
// AfterStep, ExtraState and FLOPs are those BYOL has too (emaSiamese, in
// ema.go): its fields Config, Net, Encoder, Predictor and All are emaSiamese's.
type MoCoV3 struct {
	emaSiamese
	ViT bool // the backbone is a ViT: 3-layer projector, predictor with final BN

	labels []int // 0..N-1, the positive key of every query
}

// isViT reports whether an architecture name is a vision transformer.
func isViT(arch string) bool { return strings.HasPrefix(strings.ToLower(arch), "vit") }

// NewMoCoV3 builds MoCo v3 with seeded initialisation. Names follow PyTorch:
// backbone.*, projector.{0,1,3,4[,6,7]}.*, predictor.{0,1,3[,4]}.*; the momentum
// encoder's tensors are target.backbone.*, target.projector.* (ExtraState).
func NewMoCoV3(cfg Config, seed uint64) (*MoCoV3, error) {
	rng := rand.New(rand.NewPCG(seed, 0x3c03))
	m := &MoCoV3{ViT: isViT(cfg.Backbone.Arch)}
	err := m.init("mocov3", cfg, rng, 0, func(c *Config, d int) (mlpSpec, mlpSpec, error) {
		if c.Temperature == 0 {
			c.Temperature = MoCoV3TemperatureResNet
			if m.ViT {
				c.Temperature = MoCoV3TemperatureViT
			}
		}
		if !(c.Temperature > 0) {
			return mlpSpec{}, mlpSpec{}, fmt.Errorf("mocov3: temperature %v must be positive", c.Temperature)
		}
		p, h := c.ProjDim, c.PredHidden
		projLayers := 2
		if m.ViT {
			projLayers = 3
		}
		return mlpSpec{layers: projLayers, in: d, hidden: h, out: p, lastBN: true},
			mlpSpec{layers: 2, in: p, hidden: h, out: p, lastBN: m.ViT}, nil
	})
	if err != nil {
		return nil, err
	}
	return m, nil
}

// Name is "mocov3".
func (m *MoCoV3) Name() string { return "mocov3" }

// Loss returns l(q1, k2) + l(q2, k1) (one element); see MoCoV3. Each view is a
// separate batch for every BN layer, as in the reference. The keys are
// computed first: the networks share no layer, so the order changes no value,
// and the buffers of the momentum encoder's passes (handed back at once) are
// then reused by the online network's.
func (m *MoCoV3) Loss(g *tensor.Graph, x1, x2 *tensor.Tensor) *tensor.Tensor {
	k1, k2 := m.keys(g, x1), m.keys(g, x2)
	q1 := m.pred.Forward(g, m.proj.Forward(g, m.Net.Forward(g, x1)))
	q2 := m.pred.Forward(g, m.proj.Forward(g, m.Net.Forward(g, x2)))
	return g.Add(m.contrastive(g, q1, k2), m.contrastive(g, q2, k1))
}

// keys runs the momentum encoder and returns normalize(k)^T [ProjDim, N], the
// right-hand operand of the logits, without gradients.
func (m *MoCoV3) keys(g *tensor.Graph, x *tensor.Tensor) *tensor.Tensor {
	return g.NoGradScope(func() *tensor.Tensor {
		return g.Transpose(g.L2Normalize(m.target.Encode(g, x), 1e-12), 0, 1)
	})
}

// contrastive is CrossEntropy(normalize(q) kt / T, 0..N-1) * 2T.
func (m *MoCoV3) contrastive(g *tensor.Graph, q, kt *tensor.Tensor) *tensor.Tensor {
	if g.Err() != nil {
		return q
	}
	n := q.Dim(0)
	for len(m.labels) < n {
		m.labels = append(m.labels, len(m.labels))
	}
	T := float32(m.Config.Temperature)
	logits := g.MatMul(g.L2Normalize(q, 1e-12), kt)
	if T != 1 {
		logits = g.Scale(logits, 1/T)
	}
	return g.Scale(g.CrossEntropy(logits, m.labels[:n]), 2*T)
}
