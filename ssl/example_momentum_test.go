package ssl_test

import (
	"fmt"

	"github.com/siam-ssl/siam/nn"
	"github.com/siam-ssl/siam/optim"
	"github.com/siam-ssl/siam/ssl"
	"github.com/siam-ssl/siam/tensor"
)

// ExampleNew_byol builds BYOL by name and runs one training step: loss,
// backward, optimizer step, then AfterStep, which moves the EMA target encoder.
// The target travels in checkpoints as ExtraState, under target.* names.
func ExampleNew_byol() {
	m, err := ssl.New("byol", ssl.Config{Backbone: nn.BackboneSpec{Arch: "resnet18", Width: 4, InChannels: 1}}, 1)
	if err != nil {
		panic(err)
	}
	opt := optim.NewSGD(m.ParamGroups(0.05, 1e-4, false), 0.9)
	const n, side = 8, 16
	x1, x2 := make([]float32, n*side*side), make([]float32, n*side*side)
	for i := range x1 {
		x1[i], x2[i] = float32(i%13)/13, float32(i%7)/7
	}
	g := tensor.NewGraph()
	loss := m.Loss(g, g.Input(x1, n, 1, side, side), g.Input(x2, n, 1, side, side))
	m.Modules().ZeroGrad()
	if err := g.Backward(loss); err != nil {
		panic(err)
	}
	opt.Step(0.05)
	m.AfterStep(1, 100)
	fmt.Println(m.Name(), m.Views(), m.Backbone().FeatureDim(), m.ExtraState()[0].Name)
	// Output: byol 2 32 target.backbone.conv1.weight
}
