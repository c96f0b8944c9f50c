// Package embedded holds the default dataset compiled into the siam binary: a
// seeded, class-balanced subset of Fashion-MNIST, 10,000 training images
// (1,000 per class) and 2,000 test images (200 per class), 28x28 grayscale,
// stored as gzipped IDX files (about 5 MB).
//
// Source: Fashion-MNIST by Zalando Research
// (https://github.com/zalandoresearch/fashion-mnist), Copyright 2017 Zalando SE,
// MIT licence; the files were taken from Debian's dataset-fashion-mnist package.
// The SOURCE file records the origin and selection parameters; gen.go
// regenerates the files (go generate ./data/embedded).
//
// Importing this package registers it with package data, so data.Open("") and
// data.Open("embedded") work; a blank import suffices:
//
//	import _ "github.com/siam-ssl/siam/data/embedded"
package embedded

//go:generate go run gen.go

import (
	"bytes"
	"embed"
	"fmt"
	"strings"

	"github.com/siam-ssl/siam/data"
)

//go:embed SOURCE *.gz
var files embed.FS

func init() { data.RegisterEmbedded(Load) }

// Source returns the recorded origin of the embedded images, e.g.
// "fashion-mnist seed=... train=1000/class test=200/class".
func Source() string {
	b, _ := files.ReadFile("SOURCE")
	return strings.TrimSpace(string(b))
}

// Load decodes the embedded train and test splits. Each call returns fresh
// datasets that the caller may modify.
func Load() (train, test *data.Dataset, err error) {
	src := strings.Fields(Source())
	name := "embedded"
	if len(src) > 0 {
		name = "embedded-" + src[0]
	}
	split := func(prefix, label string) (*data.Dataset, error) {
		read := func(f string) (*data.IDX, error) {
			b, err := files.ReadFile(f)
			if err != nil {
				return nil, fmt.Errorf("embedded: %w", err)
			}
			return data.DecodeIDX(bytes.NewReader(b), "embedded/"+f)
		}
		im, err := read(prefix + "-images-idx3-ubyte.gz")
		if err != nil {
			return nil, err
		}
		lb, err := read(prefix + "-labels-idx1-ubyte.gz")
		if err != nil {
			return nil, err
		}
		ds, err := data.IDXDataset(im, lb, prefix+"-images", prefix+"-labels", 10)
		if err != nil {
			return nil, err
		}
		ds.Name = name + "/" + label
		if len(src) > 0 && src[0] == "fashion-mnist" {
			ds.ClassNames = data.FashionMNISTClasses
		}
		return ds, nil
	}
	if train, err = split("train", "train"); err != nil {
		return nil, nil, err
	}
	if test, err = split("t10k", "test"); err != nil {
		return nil, nil, err
	}
	return train, test, nil
}
