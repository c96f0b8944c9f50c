package data

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
)

// Store gives random access to the encoded image files of a streamed
// Dataset: an ImageFolder tree's files or the members of WebDataset shards.
// Implementations must be safe for concurrent use; they read on demand and
// keep no image in memory.
type Store interface {
	// Len is the number of images.
	Len() int
	// Path names image i in messages, e.g. "train/cat/x.jpg" or "train-000003.tar:000123.jpg".
	Path(i int) string
	// Read returns the encoded bytes of image i, reusing buf when it is large enough.
	Read(i int, buf []byte) ([]byte, error)
}

// FileSet is the file side of a streamed Dataset: where the encoded images
// are, their channel statistics and where warnings about unreadable files go.
type FileSet struct {
	// Store reads the encoded images.
	Store Store
	// Mean and Std are per-channel statistics of the images scaled to [0,1]
	// (estimated on a seeded sample when the index was built, see
	// EstimateStats); nil makes ChannelStats estimate them.
	Mean, Std []float32
	// Warn receives one line per unreadable file, the first time it is met
	// (nil: os.Stderr).
	Warn io.Writer

	once sync.Once
	bad  *badFiles
}

// badFiles records the unreadable files of a streamed set (shared by its
// subsets), so that each is reported once and counted.
type badFiles struct {
	mu   sync.Mutex
	seen map[string]bool
	n    atomic.Int64
}

func (f *FileSet) registry() *badFiles {
	f.once.Do(func() {
		if f.bad == nil {
			f.bad = &badFiles{seen: map[string]bool{}}
		}
	})
	return f.bad
}

// report warns about an unreadable file once and counts it.
func (f *FileSet) report(i int, err error) {
	f.registry().report(f.Warn, f.Store.Path(i), err)
}

// report writes one warning line naming path the first time it is met (to
// w, or os.Stderr when nil) and counts it.
func (r *badFiles) report(w io.Writer, path string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.seen[path] {
		return
	}
	r.seen[path] = true
	r.n.Add(1)
	if w == nil {
		w = os.Stderr
	}
	fmt.Fprintf(w, "warning: skipping unreadable image %s: %v\n", path, err)
}

// Streamed reports whether the dataset reads its images from files on demand
// (Files is set) rather than holding them in Pixels.
func (d *Dataset) Streamed() bool { return d.Files != nil }

// BadFiles returns how many distinct unreadable files the dataset has met:
// for a streamed set so far (each was reported once on Files.Warn and
// replaced in its batch), for an in-memory ImageFolder the files left out
// when it was decoded (each reported once); 0 otherwise.
func (d *Dataset) BadFiles() int {
	if d.Files == nil {
		return d.dropped
	}
	return int(d.Files.registry().n.Load())
}

// streamScratch is one goroutine's reusable state for reading and decoding.
type streamScratch struct {
	raw []byte
	img decoded
	tab sampleTable
	f   []float32
}

var scratchPool = sync.Pool{New: func() any { return new(streamScratch) }}

// load reads and decodes image i of fs into s.img at full size.
func (s *streamScratch) load(fs *FileSet, i int) error {
	return s.loadScaled(fs, i, nil)
}

// loadScaled reads image i of fs and decodes it into s.img, at the coarsest
// JPEG DCT scale (1/2, 1/4, 1/8) that still gives every box in boxes (crop
// boxes in image pixels, each with its output side) at least one decoded
// pixel per output pixel; boxes is called with the image size once the
// header is read.
func (s *streamScratch) loadScaled(fs *FileSet, i int, boxes func(w, h int) (shift int)) error {
	raw, err := fs.Store.Read(i, s.raw)
	if err != nil {
		return err
	}
	s.raw = raw
	format, w, h, err := imageHeader(raw)
	if err != nil {
		return err
	}
	shift := 0
	if boxes != nil {
		shift = boxes(w, h)
	}
	return s.img.decode(raw, format, w, h, shift)
}

// streamImage returns image i of a streamed dataset through the evaluation
// transform (shorter side to H*256/224, centre H x W crop) as C x H x W bytes.
// An unreadable file is reported once and gives a mid-gray image.
func (d *Dataset) streamImage(i int) []uint8 {
	out := make([]uint8, d.ImageSize())
	if err := d.streamImageInto(i, out); err != nil {
		d.Files.report(i, err)
		for j := range out {
			out[j] = 128
		}
	}
	return out
}

// streamImageInto decodes image i of a streamed dataset through the
// evaluation transform into out (C*H*W bytes).
func (d *Dataset) streamImageInto(i int, out []uint8) error {
	s := scratchPool.Get().(*streamScratch)
	defer scratchPool.Put(s)
	var bx, by, bw, bh float64
	err := s.loadScaled(d.Files, i, func(w, h int) int {
		bx, by, bw, bh = evalBox(w, h, d.H)
		return pyramidLevel(bw, bh, d.W, d.H)
	})
	if err != nil {
		return err
	}
	n := d.H * d.W
	if cap(s.f) < 3*n {
		s.f = make([]float32, 3*n)
	}
	f := s.f[:3*n]
	s.img.sampleView(f, d.W, d.H, bx, by, bw, bh, false, &s.tab)
	if d.C == 1 {
		f = f[:n] // gray datasets keep the first (equal) channel
	}
	for j, v := range f {
		out[j] = uint8(v*255 + 0.5)
	}
	return nil
}

