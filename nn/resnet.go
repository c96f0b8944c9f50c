package nn

import (
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/siam-ssl/siam/tensor"
)

// BlockKind selects the ResNet residual block.
type BlockKind int

const (
	// Basic is two 3x3 convolutions (ResNet-18/34); expansion 1.
	Basic BlockKind = iota
	// Bottleneck is 1x1 reduce, 3x3, 1x1 expand (ResNet-50); expansion 4.
	Bottleneck
)

// Stem selects the network's first layers.
type Stem int

const (
	// CIFARStem is a 3x3 stride-1 convolution and no max-pool, for 32x32 images.
	CIFARStem Stem = iota
	// ImageNetStem is a 7x7 stride-2 convolution followed by a 3x3 stride-2 max-pool.
	ImageNetStem
)

// ResNetConfig describes any member of the family the paper compares (Table 1).
type ResNetConfig struct {
	Block  BlockKind
	Depths []int // blocks per stage, e.g. [2,2,2,2] for ResNet-18
	Width  int   // base width: 64 is the standard network, 16 a CPU-sized one
	// WidthMult multiplies the inner width of every block (0 means 1). For
	// Bottleneck blocks this is torchvision's width_per_group/64: the 1x1-3x3-1x1
	// middle gets mult x planes channels while the block output stays 4 x planes,
	// so resnet50 at 2x is wide_resnet50_2 (68.9M parameters with fc) and
	// bottleneck26 at 2x is Table 1's 39.6M network. torchvision's Basic block has
	// no such knob; here it widens both convolutions (and the output) of a Basic
	// block, i.e. the whole stage.
	WidthMult        int
	Stem             Stem
	InChannels       int  // 3 for colour, 1 for grayscale
	ZeroInitResidual bool // zero the last BN weight of every residual branch
}

// Preset returns the named architecture: resnet18, resnet34, resnet50,
// bottleneck26 ([2,2,2,2] Bottleneck) or basic50 ([4,6,10,4] Basic blocks: 50
// layers, as Table 1's Basic-50). Parameter counts match torchvision's
// (testdata/torch/param_counts.json).
func Preset(name string) (ResNetConfig, error) {
	c := ResNetConfig{Width: 64, WidthMult: 1, InChannels: 3}
	switch strings.ToLower(name) {
	case "resnet18":
		c.Block, c.Depths = Basic, []int{2, 2, 2, 2}
	case "resnet34":
		c.Block, c.Depths = Basic, []int{3, 4, 6, 3}
	case "resnet50":
		c.Block, c.Depths = Bottleneck, []int{3, 4, 6, 3}
	case "bottleneck26":
		c.Block, c.Depths = Bottleneck, []int{2, 2, 2, 2}
	case "basic50":
		// Table 1's Basic-50: 24 Basic blocks (48 convolutions + stem + fc = 50
		// layers), 31.9M parameters with a 1000-class fc.
		c.Block, c.Depths = Basic, []int{4, 6, 10, 4}
	default:
		return c, fmt.Errorf("unknown architecture %q (want resnet18, resnet34, resnet50, bottleneck26 or basic50)", name)
	}
	return c, nil
}

// PresetNames lists the names Preset accepts.
func PresetNames() []string {
	return []string{"resnet18", "resnet34", "resnet50", "bottleneck26", "basic50"}
}

// FeatureDim is the size of the pooled representation: 8*Width*mult for Basic
// blocks, 32*Width for Bottleneck (512 and 2048 at width 64).
func (c ResNetConfig) FeatureDim() int {
	m := max(c.WidthMult, 1)
	if c.Block == Bottleneck {
		return 8 * c.Width * 4
	}
	return 8 * c.Width * m
}

func (c ResNetConfig) validate() error {
	switch {
	case len(c.Depths) == 0:
		return fmt.Errorf("resnet: no stages")
	case c.Width < 1:
		return fmt.Errorf("resnet: width %d < 1", c.Width)
	case c.WidthMult < 0:
		return fmt.Errorf("resnet: width multiplier %d < 0", c.WidthMult)
	case c.InChannels < 1:
		return fmt.Errorf("resnet: %d input channels", c.InChannels)
	}
	for _, d := range c.Depths {
		if d < 1 {
			return fmt.Errorf("resnet: stage depth %d < 1", d)
		}
	}
	return nil
}

// ResNet is a residual network up to and including global average pooling; its
// output is the representation the paper measures collapse on.
type ResNet struct {
	Config ResNetConfig
	stem   *ConvBN
	blocks []*block
}

type block struct {
	convs    []*ConvBN // the residual branch; the last has no ReLU
	shortcut *ConvBN   // 1x1 projection, or nil for identity
}

