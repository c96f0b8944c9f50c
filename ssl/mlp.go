package ssl

import (
	"fmt"
	"math/rand/v2"

	"github.com/siam-ssl/siam/nn"
	"github.com/siam-ssl/siam/tensor"
)

// mlp is the projection / prediction head shared by BYOL and MoCo v3: Linear
// layers with BN + ReLU between them and, optionally, a final BN without affine
// parameters. Layer names follow the PyTorch nn.Sequential the references
// build: for MoCo v3's _build_mlp(num_layers, ..., last_bn) every Linear is
// followed by BN (index +1) and ReLU (+2), so the Linears sit at 0, 3, 6, ... and
// the final BN at 3*(layers-1)+1; BYOL's MLP is the two-layer case without a
// final BN (0, 1, 3).
type mlp struct {
	lin []*nn.Linear
	bn  []*tensor.BatchNorm // bn[i] follows lin[i]; the last is nil without lastBN
}

// mlpSpec sizes an mlp: layers Linear maps in -> hidden -> ... -> out.
type mlpSpec struct {
	layers          int
	in, hidden, out int
	firstBias       bool // BYOL's first Linear has a bias (Haiku's with_bias=True)
	lastBN          bool // a final BatchNorm1d(out, affine=False), as _build_mlp(last_bn=True)
}

// newMLP registers the head's tensors in c under prefix ("projector.",
// "target.projector.", ...), initialised from rng.
func newMLP(c *nn.Collection, prefix string, s mlpSpec, rng *rand.Rand) (*mlp, error) {
	if s.layers < 2 || s.in < 1 || s.hidden < 1 || s.out < 1 {
		return nil, fmt.Errorf("head %s: %d layers %d -> %d -> %d: sizes must be positive, at least 2 layers",
			prefix, s.layers, s.in, s.hidden, s.out)
	}
	h := &mlp{}
	for l := 0; l < s.layers; l++ {
		d1, d2 := s.hidden, s.hidden
		if l == 0 {
			d1 = s.in
		}
		last := l == s.layers-1
		if last {
			d2 = s.out
		}
		idx := 3 * l
		h.lin = append(h.lin, nn.NewLinear(c, fmt.Sprintf("%s%d", prefix, idx), d1, d2, l == 0 && s.firstBias, rng))
		switch {
		case !last:
			h.bn = append(h.bn, nn.NewBatchNorm(c, fmt.Sprintf("%s%d", prefix, idx+1), d2, true))
		case s.lastBN:
			h.bn = append(h.bn, nn.NewBatchNorm(c, fmt.Sprintf("%s%d", prefix, idx+1), d2, false))
		default:
			h.bn = append(h.bn, nil)
		}
	}
	return h, nil
}

// Forward applies the head to x [N, in].
func (h *mlp) Forward(g *tensor.Graph, x *tensor.Tensor) *tensor.Tensor {
	last := len(h.lin) - 1
	for i, l := range h.lin {
		x = l.Forward(g, x)
		switch {
		case i < last:
			x = g.BatchNormReLU(x, h.bn[i])
		case h.bn[i] != nil:
			x = g.BatchNorm(x, h.bn[i])
		}
	}
	return x
}

// FLOPs is the multiply-adds x 2 of one forward pass over one sample.
func (h *mlp) FLOPs() float64 {
	var f float64
	for _, l := range h.lin {
		s := l.W.Shape()
		f += 2 * float64(s[0]*s[1])
	}
	return f
}

// momentumHeadDefaults fills zero head sizes of the momentum-encoder methods
// (BYOL, MoCo v3). Both papers use MLPs with 4096 hidden units and 256 outputs
// for ResNet-50; we scale them with the backbone the way SimSiam's heads are
// scaled (headDefaults: 2048 = 32*W at base width W = 64), so at width W the
// hidden size (PredHidden, used by projector and predictor alike) is 64*W and
// the output size (ProjDim) is 4*W: 4096 and 256 at W = 64, 1024 and 64 at the
// CPU default W = 16. A backbone without a base width (a ViT) counts as W =
// FeatureDim/8, the width of a Basic ResNet with that feature size (ViT-S: 384
// -> W 48 -> 3072 and 192).
func momentumHeadDefaults(c Config, bb nn.Backbone) Config {
	w := bb.FeatureDim() / 8
	if r, ok := bb.(*nn.ResNet); ok {
		w = r.Config.Width
	}
	w = max(w, 1)
	if c.ProjDim == 0 {
		c.ProjDim = 4 * w
	}
	if c.PredHidden == 0 {
		c.PredHidden = 64 * w
	}
	return c
}
