package nn_test

import (
	"fmt"
	"math/rand/v2"

	"github.com/siam-ssl/siam/nn"
	"github.com/siam-ssl/siam/tensor"
)

// A ViT-Tiny for 32x32 colour images with MoCo v3's frozen random patch
// projection: the patch weights sit in Frozen, so an optimiser built from Params
// never updates them, while the state dict still carries them.
func ExampleNewBackbone_vit() {
	var c nn.Collection
	b, err := nn.NewBackbone(&c, "backbone.", nn.BackboneSpec{Arch: "vit-tiny", ImageSize: 32, FrozenPatch: true},
		rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		fmt.Println(err)
		return
	}
	g := tensor.NewGraph()
	g.SetNoGrad(true)
	z := b.Forward(g, tensor.New(2, 3, 32, 32))
	fmt.Println("representation", z.Shape(), "patch", b.(*nn.ViT).Config.PatchSize)
	fmt.Println("trainable", c.NumParams(), "frozen tensors", len(c.Frozen))

	_, err = nn.NewBackbone(&c, "", nn.BackboneSpec{Arch: "vit-s", ImageSize: 30}, rand.New(rand.NewPCG(1, 2)))
	fmt.Println(err)
	// Output:
	// representation [2 192] patch 4
	// trainable 5338944 frozen tensors 3
	// vit: patch size 4 does not divide the input size 30
}
