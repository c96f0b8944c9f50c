package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"

	"github.com/siam-ssl/siam/tensor"
)

// ViTConfig describes a Vision Transformer as MoCo v3 (and the paper's Appendix
// A.4) train it: timm's VisionTransformer with a fixed 2-D sin-cos position
// embedding, pre-norm blocks and the class token as the representation.
type ViTConfig struct {
	Depth      int // transformer blocks
	Dim        int // token width D: a multiple of Heads and of 4 (the sin-cos embedding)
	Heads      int // attention heads
	PatchSize  int // side P of the square patches; must divide ImageSize
	ImageSize  int // side of the square input images
	InChannels int // 3 for colour, 1 for grayscale
	MLPRatio   int // MLP hidden width / Dim; 0 means 4
	// FrozenPatch keeps the random patch projection fixed (MoCo v3's
	// stop_grad_conv1, used by the paper's A.4 runs): its weight and bias go to
	// the collection's Frozen list, so no optimiser sees them and no gradient is
	// computed for them, while checkpoints still carry them.
	FrozenPatch bool
}

// ViTPreset returns the named ViT: vit-s (ViT-Small: depth 12, dim 384, 6
// heads) or vit-tiny (depth 12, dim 192, 3 heads), with MLP ratio 4 and 3 input
// channels; the patch and image sizes are left for the caller.
func ViTPreset(name string) (ViTConfig, error) {
	c := ViTConfig{Depth: 12, MLPRatio: 4, InChannels: 3}
	switch strings.ToLower(name) {
	case "vit-s":
		c.Dim, c.Heads = 384, 6
	case "vit-tiny":
		c.Dim, c.Heads = 192, 3
	default:
		return c, fmt.Errorf("unknown ViT %q (want vit-s or vit-tiny)", name)
	}
	return c, nil
}

// DefaultPatchSize is the patch side used when a run does not set one: 16 for
// ImageNet-sized inputs (side >= 96: 224 gives 14x14 patches), 4 for small ones
// (32 gives 8x8 patches; 28, Fashion-MNIST, gives 7x7 — patches of 7 would leave
// only 4x4 = 16 tokens, too few for attention to matter).
func DefaultPatchSize(imageSize int) int {
	if imageSize >= 96 {
		return 16
	}
	return 4
}

func (c ViTConfig) validate() error {
	switch {
	case c.Depth < 1:
		return fmt.Errorf("vit: depth %d < 1", c.Depth)
	case c.Dim < 1 || c.Heads < 1:
		return fmt.Errorf("vit: dim %d and heads %d must be positive", c.Dim, c.Heads)
	case c.Dim%c.Heads != 0:
		return fmt.Errorf("vit: %d heads do not divide dim %d", c.Heads, c.Dim)
	case c.Dim%4 != 0:
		return fmt.Errorf("vit: dim %d is not a multiple of 4 (needed by the 2-D sin-cos position embedding)", c.Dim)
	case c.InChannels < 1:
		return fmt.Errorf("vit: %d input channels", c.InChannels)
	case c.MLPRatio < 0:
		return fmt.Errorf("vit: MLP ratio %d < 0", c.MLPRatio)
	case c.ImageSize < 1:
		return fmt.Errorf("vit: the input size must be known (got %d)", c.ImageSize)
	case c.PatchSize < 1:
		return fmt.Errorf("vit: patch size %d < 1", c.PatchSize)
	case c.ImageSize%c.PatchSize != 0:
		return fmt.Errorf("vit: patch size %d does not divide the input size %d", c.PatchSize, c.ImageSize)
	}
	return nil
}

// Grid is the number of patches along one side of the image.
func (c ViTConfig) Grid() int { return c.ImageSize / c.PatchSize }

// Tokens is the sequence length: one token per patch plus the class token.
func (c ViTConfig) Tokens() int { return c.Grid()*c.Grid() + 1 }

// ViT is a Vision Transformer up to its final LayerNorm; the representation is
// the class token, [N, Dim]. Its state-dict names are timm's (patch_embed.proj,
// cls_token, pos_embed, blocks.i.{norm1, attn.qkv, attn.proj, norm2, mlp.fc1,
// mlp.fc2}, norm), so MoCo v3 / timm weights load unchanged (after stripping
// their prefix). It has no batch norm: training and evaluation compute the same.
type ViT struct {
	Config         ViTConfig
	patchW, patchB *tensor.Tensor // [D, C, P, P], [D]
	cls, pos       *tensor.Tensor // [1, 1, D], [1, T, D]
	blocks         []*vitBlock
	norm           *LayerNorm
}