// NewResNet registers the network's tensors in c under prefix (e.g. "backbone.",
// with torchvision names: conv1, bn1, layerS.B.convI, .bnI, .downsample.0/1).
func NewResNet(c *Collection, prefix string, cfg ResNetConfig, rng *rand.Rand) (*ResNet, error) {
	if cfg.WidthMult == 0 {
		cfg.WidthMult = 1
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	r := &ResNet{Config: cfg}
	w := cfg.Width
	convBN := func(name, bnName string, in, out, k, stride, pad int, relu bool) *ConvBN {
		return &ConvBN{
			Conv: NewConv2d(c, prefix+name, in, out, k, stride, pad, rng),
			BN:   NewBatchNorm(c, prefix+bnName, out, true),
			ReLU: relu,
		}
	}
	if cfg.Stem == ImageNetStem {
		r.stem = convBN("conv1", "bn1", cfg.InChannels, w, 7, 2, 3, true)
	} else {
		r.stem = convBN("conv1", "bn1", cfg.InChannels, w, 3, 1, 1, true)
	}
	in := w
	for s, depth := range cfg.Depths {
		planes := w << s
		for i := 0; i < depth; i++ {
			stride := 1
			if i == 0 && s > 0 {
				stride = 2
			}
			p := fmt.Sprintf("layer%d.%d.", s+1, i)
			b := &block{}
			var out int
			if cfg.Block == Basic {
				mid := planes * cfg.WidthMult
				out = mid
				b.convs = []*ConvBN{
					convBN(p+"conv1", p+"bn1", in, mid, 3, stride, 1, true),
					convBN(p+"conv2", p+"bn2", mid, out, 3, 1, 1, false),
				}
			} else {
				mid := planes * cfg.WidthMult
				out = planes * 4
				b.convs = []*ConvBN{
					convBN(p+"conv1", p+"bn1", in, mid, 1, 1, 0, true),
					convBN(p+"conv2", p+"bn2", mid, mid, 3, stride, 1, true),
					convBN(p+"conv3", p+"bn3", mid, out, 1, 1, 0, false),
				}
			}
			if stride != 1 || in != out {
				b.shortcut = convBN(p+"downsample.0", p+"downsample.1", in, out, 1, stride, 0, false)
			}
			if cfg.ZeroInitResidual {
				Fill(b.convs[len(b.convs)-1].BN.Weight, 0)
			}
			r.blocks = append(r.blocks, b)
			in = out
		}
	}
	return r, nil
}

// fuseResidualEval runs each block's residual join in its last convolution's
// epilogue in inference; off, the separate AddReLU (a knob for the tests that
// compare the two).
var fuseResidualEval = true

// Forward maps images x [N,C,H,W] to representations [N, FeatureDim].
func (r *ResNet) Forward(g *tensor.Graph, x *tensor.Tensor) *tensor.Tensor {
	if g.Err() == nil && (x.Rank() != 4 || x.Dim(1) != r.Config.InChannels) {
		return g.Failf("resnet", []*tensor.Tensor{x}, "want input [N,%d,H,W]", r.Config.InChannels)
	}
	h := r.stem.Forward(g, x)
	if r.Config.Stem == ImageNetStem {
		h = g.MaxPool2d(h, 3, 2, 1)
	}
	for _, b := range r.blocks {
		y := h
		last := len(b.convs) - 1
		for _, cv := range b.convs[:last] {
			y = cv.Forward(g, y)
		}
		if fuseResidualEval && b.convs[last].fusesEval(g) {
			// Inference: the shortcut first, so the residual join runs in the
			// last convolution's epilogue.
			sc := h
			if b.shortcut != nil {
				sc = b.shortcut.Forward(g, h)
			}
			h = b.convs[last].ForwardAddReLU(g, y, sc)
			continue
		}
		y = b.convs[last].Forward(g, y)
		sc := h
		if b.shortcut != nil {
			sc = b.shortcut.Forward(g, h)
		}
		h = g.AddReLU(y, sc)
	}
	return g.GlobalAvgPool(h)
}

// FLOPs returns the multiply-adds x 2 of one forward pass over an image of size
// h x w, counting convolutions only (what the paper's and PyTorch's FLOP figures
// count, to within the small BN/pool terms).
func (r *ResNet) FLOPs(h, w int) float64 {
	var f float64
	conv := func(cv *ConvBN, h, w int) (int, int) {
		s := cv.Conv.W.Shape()
		ho := (h+2*cv.Conv.Opts.Pad-s[2])/cv.Conv.Opts.Stride + 1
		wo := (w+2*cv.Conv.Opts.Pad-s[3])/cv.Conv.Opts.Stride + 1
		f += 2 * float64(s[0]*s[1]*s[2]*s[3]) * float64(ho*wo)
		return ho, wo
	}
	h, w = conv(r.stem, h, w)
	if r.Config.Stem == ImageNetStem {
		h, w = (h+2-3)/2+1, (w+2-3)/2+1
	}
	for _, b := range r.blocks {
		hh, ww := h, w
		for _, cv := range b.convs {
			hh, ww = conv(cv, hh, ww)
		}
		if b.shortcut != nil {
			conv(b.shortcut, h, w)
		}
		h, w = hh, ww
	}
	return f
}

// NumParams returns how many trainable values NewResNet registers for c (every
// convolution weight and BN weight and bias; no fc), without building the
// network: cheap enough to report the size of a 68M-parameter model.
func (c ResNetConfig) NumParams() int {
	mult := max(c.WidthMult, 1)
	conv := func(in, out, k int) int { return in*out*k*k + 2*out } // + its BN
	w := c.Width
	stem := 3
	if c.Stem == ImageNetStem {
		stem = 7
	}
	n := conv(c.InChannels, w, stem)
	in := w
	for s, depth := range c.Depths {
		planes := w << s
		for i := 0; i < depth; i++ {
			stride := 1
			if i == 0 && s > 0 {
				stride = 2
			}
			mid := planes * mult
			out := mid
			if c.Block == Basic {
				n += conv(in, mid, 3) + conv(mid, out, 3)
			} else {
				out = planes * 4
				n += conv(in, mid, 1) + conv(mid, mid, 3) + conv(mid, out, 1)
			}
			if stride != 1 || in != out {
				n += conv(in, out, 1)
			}
			in = out
		}
	}
	return n
}
