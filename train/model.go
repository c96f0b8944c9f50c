package train

import (
	"strings"

	"github.com/siam-ssl/siam/data"
	"github.com/siam-ssl/siam/nn"
	"github.com/siam-ssl/siam/ssl"
)

// Input is the images a model takes: channels and side in pixels (what the
// run's augmentation produces). Patch-based backbones (ViT) need the side.
type Input struct {
	Channels, Size int
}

// InputOf is the input a run's config makes of a dataset: its channels, and the
// side of the run's augmentation output (the dataset's height when it keeps it).
func InputOf(c Config, ds *data.Dataset) Input {
	size := AugmentRecipe(c, ds).Size
	if size <= 0 {
		size = ds.H
	}
	return Input{Channels: ds.C, Size: size}
}

// BuildModel makes the method a config describes (SimSiam, BYOL, ...), for
// the given input images, initialised from the config's seed. For distill it
// also loads the frozen teacher from c.Teacher (see LoadTeacher).
func BuildModel(c Config, in Input) (ssl.Method, error) {
	return buildModel(c, in, nil)
}

// MethodConfig translates a run config into the method's config. A ViT takes
// its shape from the vit_* keys (or its preset) and ignores the ResNet width.
func MethodConfig(c Config, in Input) ssl.Config {
	spec := nn.BackboneSpec{Arch: c.Arch, Width: c.Width, WidthMult: c.WidthMult, InChannels: in.Channels, ImageSize: in.Size}
	if strings.EqualFold(c.Stem, "imagenet") {
		spec.Stem = nn.ImageNetStem
	}
	if IsViT(c.Arch) {
		spec.Width, spec.WidthMult = 0, 0
		spec.ViTDepth, spec.ViTDim, spec.ViTHeads = c.ViTDepth, c.ViTDim, c.ViTHeads
		spec.PatchSize, spec.FrozenPatch = c.PatchSize, c.FrozenPatch
	}
	return ssl.Config{Backbone: spec, ProjDim: c.ProjDim, PredHidden: c.PredHidden,
		EMAMomentum: c.EMAMomentum, Temperature: c.Temperature, Queue: c.Queue}
}