type vitBlock struct {
	norm1, norm2        *LayerNorm
	qkv, proj, fc1, fc2 *Linear
}

// LayerNorm is a layer normalisation over the last dimension with affine weight
// and bias (init 1 and 0).
type LayerNorm struct {
	W, B *tensor.Tensor
	Eps  float32
}

// NewLayerNorm registers name.weight and name.bias [dim] in c.
func NewLayerNorm(c *Collection, name string, dim int, eps float32) *LayerNorm {
	l := &LayerNorm{W: c.param(name+".weight", dim), B: c.param(name+".bias", dim), Eps: eps}
	Fill(l.W, 1)
	return l
}

// Forward normalises x over its last dimension.
func (l *LayerNorm) Forward(g *tensor.Graph, x *tensor.Tensor) *tensor.Tensor {
	return g.LayerNorm(x, l.W, l.B, l.Eps)
}

// vitLNEps is the LayerNorm epsilon of timm's and MoCo v3's ViTs.
const vitLNEps = 1e-6

// NewViT registers the network's tensors in c under prefix and initialises them
// as MoCo v3's vits.py does: qkv weights U(+-sqrt(6/(D+D))) (Xavier with the fan
// of one of q, k, v), the other Linear weights Xavier uniform, every bias 0, the
// class token N(0, 1e-6^2), the patch projection U(+-sqrt(6/(C*P*P+D))) (MoCo v3
// writes 3*P*P: the same for colour images) with bias 0, LayerNorms 1 and 0, and
// the fixed sin-cos position embedding.
func NewViT(c *Collection, prefix string, cfg ViTConfig, rng *rand.Rand) (*ViT, error) {
	if cfg.MLPRatio == 0 {
		cfg.MLPRatio = 4
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	D, P, C := cfg.Dim, cfg.PatchSize, cfg.InChannels
	v := &ViT{Config: cfg}
	if cfg.FrozenPatch {
		v.patchW = c.frozen(prefix+"patch_embed.proj.weight", D, C, P, P)
		v.patchB = c.frozen(prefix+"patch_embed.proj.bias", D)
	} else {
		v.patchW = c.param(prefix+"patch_embed.proj.weight", D, C, P, P)
		v.patchB = c.param(prefix+"patch_embed.proj.bias", D)
	}
	xavier(v.patchW, C*P*P, D, rng)
	v.cls = c.param(prefix+"cls_token", 1, 1, D)
	Normal(v.cls, 1e-6, rng)
	v.pos = c.frozen(prefix+"pos_embed", 1, cfg.Tokens(), D)
	copy(v.pos.Data[D:], SinCosPosEmbed(cfg.Grid(), D))
	linear := func(name string, in, out, fanOut int) *Linear {
		l := &Linear{W: c.param(name+".weight", out, in), B: c.param(name+".bias", out)}
		xavier(l.W, in, fanOut, rng)
		return l
	}
	hidden := cfg.MLPRatio * D
	for i := range cfg.Depth {
		p := fmt.Sprintf("%sblocks.%d.", prefix, i)
		v.blocks = append(v.blocks, &vitBlock{
			norm1: NewLayerNorm(c, p+"norm1", D, vitLNEps),
			qkv:   linear(p+"attn.qkv", D, 3*D, D), // fan of one of q, k, v
			proj:  linear(p+"attn.proj", D, D, D),
			norm2: NewLayerNorm(c, p+"norm2", D, vitLNEps),
			fc1:   linear(p+"mlp.fc1", D, hidden, hidden),
			fc2:   linear(p+"mlp.fc2", hidden, D, D),
		})
	}
	v.norm = NewLayerNorm(c, prefix+"norm", D, vitLNEps)
	return v, nil
}

// xavier fills t with U(-a, a), a = sqrt(6/(fanIn+fanOut)): Xavier (Glorot)
// uniform initialisation.
func xavier(t *tensor.Tensor, fanIn, fanOut int, rng *rand.Rand) {
	a := math.Sqrt(6 / float64(fanIn+fanOut))
	for i := range t.Data {
		t.Data[i] = float32((2*rng.Float64() - 1) * a)
	}
}

// SinCosPosEmbed returns MoCo v3's fixed 2-D sin-cos position embedding of a
// grid x grid patch layout, [grid*grid, dim] row-major (the class token's zero
// row is not included). With p = dim/4 frequencies w_k = 1/10000^(k/p), patch m
// (row m/grid, column m%grid) gets
//
//	[sin(a w), cos(a w), sin(b w), cos(b w)],  a = m / grid,  b = m % grid,
//
// which is build_2d_sincos_position_embedding's meshgrid(w, h) ordering. Every
// step rounds to float32 where PyTorch's float32 computation does, so the values
// match it to the last bit or two. dim must be a multiple of 4.
func SinCosPosEmbed(grid, dim int) []float32 {
	p := dim / 4
	omega := make([]float32, p)
	for k := range omega {
		e := float32(k) / float32(p)
		omega[k] = 1 / float32(math.Pow(10000, float64(e)))
	}
	out := make([]float32, grid*grid*dim)
	for m := range grid * grid {
		a, b := float32(m/grid), float32(m%grid)
		row := out[m*dim : (m+1)*dim]
		for k, w := range omega {
			aw, bw := float64(a*w), float64(b*w)
			row[k] = float32(math.Sin(aw))
			row[p+k] = float32(math.Cos(aw))
			row[2*p+k] = float32(math.Sin(bw))
			row[3*p+k] = float32(math.Cos(bw))
		}
	}
	return out
}

// Forward maps images x [N,C,H,W] (H = W = ImageSize) to class-token
// representations [N, Dim].
func (v *ViT) Forward(g *tensor.Graph, x *tensor.Tensor) *tensor.Tensor {
	cfg := v.Config
	if g.Err() != nil {
		return g.Fail("vit", "an earlier op failed") // keeps the first error
	}
	if x.Rank() != 4 || x.Dim(1) != cfg.InChannels || x.Dim(2) != cfg.ImageSize || x.Dim(3) != cfg.ImageSize {
		return g.Failf("vit", []*tensor.Tensor{x}, "want input [N,%d,%d,%d]", cfg.InChannels, cfg.ImageSize, cfg.ImageSize)
	}
	n, D, L := x.Dim(0), cfg.Dim, cfg.Grid()*cfg.Grid()
	// Patch embedding: a stride-P convolution, then tokens [N, L, D].
	t := g.Conv2d(x, v.patchW, v.patchB, tensor.ConvOpts{Stride: cfg.PatchSize})
	t = g.Transpose(g.Reshape(t, n, D, L), 1, 2)
	// The class token, broadcast over the batch (adding it to zeros [N,1,D] sums its
	// gradient over the batch), in front; then the position embedding.
	cls := g.Add(g.Zeros(n, 1, D), v.cls)
	h := g.Add(g.Concat(1, cls, t), v.pos)
	for _, b := range v.blocks {
		y := b.norm1.Forward(g, h)
		y = g.AttentionQKV(b.qkv.Forward(g, y), cfg.Heads)
		h = g.Add(h, b.proj.Forward(g, y))
		y = b.norm2.Forward(g, h)
		y = b.fc2.Forward(g, g.GELU(b.fc1.Forward(g, y)))
		h = g.Add(h, y)
	}
	// The final LayerNorm acts token by token, so only the class token needs it.
	c := v.norm.Forward(g, g.Narrow(h, 1, 0, 1))
	return g.Reshape(c, n, D)
}

// FeatureDim is the size of the representation: the token width.
func (v *ViT) FeatureDim() int { return v.Config.Dim }

// FLOPs returns 2 x the multiply-adds of one forward pass over an image of the
// configured size (h and w must equal ImageSize; another size cannot be
// embedded and gives 0): the patch projection, every Linear and the two
// attention products, not the normalisations, softmax or GELU.
func (v *ViT) FLOPs(h, w int) float64 {
	cfg := v.Config
	if h != cfg.ImageSize || w != cfg.ImageSize {
		return 0
	}
	D, T := float64(cfg.Dim), float64(cfg.Tokens())
	L := T - 1
	P := float64(cfg.PatchSize)
	f := L * D * float64(cfg.InChannels) * P * P
	r := float64(cfg.MLPRatio)
	perBlock := T*(3*D*D+D*D+2*r*D*D) + 2*T*T*D
	return 2 * (f + float64(cfg.Depth)*perBlock)
}

// NumParams returns how many values NewViT registers for c without building it:
// trainable ones and frozen ones (the position embedding, plus the patch
// projection when FrozenPatch).
func (c ViTConfig) NumParams() (trainable, frozen int) {
	D, P := c.Dim, c.PatchSize
	hidden := max(c.MLPRatio, 0) * D
	if c.MLPRatio == 0 {
		hidden = 4 * D
	}
	patch := D*c.InChannels*P*P + D
	block := 2*2*D + (3*D*D + 3*D) + (D*D + D) + (hidden*D + hidden) + (D*hidden + D)
	trainable = D + c.Depth*block + 2*D // class token, blocks, final norm
	frozen = c.Tokens() * D
	if c.FrozenPatch {
		frozen += patch
	} else {
		trainable += patch
	}
	return trainable, frozen
}
