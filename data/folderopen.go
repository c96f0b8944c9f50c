package data

import (
	"io"
	"path/filepath"
	"runtime"
)

// statsSide is the side of the evaluation views channel statistics of a
// streamed tree are estimated on (the estimate hardly depends on it, and a
// fixed side lets one cached value serve every --size).
const statsSide = 64

// statsSamples is the number of images the statistics are estimated on.
const statsSamples = 256

// OpenImageFolder opens an ImageNet-style tree (root/train/<class>/...,
// root/val/<class>/...; or root/<class>/... as the train split alone) at
// side opt.ImageSize. Its file index (paths and labels, classes sorted as
// torchvision sorts them) is built once and cached beside the class folders,
// or in opt.CacheDir when that folder is read-only. Depending on opt.Stream
// and the decoded size, the images are then decoded into memory (resized,
// centre-cropped) or left on disk and decoded per sample by the Loader's
// workers (a streamed Dataset, see Dataset.Files).
func OpenImageFolder(root string, opt OpenOptions) (train, test *Dataset, err error) {
	if opt.ImageSize <= 0 {
		opt.ImageSize = DefaultImageSize
	}
	if opt.Workers <= 0 {
		opt.Workers = runtime.GOMAXPROCS(0)
	}
	if opt.MemoryLimit <= 0 {
		opt.MemoryLimit = DefaultMemoryLimit
	}
	log := opt.Log
	if log == nil {
		log = io.Discard
	}
	trainDir, testDir, classes, err := folderSplits(root)
	if err != nil {
		return nil, nil, err
	}
	base := filepath.Base(filepath.Clean(root))
	size := opt.ImageSize
	// One registry of unreadable files for both splits and the statistics
	// probe, so each bad file is reported once.
	bad := &badFiles{seen: map[string]bool{}}
	statsOf := func(x *folderIndex) {
		probe := streamedFolder(base+"/train", x, classes, statsSide, opt.Log, bad)
		x.mean, x.std = EstimateStats(probe, statsSamples)
	}
	xtr, err := loadFolderIndex(trainDir, classes, opt.CacheDir, log, statsOf)
	if err != nil {
		return nil, nil, err
	}
	if !xtr.hasStats() { // an index cached by a version that did not store them
		statsOf(xtr)
	}
	var xte *folderIndex
	if testDir != "" {
		if xte, err = loadFolderIndex(testDir, classes, opt.CacheDir, log, nil); err != nil {
			return nil, nil, err
		}
	}
	total := int64(xtr.len())
	if xte != nil {
		total += int64(xte.len())
	}
	stream := opt.Stream == StreamAlways || (opt.Stream == StreamAuto && total*3*int64(size)*int64(size) > opt.MemoryLimit)
	testName := ""
	if testDir != "" {
		testName = base + "/" + filepath.Base(testDir)
	}
	if stream {
		train = streamedFolder(base+"/train", xtr, classes, size, opt.Log, bad)
		train.Files.Mean, train.Files.Std = xtr.mean, xtr.std
		if xte != nil {
			test = streamedFolder(testName, xte, classes, size, opt.Log, bad)
			test.Files.Mean, test.Files.Std = xtr.mean, xtr.std
		}
		return train, test, nil
	}
	fo := ImageFolderOptions{Size: size, Workers: opt.Workers}
	if train, err = decodeSkipping(base+"/train", xtr.paths(), xtr.labels, classes, fo, opt.Log, bad); err != nil {
		return nil, nil, err
	}
	if xte != nil {
		if test, err = decodeSkipping(testName, xte.paths(), xte.labels, classes, fo, opt.Log, bad); err != nil {
			return nil, nil, err
		}
	}
	return train, test, nil
}

// streamedFolder is the streamed Dataset of an index at the given side.
func streamedFolder(name string, x *folderIndex, classes []string, size int, warn io.Writer, bad *badFiles) *Dataset {
	return &Dataset{Name: name, N: x.len(), C: 3, H: size, W: size, Classes: len(classes), ClassNames: classes,
		Labels: x.labels, Files: &FileSet{Store: folderStore{x}, Warn: warn, bad: bad}}
}

// paths returns every file's full path.
func (x *folderIndex) paths() []string {
	out := make([]string, x.len())
	for i := range out {
		out[i] = x.path(i)
	}
	return out
}
