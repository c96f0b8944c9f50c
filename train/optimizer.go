package train

import (
	"fmt"
	"strings"

	"github.com/siam-ssl/siam/optim"
)

// OptimizerName resolves the config's optimizer: "auto" (or empty) means AdamW
// for a ViT backbone (Appendix A.4 of the paper) and SGD with momentum for a
// ResNet (Section 3.1).
func (c Config) OptimizerName() string {
	o := strings.ToLower(c.Optimizer)
	if o == "" || o == "auto" {
		if IsViT(c.Arch) {
			return "adamw"
		}
		return "sgd"
	}
	return o
}

// IsViT reports whether arch names a Vision Transformer backbone.
func IsViT(arch string) bool { return strings.HasPrefix(strings.ToLower(arch), "vit") }

// NewOptimizer builds the optimizer the config names over groups: SGD and LARS
// with the config's momentum, AdamW with betas (0.9, 0.999) as the references.
func NewOptimizer(c Config, groups []optim.Group) (optim.Optimizer, error) {
	switch c.OptimizerName() {
	case "sgd":
		return optim.NewSGD(groups, c.Momentum), nil
	case "lars":
		return optim.NewLARS(groups, c.Momentum), nil
	case "adamw":
		return optim.NewAdamW(groups), nil
	}
	return nil, fmt.Errorf("unknown optimizer %q (want auto, sgd, lars or adamw)", c.Optimizer)
}

// ViT training defaults of the paper's Appendix A.4 (MoCo v3's recipe): AdamW,
// base rate 1.5e-4 (scaled by batch/256 like every rate), weight decay 0.1, and a
// linear warm-up over the first tenth of training (10 of 100 epochs).
const (
	ViTLR          = 1.5e-4
	ViTWD          = 0.1
	ViTWarmupShare = 0.1
)

// WithArchDefaults gives a ViT run the Appendix A.4 recipe (optimizer, lr, wd,
// warm-up) for every one of those keys the user did not set explicitly
// (explicit holds config keys as in YAML: "lr", "warmup_steps", ...). ResNet
// configs are returned unchanged.
func WithArchDefaults(c Config, explicit map[string]bool) Config {
	if !IsViT(c.Arch) {
		return c
	}
	if !explicit["optimizer"] {
		c.Optimizer = "adamw"
	}
	if !explicit["lr"] {
		c.LR = ViTLR
	}
	if !explicit["wd"] {
		c.WD = ViTWD
	}
	if !explicit["warmup_steps"] {
		c.WarmupSteps = int(ViTWarmupShare * float64(c.Steps))
	}
	return c
}
