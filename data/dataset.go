package data

import (
	"errors"
	"fmt"
	"math"
)

// Dataset is a labelled set of images, held in one of two ways:
//
//   - in memory: Pixels holds N equally sized images one after another, each
//     as C planes of H rows of W bytes (CHW), so an image converts to a
//     float32 CHW tensor without reordering (IDX, CIFAR, small ImageFolders);
//   - streamed: Files reads each image's encoded file on demand and Pixels is
//     nil (large ImageFolder trees, WebDataset shards). The images keep their
//     own sizes; H x W is the side the Loader's views and the evaluation
//     transform produce, and memory stays bounded whatever N is.
//
// Both feed the same Loader, EvalIter and Image.
type Dataset struct {
	Name       string   // human-readable origin, e.g. "fashion-mnist/train"
	N, C, H, W int      // image count, channels (1 or 3), height, width
	Classes    int      // number of classes; every label is in [0, Classes)
	ClassNames []string // optional names, len Classes when set
	Pixels     []uint8  // N*C*H*W bytes, CHW per image; nil when streamed
	Labels     []int    // N labels
	Files      *FileSet // the encoded files of a streamed dataset; nil in memory

	dropped int // unreadable files left out when an in-memory set was decoded
}

// ImageSize returns the number of bytes (and float32 values) in one image, C*H*W.
func (d *Dataset) ImageSize() int { return d.C * d.H * d.W }

// Image returns image i's CHW bytes: a slice of Pixels (not a copy) in memory;
// for a streamed dataset a fresh C x H x W buffer holding the evaluation
// transform of the file (shorter side resized to H*256/224, centre crop), or
// mid-gray with one warning if the file cannot be read or decoded.
func (d *Dataset) Image(i int) []uint8 {
	if d.Files != nil {
		return d.streamImage(i)
	}
	s := d.ImageSize()
	return d.Pixels[i*s : (i+1)*s : (i+1)*s]
}

// ImageFloat writes image i as float32 CHW values in [0,1] into dst (grown if
// too short) and returns it; use it where no augmentation or normalisation is wanted.
func (d *Dataset) ImageFloat(i int, dst []float32) []float32 {
	src := d.Image(i)
	if cap(dst) < len(src) {
		dst = make([]float32, len(src))
	}
	dst = dst[:len(src)]
	for j, v := range src {
		dst[j] = unit[v]
	}
	return dst
}

// Validate checks that the shape fields, pixel and label slices and label range
// agree, so readers and hand-built datasets fail early rather than in a batch.
func (d *Dataset) Validate() error {
	if d == nil {
		return errors.New("data: nil dataset")
	}
	if d.N < 0 || d.C <= 0 || d.H <= 0 || d.W <= 0 {
		return fmt.Errorf("data: %s: bad shape N=%d C=%d H=%d W=%d", d.Name, d.N, d.C, d.H, d.W)
	}
	if d.C != 1 && d.C != 3 {
		return fmt.Errorf("data: %s: %d channels, want 1 or 3", d.Name, d.C)
	}
	if d.Files != nil {
		if d.Pixels != nil {
			return fmt.Errorf("data: %s: streamed dataset also holds pixels", d.Name)
		}
		if d.Files.Store == nil || d.Files.Store.Len() != d.N {
			return fmt.Errorf("data: %s: file store does not hold %d images", d.Name, d.N)
		}
	} else if len(d.Pixels) != d.N*d.ImageSize() {
		return fmt.Errorf("data: %s: %d pixel bytes, want N*C*H*W = %d", d.Name, len(d.Pixels), d.N*d.ImageSize())
	}
	if len(d.Labels) != d.N {
		return fmt.Errorf("data: %s: %d labels for %d images", d.Name, len(d.Labels), d.N)
	}
	if d.ClassNames != nil && len(d.ClassNames) != d.Classes {
		return fmt.Errorf("data: %s: %d class names for %d classes", d.Name, len(d.ClassNames), d.Classes)
	}
	for i, l := range d.Labels {
		if l < 0 || l >= d.Classes {
			return fmt.Errorf("data: %s: label %d of image %d outside [0,%d)", d.Name, l, i, d.Classes)
		}
	}
	return nil
}

