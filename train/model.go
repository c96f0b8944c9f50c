package train

import (
	"strings"

	"github.com/siam-ssl/siam/nn"
	"github.com/siam-ssl/siam/ssl"
)

// BuildModel makes the method a config describes (SimSiam, BYOL, ...), for
// inChannels-channel images, initialised from the config's seed. For distill it
// also loads the frozen teacher from c.Teacher (see LoadTeacher).
func BuildModel(c Config, inChannels int) (ssl.Method, error) {
	return buildModel(c, inChannels, nil)
}

// MethodConfig translates a run config into the method's config.
func MethodConfig(c Config, inChannels int) ssl.Config {
	spec := nn.BackboneSpec{Arch: c.Arch, Width: c.Width, WidthMult: c.WidthMult, InChannels: inChannels}
	if strings.EqualFold(c.Stem, "imagenet") {
		spec.Stem = nn.ImageNetStem
	}
	return ssl.Config{Backbone: spec, ProjDim: c.ProjDim, PredHidden: c.PredHidden,
		EMAMomentum: c.EMAMomentum, Temperature: c.Temperature, Queue: c.Queue}
}
