package data

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	_ "image/jpeg" // registers the JPEG decoder for image.Decode
	_ "image/png"  // registers the PNG decoder for image.Decode
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"

	"golang.org/x/image/draw"
)

// DefaultImageSize is the side ImageFolder images are resized to when no size is given.
const DefaultImageSize = 32

// ImageFolderOptions tunes LoadImageFolder.
type ImageFolderOptions struct {
	// Size is the side of the square RGB images produced (default DefaultImageSize).
	// Each image's shorter side is resized to Size (Catmull-Rom) and the centre
	// Size x Size square kept, the usual resize + centre-crop convention.
	Size int
	// Workers decodes files in parallel (default GOMAXPROCS).
	Workers int
}

// imageExts are the file extensions LoadImageFolder reads (case-insensitive);
// other files are ignored.
var imageExts = map[string]bool{".jpg": true, ".jpeg": true, ".png": true}

// isImageFolder reports whether dir holds sub-folders (class or split folders).
func isImageFolder(dir string) bool {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	for _, e := range ents {
		if e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
			return true
		}
	}
	return false
}

// LoadImageFolder reads an ImageNet-style tree: root/train/<class>/*.{jpg,jpeg,png}
// and root/val/<class>/... (root/test is accepted in place of val). Without a
// train folder, root itself is the class root of the train set and test is nil.
// Classes are the train class folders in sorted order; a val class that train
// lacks, an empty class folder or an undecodable file is an error naming it.
func LoadImageFolder(root string, opt ImageFolderOptions) (train, test *Dataset, err error) {
	if opt.Size <= 0 {
		opt.Size = DefaultImageSize
	}
	if opt.Workers <= 0 {
		opt.Workers = runtime.GOMAXPROCS(0)
	}
	trainDir, testDir, classes, err := folderSplits(root)
	if err != nil {
		return nil, nil, err
	}
	base := filepath.Base(filepath.Clean(root))
	if train, err = loadSplit(base+"/train", trainDir, classes, classes, opt); err != nil {
		return nil, nil, err
	}
	if testDir == "" {
		return train, nil, nil
	}
	testClasses, err := classFolders(testDir)
	if err != nil {
		return nil, nil, err
	}
	if test, err = loadSplit(base+"/"+filepath.Base(testDir), testDir, testClasses, classes, opt); err != nil {
		return nil, nil, err
	}
	return train, test, nil
}

// folderSplits finds the splits of an ImageNet-style tree: root/train and
// root/val (or root/test, testDir "" when neither is there), or root itself as
// the only (train) split when it has no train folder; classes are the train
// split's class folders (classFolders).
func folderSplits(root string) (trainDir, testDir string, classes []string, err error) {
	trainDir = root
	if isDir(filepath.Join(root, "train")) {
		trainDir = filepath.Join(root, "train")
		for _, v := range []string{"val", "test"} {
			if isDir(filepath.Join(root, v)) {
				testDir = filepath.Join(root, v)
				break
			}
		}
	}
	classes, err = classFolders(trainDir)
	return trainDir, testDir, classes, err
}

func isDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}

// classFolders lists the non-hidden sub-folders of dir (symbolic links to
// folders included), sorted.
func classFolders(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("imagefolder: %w", err)
	}
	var out []string
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".") {
			continue
		}
		folder := e.IsDir()
		if e.Type()&os.ModeSymlink != 0 {
			folder = isDir(filepath.Join(dir, e.Name()))
		}
		if folder {
			out = append(out, e.Name())
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("imagefolder: %s: no class folders", dir)
	}
	sort.Strings(out)
	return out, nil
}

