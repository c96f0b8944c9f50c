//go:build ignore

// gen.go regenerates the embedded dataset: a seeded, class-balanced subset of
// Fashion-MNIST (1,000 train and 200 test images per class) written as gzipped
// IDX files, plus a SOURCE file naming where the images came from. Run it with
// `go generate ./data/embedded` from the module root. Without Debian's
// dataset-fashion-mnist package it falls back to MNIST from the GoMNIST module
// and says so in SOURCE.
package main

import (
	"flag"
	"fmt"
	"log"
	"math/rand/v2"
	"os"
	"sort"

	"github.com/siam-ssl/siam/data"
)

func main() {
	src := flag.String("src", data.FashionMNISTSystemDir, "directory of the Fashion-MNIST IDX files")
	seed := flag.Uint64("seed", 20240601, "selection seed")
	perTrain := flag.Int("train", 1000, "train images per class")
	perTest := flag.Int("test", 200, "test images per class")
	flag.Parse()

	source := "fashion-mnist"
	train, test, err := data.LoadIDXDir(*src)
	if err != nil {
		log.Printf("Fashion-MNIST unavailable (%v); FALLING BACK TO MNIST", err)
		source = "mnist"
		if train, test, err = data.Open("mnist"); err != nil {
			log.Fatal(err)
		}
	}
	rng := rand.New(rand.NewPCG(*seed, 0xfa5410))
	write := func(ds *data.Dataset, per int, split string) {
		sub, err := ds.Select(balanced(ds, per, rng))
		if err != nil {
			log.Fatal(err)
		}
		if err := data.WriteIDX(sub, split+"-images-idx3-ubyte.gz", split+"-labels-idx1-ubyte.gz"); err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%s: %d images, per class %v\n", split, sub.N, sub.ClassCounts())
	}
	write(train, *perTrain, "train")
	write(test, *perTest, "t10k")
	note := fmt.Sprintf("%s seed=%d train=%d/class test=%d/class\n", source, *seed, *perTrain, *perTest)
	if err := os.WriteFile("SOURCE", []byte(note), 0o644); err != nil {
		log.Fatal(err)
	}
	fmt.Print("SOURCE: ", note)
}

// balanced draws per images of every class without replacement and returns
// their indices in increasing order (the original file order).
func balanced(ds *data.Dataset, per int, rng *rand.Rand) []int {
	byClass := make([][]int, ds.Classes)
	for i, l := range ds.Labels {
		byClass[l] = append(byClass[l], i)
	}
	var out []int
	for c, idx := range byClass {
		if len(idx) < per {
			log.Fatalf("class %d has %d images, need %d", c, len(idx), per)
		}
		rng.Shuffle(len(idx), func(i, j int) { idx[i], idx[j] = idx[j], idx[i] })
		out = append(out, idx[:per]...)
	}
	sort.Ints(out)
	return out
}
