package data_test

import (
	"fmt"
	"image"
	"image/jpeg"
	"log"
	"os"
	"path/filepath"

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

// Pack writes an ImageFolder tree as WebDataset shards (KEY.jpg + KEY.cls);
// Open reads them back by brace range as a streamed dataset.
func ExamplePack() {
	root, _ := os.MkdirTemp("", "siam-example-tree")
	defer os.RemoveAll(root)
	out, _ := os.MkdirTemp("", "siam-example-shards")
	defer os.RemoveAll(out)
	for c, class := range []string{"dog", "cat"} {
		for i := range 3 {
			img := image.NewGray(image.Rect(0, 0, 40, 30))
			for p := range img.Pix {
				img.Pix[p] = uint8(100*c + 10*i + p%7)
			}
			p := filepath.Join(root, class, fmt.Sprintf("%d.jpg", i))
			os.MkdirAll(filepath.Dir(p), 0o755)
			f, _ := os.Create(p)
			jpeg.Encode(f, img, nil)
			f.Close()
		}
	}
	res, err := data.Pack(root, out, data.PackOptions{Seed: 1})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s: %d images in %d shard(s)\n", res[0].Split, res[0].Images, res[0].Shards)
	train, _, err := data.OpenWith(filepath.Join(out, "train-{000000..000000}.tar"), data.OpenOptions{ImageSize: 24})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(train.N, train.Streamed(), train.ClassNames, len(train.Image(0)))
	// Output:
	// train: 6 images in 1 shard(s)
	// 6 true [cat dog] 1728
}

// ExpandBraces turns a WebDataset shard range into file names.
func ExampleExpandBraces() {
	names, err := data.ExpandBraces("shards/train-{000..002}.tar")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(names)
	// Output: [shards/train-000.tar shards/train-001.tar shards/train-002.tar]
}