// loadSplit decodes every image under dir/<class> for the given classes,
// labelling them by their index in all (the train class list).
func loadSplit(name, dir string, classes, all []string, opt ImageFolderOptions) (*Dataset, error) {
	index := make(map[string]int, len(all))
	for i, c := range all {
		index[c] = i
	}
	var files []string
	var labels []int
	for _, c := range classes {
		l, ok := index[c]
		if !ok {
			return nil, fmt.Errorf("imagefolder: %s: class folder %q is not among the train classes", dir, c)
		}
		cdir := filepath.Join(dir, c)
		before := len(files)
		err := filepath.WalkDir(cdir, func(p string, e fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if strings.HasPrefix(e.Name(), ".") && p != cdir {
				if e.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
			if !e.IsDir() && imageExts[strings.ToLower(filepath.Ext(p))] {
				files = append(files, p)
				labels = append(labels, l)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("imagefolder: %w", err)
		}
		if len(files) == before {
			return nil, fmt.Errorf("imagefolder: class folder %s has no .jpg, .jpeg or .png files", cdir)
		}
	}
	return decodeFiles(name, files, labels, all, opt)
}

// decodeFiles decodes the given files into an in-memory dataset of
// opt.Size x opt.Size RGB images (shorter side resized, centre square kept),
// in parallel over opt.Workers goroutines; the first unreadable file is an
// error.
func decodeFiles(name string, files []string, labels []int, classes []string, opt ImageFolderOptions) (*Dataset, error) {
	ds, errs := decodeAll(name, files, labels, classes, opt)
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return ds, nil
}

// decodeAll decodes every file, returning each file's error (nil when read).
func decodeAll(name string, files []string, labels []int, classes []string, opt ImageFolderOptions) (*Dataset, []error) {
	s := opt.Size
	ds := &Dataset{Name: name, N: len(files), C: 3, H: s, W: s, Classes: len(classes), ClassNames: classes,
		Pixels: make([]uint8, len(files)*3*s*s), Labels: labels}
	errs := make([]error, len(files))
	var wg sync.WaitGroup
	var next int
	var mu sync.Mutex
	for range min(opt.Workers, len(files)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dst := image.NewRGBA(image.Rect(0, 0, s, s))
			for {
				mu.Lock()
				i := next
				next++
				mu.Unlock()
				if i >= len(files) {
					return
				}
				errs[i] = decodeInto(files[i], dst, ds.Image(i))
			}
		}()
	}
	wg.Wait()
	return ds, errs
}

// decodeSkipping is decodeAll that leaves unreadable files out, each
// reported once through bad (to warn) and counted (Dataset.BadFiles), as a
// streamed dataset would skip them; only a set with no readable file is an
// error.
func decodeSkipping(name string, files []string, labels []int, classes []string, opt ImageFolderOptions, warn io.Writer, bad *badFiles) (*Dataset, error) {
	ds, errs := decodeAll(name, files, labels, classes, opt)
	keep := make([]int, 0, len(files))
	for i, err := range errs {
		if err != nil {
			for errors.Unwrap(err) != nil { // the cause; the warning names the file
				err = errors.Unwrap(err)
			}
			bad.report(warn, files[i], err)
			continue
		}
		keep = append(keep, i)
	}
	if len(keep) == len(files) {
		return ds, nil
	}
	if len(keep) == 0 {
		return nil, fmt.Errorf("imagefolder: %s: no readable image (first error: %v)", name, errs[0])
	}
	out, err := ds.Select(keep)
	if err != nil {
		return nil, err
	}
	out.dropped = len(files) - len(keep)
	return out, nil
}

// decodeInto decodes the file at path, resizes its centre square into dst
// and writes dst's R, G, B planes into chw.
func decodeInto(path string, dst *image.RGBA, chw []uint8) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("imagefolder: %w", err)
	}
	// The header first: its size bounds what decoding allocates.
	if _, _, _, err := imageHeader(raw); err != nil {
		return fmt.Errorf("imagefolder: %s: cannot decode image: %w", path, err)
	}
	src, _, err := image.Decode(bytes.NewReader(raw))
	if err != nil {
		return fmt.Errorf("imagefolder: %s: cannot decode image: %w", path, err)
	}
	b := src.Bounds()
	side := min(b.Dx(), b.Dy())
	if side <= 0 {
		return fmt.Errorf("imagefolder: %s: empty image", path)
	}
	x0, y0 := b.Min.X+(b.Dx()-side)/2, b.Min.Y+(b.Dy()-side)/2
	draw.CatmullRom.Scale(dst, dst.Bounds(), src, image.Rect(x0, y0, x0+side, y0+side), draw.Src, nil)
	plane := dst.Rect.Dx() * dst.Rect.Dy()
	for p := 0; p < plane; p++ {
		chw[p] = dst.Pix[4*p]
		chw[plane+p] = dst.Pix[4*p+1]
		chw[2*plane+p] = dst.Pix[4*p+2]
	}
	return nil
}
