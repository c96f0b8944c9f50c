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
