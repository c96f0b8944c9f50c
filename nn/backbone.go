package nn

import (
	"fmt"
	"math/rand/v2"
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
// any backbone through NewBackbone without knowing its family.
type BackboneSpec struct {
	Arch       string // a name of ArchNames(): resnet18, resnet50, basic50, ...
	Width      int    // ResNet base width (64 = standard); 0 keeps the preset's
	WidthMult  int    // ResNet inner-width multiplier; 0 keeps the preset's
	InChannels int    // image channels (1 gray, 3 colour); 0 means 3
	Stem       Stem   // ResNet stem
	ImageSize  int    // input side in pixels (needed by patch-based backbones); 0 = unknown
}

// ArchNames lists every architecture name NewBackbone accepts.
func ArchNames() []string { return PresetNames() }

// NewBackbone registers the backbone spec describes in c under prefix and
// initialises it from rng. An unknown architecture is an error listing the
// valid names.
func NewBackbone(c *Collection, prefix string, s BackboneSpec, rng *rand.Rand) (Backbone, error) {
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

// FeatureDim is the size of the network's pooled representation.
func (r *ResNet) FeatureDim() int { return r.Config.FeatureDim() }
