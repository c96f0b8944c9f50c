package eval

import (
	"math/rand/v2"
	"testing"

	"github.com/siam-ssl/siam/data"
	"github.com/siam-ssl/siam/nn"
	"github.com/siam-ssl/siam/ssl"
)

// tinyModel is a width-4 ResNet-18 SimSiam (feature dimension 32) for one-channel
// images, randomly initialised from seed.
func tinyModel(t testing.TB, seed uint64) *ssl.SimSiam {
	t.Helper()
	m, err := ssl.NewSimSiam(ssl.Config{Backbone: nn.BackboneSpec{Arch: "resnet18", Width: 4, InChannels: 1}}, seed)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// templates returns an easy synthetic problem: n one-channel size x size images
// of `classes` classes, each a fixed random template of its class plus a little
// pixel noise. Class i%classes for image i; train and val share the templates.
func templates(n, classes, size int, seed uint64) *data.Dataset {
	rng := rand.New(rand.NewPCG(42, 7)) // templates fixed across splits
	px := size * size
	tmpl := make([][]uint8, classes)
	for k := range tmpl {
		tmpl[k] = make([]uint8, px)
		for i := range tmpl[k] {
			tmpl[k][i] = uint8(rng.IntN(256))
		}
	}
	noise := rand.New(rand.NewPCG(seed, 9))
	ds := &data.Dataset{Name: "templates", N: n, C: 1, H: size, W: size, Classes: classes,
		Pixels: make([]uint8, n*px), Labels: make([]int, n)}
	for i := 0; i < n; i++ {
		k := i % classes
		ds.Labels[i] = k
		for j, v := range tmpl[k] {
			x := int(v) + noise.IntN(31) - 15
			ds.Pixels[i*px+j] = uint8(min(max(x, 0), 255))
		}
	}
	return ds
}
