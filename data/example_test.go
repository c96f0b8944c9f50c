package data_test

import (
	"fmt"
	"log"

	"github.com/siam-ssl/siam/data"
	_ "github.com/siam-ssl/siam/data/embedded" // links the default dataset into Open("")
)

// Open resolves a dataset spec; "" is the embedded Fashion-MNIST subset.
func ExampleOpen() {
	train, test, err := data.Open("embedded")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s: %d images %dx%dx%d, %d classes\n", train.Name, train.N, train.C, train.H, train.W, train.Classes)
	fmt.Printf("%s: %d images, first class %q\n", test.Name, test.N, test.ClassNames[0])
	// Output:
	// embedded-fashion-mnist/train: 10000 images 1x28x28, 10 classes
	// embedded-fashion-mnist/test: 2000 images, first class "T-shirt/top"
}

// A Loader turns a sampler's indices into batches of two augmented views,
// prepared ahead by background workers and returned in step order.
func ExampleLoader() {
	train, _, err := data.Open("")
	if err != nil {
		log.Fatal(err)
	}
	const batch = 256
	sampler := func(step int) []int { // the ordering package supplies this
		idx := make([]int, batch)
		for i := range idx {
			idx[i] = (step*batch + i) % train.N
		}
		return idx
	}
	l, err := data.NewLoader(data.LoaderConfig{Dataset: train, Recipe: data.SimSiamGray28(),
		Sampler: sampler, Batch: batch, Steps: 3, Seed: 1, Workers: 2})
	if err != nil {
		log.Fatal(err)
	}
	defer l.Close()
	for {
		b, err := l.Next()
		if err != nil {
			break // io.EOF after step 2
		}
		fmt.Printf("step %d: x1 %d x %dx%dx%d, x2 %d values\n", b.Step, b.N, b.C, b.H, b.W, len(b.X2))
	}
	// Output:
	// step 0: x1 256 x 1x28x28, x2 200704 values
	// step 1: x1 256 x 1x28x28, x2 200704 values
	// step 2: x1 256 x 1x28x28, x2 200704 values
}
