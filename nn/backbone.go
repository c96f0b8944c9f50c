package nn

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/siam-ssl/siam/tensor"
)

// Backbone is the feature extractor of a Siamese model: it maps images
// [N,C,H,W] to representations [N, FeatureDim()] (the globally pooled output of
// a ResNet, the class token of a ViT). Collapse, k-NN and the linear probe all
// measure this output, so every method and every evaluation speaks of a
// Backbone rather than of one architecture.
type Backbone interface {
	// Forward maps images x [N,C,H,W] to representations [N, FeatureDim()].
	Forward(g *tensor.Graph, x *tensor.Tensor) *tensor.Tensor
	// FeatureDim is the size of one representation.
	FeatureDim() int
	// FLOPs is the floating-point work of one forward pass over one h x w image.
	FLOPs(h, w int) float64
}

// BackboneSpec names a backbone the way a run's config does: an architecture
// name plus the knobs every method shares, so that ssl methods and train build
// any backbone through NewBackbone without knowing its family. Fields of the
// other family are ignored (Width for a ViT, ViTDepth for a ResNet).
type BackboneSpec struct {
	Arch       string // a name of ArchNames(): resnet18, resnet50, basic50, vit-s, vit, ...
	Width      int    // ResNet base width (64 = standard); 0 keeps the preset's
	WidthMult  int    // ResNet inner-width multiplier; 0 keeps the preset's
	InChannels int    // image channels (1 gray, 3 colour); 0 means 3
	Stem       Stem   // ResNet stem
	ImageSize  int    // input side in pixels (needed by patch-based backbones); 0 = unknown

	// ViT knobs (Appendix A.4's shallower and thinner variants): 0 keeps the
	// preset's; arch "vit" needs all three.
	ViTDepth, ViTDim, ViTHeads int
	// PatchSize is the ViT patch side; 0 picks DefaultPatchSize(ImageSize). It
	// must divide ImageSize.
	PatchSize int
	// FrozenPatch keeps the ViT's random patch projection untrained (MoCo v3's
	// trick, used by the paper's ViT runs); see ViTConfig.FrozenPatch.
	FrozenPatch bool
}

// vitArchs are the ViT names NewBackbone accepts; "vit" takes depth, width and
// heads from the spec.
var vitArchs = []string{"vit-s", "vit-tiny", "vit"}

// ArchNames lists every architecture name NewBackbone accepts.
func ArchNames() []string { return append(PresetNames(), vitArchs...) }

// NewBackbone registers the backbone spec describes in c under prefix and
// initialises it from rng. An unknown architecture is an error listing the
// valid names; a ViT without an input size, or with a patch size that does not
// divide it, is an error too.
func NewBackbone(c *Collection, prefix string, s BackboneSpec, rng *rand.Rand) (Backbone, error) {
	if slices.Contains(vitArchs, strings.ToLower(s.Arch)) {
		cfg, err := vitSpec(s)
		if err != nil {
			return nil, err
		}
		return NewViT(c, prefix, cfg, rng)
	}
	cfg, err := Preset(s.Arch)
	if err != nil {
		return nil, fmt.Errorf("unknown architecture %q (want one of %s)", s.Arch, strings.Join(ArchNames(), ", "))
	}
	if s.Width > 0 {
		cfg.Width = s.Width
	}
	if s.WidthMult > 0 {
		cfg.WidthMult = s.WidthMult
	}
	if s.InChannels > 0 {
		cfg.InChannels = s.InChannels
	}
	cfg.Stem = s.Stem
	return NewResNet(c, prefix, cfg, rng)
}

// vitSpec resolves a ViT spec into its configuration.
func vitSpec(s BackboneSpec) (ViTConfig, error) {
	arch := strings.ToLower(s.Arch)
	cfg := ViTConfig{MLPRatio: 4, InChannels: 3}
	if arch == "vit" {
		if s.ViTDepth <= 0 || s.ViTDim <= 0 || s.ViTHeads <= 0 {
			return cfg, fmt.Errorf("architecture vit needs its depth, dim and heads (got %d, %d, %d); or use vit-s or vit-tiny",
				s.ViTDepth, s.ViTDim, s.ViTHeads)
		}
	} else {
		var err error
		if cfg, err = ViTPreset(arch); err != nil {
			return cfg, err
		}
	}
	if s.ViTDepth > 0 {
		cfg.Depth = s.ViTDepth
	}
	if s.ViTDim > 0 {
		cfg.Dim = s.ViTDim
	}
	if s.ViTHeads > 0 {
		cfg.Heads = s.ViTHeads
	}
	if s.InChannels > 0 {
		cfg.InChannels = s.InChannels
	}
	if s.ImageSize <= 0 {
		return cfg, fmt.Errorf("%s needs the input size to choose its patches and position embedding", arch)
	}
	cfg.ImageSize = s.ImageSize
	cfg.PatchSize = s.PatchSize
	if cfg.PatchSize == 0 {
		cfg.PatchSize = DefaultPatchSize(s.ImageSize)
	}
	cfg.FrozenPatch = s.FrozenPatch
	return cfg, cfg.validate()
}

// FeatureDim is the size of the network's pooled representation.
func (r *ResNet) FeatureDim() int { return r.Config.FeatureDim() }