// ClassCounts returns how many images carry each label, len Classes.
func (d *Dataset) ClassCounts() []int {
	c := make([]int, d.Classes)
	for _, l := range d.Labels {
		c[l]++
	}
	return c
}

// Select returns a new dataset holding copies of the images at idx, in that
// order; it is the building block for subsets and chunked orderings.
//
// For a streamed dataset the selection shares the files (nothing is decoded).
func (d *Dataset) Select(idx []int) (*Dataset, error) {
	if d.Files != nil {
		return d.selectStreamed(idx)
	}
	s := d.ImageSize()
	out := &Dataset{Name: d.Name, N: len(idx), C: d.C, H: d.H, W: d.W, Classes: d.Classes,
		ClassNames: d.ClassNames, Pixels: make([]uint8, len(idx)*s), Labels: make([]int, len(idx))}
	for j, i := range idx {
		if i < 0 || i >= d.N {
			return nil, fmt.Errorf("data: %s: select index %d outside [0,%d)", d.Name, i, d.N)
		}
		copy(out.Pixels[j*s:], d.Image(i))
		out.Labels[j] = d.Labels[i]
	}
	return out, nil
}

// ChannelStats returns the per-channel mean and standard deviation of the
// pixels scaled to [0,1], the numbers a Recipe normalises with. A streamed
// dataset returns Files.Mean and Files.Std when set, else an estimate from a
// seeded sample of 256 images (EstimateStats).
func (d *Dataset) ChannelStats() (mean, std []float32) {
	if d.Files != nil {
		if len(d.Files.Mean) == d.C && len(d.Files.Std) == d.C {
			return append([]float32(nil), d.Files.Mean...), append([]float32(nil), d.Files.Std...)
		}
		return EstimateStats(d, 256)
	}
	plane := d.H * d.W
	sum := make([]float64, d.C)
	sq := make([]float64, d.C)
	for i := 0; i < d.N; i++ {
		img := d.Image(i)
		for c := 0; c < d.C; c++ {
			var s, q uint64
			for _, v := range img[c*plane : (c+1)*plane] {
				s += uint64(v)
				q += uint64(v) * uint64(v)
			}
			sum[c] += float64(s)
			sq[c] += float64(q)
		}
	}
	mean = make([]float32, d.C)
	std = make([]float32, d.C)
	n := float64(d.N) * float64(plane)
	if n == 0 {
		return mean, std
	}
	for c := range mean {
		m := sum[c] / n / 255
		v := sq[c]/n/(255*255) - m*m
		if v < 0 {
			v = 0
		}
		mean[c] = float32(m)
		std[c] = float32(math.Sqrt(v))
	}
	return mean, std
}

// Concat joins datasets of the same image shape into one, in argument order;
// readers use it to merge CIFAR batch files. Classes is the largest of the parts.
func Concat(name string, parts ...*Dataset) (*Dataset, error) {
	if len(parts) == 0 {
		return nil, errors.New("data: concat of no datasets")
	}
	out := &Dataset{Name: name, C: parts[0].C, H: parts[0].H, W: parts[0].W, ClassNames: parts[0].ClassNames}
	for _, p := range parts {
		if p.Files != nil {
			return nil, errStreamedConcat
		}
		if p.C != out.C || p.H != out.H || p.W != out.W {
			return nil, fmt.Errorf("data: concat %s: %s is %dx%dx%d, want %dx%dx%d", name, p.Name, p.C, p.H, p.W, out.C, out.H, out.W)
		}
		out.N += p.N
		out.Classes = max(out.Classes, p.Classes)
	}
	out.Pixels = make([]uint8, 0, out.N*out.ImageSize())
	out.Labels = make([]int, 0, out.N)
	for _, p := range parts {
		out.Pixels = append(out.Pixels, p.Pixels...)
		out.Labels = append(out.Labels, p.Labels...)
	}
	if out.ClassNames != nil && len(out.ClassNames) != out.Classes {
		out.ClassNames = nil
	}
	return out, nil
}