// EstimateStats returns the per-channel mean and standard deviation of the
// [0,1] pixels of up to k images of ds drawn with a fixed seed, through the
// evaluation transform; for streamed datasets too large to average whole.
// Unreadable images are reported and left out.
func EstimateStats(ds *Dataset, k int) (mean, std []float32) {
	idx := rand.New(rand.NewPCG(0x57a75, 1)).Perm(ds.N)
	idx = idx[:min(k, ds.N)]
	sort.Ints(idx)
	// Per-image integer sums, reduced in index order afterwards, so the
	// result does not depend on which worker took which image.
	type sums struct {
		ok   bool
		s, q [3]uint64
	}
	per := make([]sums, len(idx))
	var next atomic.Int64
	var wg sync.WaitGroup
	plane := ds.H * ds.W
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			img := make([]uint8, ds.ImageSize())
			for {
				j := int(next.Add(1)) - 1
				if j >= len(idx) {
					return
				}
				if ds.Files != nil {
					if err := ds.streamImageInto(idx[j], img); err != nil {
						ds.Files.report(idx[j], err)
						continue
					}
				} else {
					img = ds.Image(idx[j])
				}
				p := &per[j]
				p.ok = true
				for c := 0; c < min(ds.C, 3); c++ {
					for _, v := range img[c*plane : (c+1)*plane] {
						p.s[c] += uint64(v)
						p.q[c] += uint64(v) * uint64(v)
					}
				}
			}
		}()
	}
	wg.Wait()
	mean, std = make([]float32, ds.C), make([]float32, ds.C)
	var s, q [3]uint64
	used := 0
	for _, p := range per {
		if p.ok {
			used++
			for c := range 3 {
				s[c] += p.s[c]
				q[c] += p.q[c]
			}
		}
	}
	n := float64(used) * float64(plane)
	if n == 0 {
		return mean, std
	}
	for c := range mean {
		m := float64(s[c]) / n / 255
		mean[c] = float32(m)
		std[c] = float32(math.Sqrt(max(float64(q[c])/n/(255*255)-m*m, 0)))
	}
	return mean, std
}

// subStore is a Store restricted to some indices of another, in order.
type subStore struct {
	base Store
	idx  []int
}

func (s *subStore) Len() int                               { return len(s.idx) }
func (s *subStore) Path(i int) string                      { return s.base.Path(s.idx[i]) }
func (s *subStore) Read(i int, buf []byte) ([]byte, error) { return s.base.Read(s.idx[i], buf) }

// selectStreamed is Select for a streamed dataset: the selection shares the
// files, statistics and unreadable-file registry of d.
func (d *Dataset) selectStreamed(idx []int) (*Dataset, error) {
	out := &Dataset{Name: d.Name, N: len(idx), C: d.C, H: d.H, W: d.W, Classes: d.Classes,
		ClassNames: d.ClassNames, Labels: make([]int, len(idx))}
	own := make([]int, len(idx))
	for j, i := range idx {
		if i < 0 || i >= d.N {
			return nil, fmt.Errorf("data: %s: select index %d outside [0,%d)", d.Name, i, d.N)
		}
		own[j] = i
		out.Labels[j] = d.Labels[i]
	}
	out.Files = &FileSet{Store: &subStore{base: d.Files.Store, idx: own}, Mean: d.Files.Mean, Std: d.Files.Std,
		Warn: d.Files.Warn, bad: d.Files.registry()}
	return out, nil
}

// errStreamedConcat is returned by Concat for streamed parts.
var errStreamedConcat = errors.New("data: concat of streamed datasets is not supported")

// Fingerprint returns a short hash of a dataset as the orderings see it: its
// size, shape, classes and labels and, for a streamed set, the file behind
// every index (not the pixels). A run records it so that a resume on a tree
// whose files were added or removed — which shifts every index — is refused
// rather than silently training on other images.
func Fingerprint(ds *Dataset) string {
	h := sha256.New()
	var b [binary.MaxVarintLen64]byte
	put := func(v int) { h.Write(b[:binary.PutVarint(b[:], int64(v))]) }
	put(ds.N)
	put(ds.C)
	put(ds.Classes)
	for _, l := range ds.Labels {
		put(l)
	}
	if ds.Files != nil {
		for i := 0; i < ds.N; i++ {
			io.WriteString(h, ds.Files.Store.Path(i))
			h.Write([]byte{0})
		}
	}
	return hex.EncodeToString(h.Sum(nil)[:12])
}
