package train

import (
	"strings"

	"github.com/siam-ssl/siam/nn"
	"github.com/siam-ssl/siam/ssl"
)

// BuildModel makes the SimSiam model a config describes, for inChannels-channel
// images, initialised from the config's seed.
func BuildModel(c Config, inChannels int) (*ssl.SimSiam, error) {
	arch, err := nn.Preset(c.Arch)
	if err != nil {
		return nil, err
	}
	arch.Width, arch.WidthMult, arch.InChannels = c.Width, c.WidthMult, inChannels
	if strings.EqualFold(c.Stem, "imagenet") {
		arch.Stem = nn.ImageNetStem
	}
	return ssl.NewSimSiam(ssl.SimSiamConfig{Backbone: arch, ProjDim: c.ProjDim, PredHidden: c.PredHidden}, c.Seed)
}
