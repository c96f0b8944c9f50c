package eval_test

import (
	"fmt"

	"github.com/siam-ssl/siam/data"
	"github.com/siam-ssl/siam/eval"
	"github.com/siam-ssl/siam/nn"
	"github.com/siam-ssl/siam/ssl"
)

// exampleData is a small synthetic problem: 16x16 one-channel images of two
// classes (dark left half or dark right half, with a little texture).
func exampleData(n int) *data.Dataset {
	ds := &data.Dataset{Name: "halves", N: n, C: 1, H: 16, W: 16, Classes: 2,
		Pixels: make([]uint8, n*256), Labels: make([]int, n)}
	for i := 0; i < n; i++ {
		ds.Labels[i] = i % 2
		for y := 0; y < 16; y++ {
			for x := 0; x < 16; x++ {
				v := 200 + (x*7+y*13+i*3)%40
				if (x < 8) == (i%2 == 0) {
					v = 20 + (x*5+y*3+i)%40
				}
				ds.Pixels[i*256+y*16+x] = uint8(v)
			}
		}
	}
	return ds
}

// exampleModel is a randomly initialised width-4 ResNet-18 SimSiam for
// one-channel images (a trained one comes from train.LoadCheckpoint).
func exampleModel() *ssl.SimSiam {
	m, _ := ssl.NewSimSiam(ssl.Config{Backbone: nn.BackboneSpec{Arch: "resnet18", Width: 4, InChannels: 1}}, 1)
	return m
}

// Features extracts backbone representations (eval mode, no augmentation) as a
// row-major matrix, ready for collapse.Spectrum or KNN.
func ExampleFeatures() {
	m := exampleModel()
	ds := exampleData(10)
	feats, dim, labels, err := eval.Features(m, ds, nil, 4)
	if err != nil {
		panic(err)
	}
	fmt.Println(len(feats)/dim, "rows of dimension", dim, "labels", labels[:4])
	// A seeded sample of the images:
	_, _, l2, _ := eval.Features(m, ds, eval.SampleIndices(ds.N, 3, 7), 0)
	fmt.Println(len(l2), "sampled rows")
	// Output:
	// 10 rows of dimension 32 labels [0 1 0 1]
	// 3 sampled rows
}

// LinearProbe trains a linear classifier on frozen features; CachedFeatures is
// the fast mode (features computed once, no augmentation).
func ExampleLinearProbe() {
	m := exampleModel()
	train, val := exampleData(200), exampleData(60)
	res, err := eval.LinearProbe(m, train, val, eval.LinearOptions{
		Epochs: 30, Batch: 32, LR: 30, Seed: 1, CachedFeatures: true})
	if err != nil {
		panic(err)
	}
	fmt.Println("epochs:", len(res.EpochLoss), "well above chance:", res.ValAccuracy > 0.9)
	// Output:
	// epochs: 30 well above chance: true
}
