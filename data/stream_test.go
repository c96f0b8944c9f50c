package data

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// classColours are the base colours of the generated classes.
var classColours = []color.RGBA{{200, 40, 40, 255}, {40, 180, 60, 255}, {50, 60, 210, 255}, {200, 200, 40, 255}, {160, 60, 190, 255}}

// tinyJPEG encodes a w x h image of colour c with a seeded texture.
func tinyJPEG(w, h int, c color.RGBA, seed uint64) []byte {
	rng := rand.New(rand.NewPCG(seed, 9))
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			n := int(rng.IntN(41)) - 20 + (x*y)%17
			px := func(v uint8) uint8 { return uint8(min(max(int(v)+n, 0), 255)) }
			img.SetRGBA(x, y, color.RGBA{px(c.R), px(c.G), px(c.B), 255})
		}
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 85}); err != nil {
		panic(err)
	}
	return b.Bytes()
}

// fixtureFolder is a generated ImageFolder tree in a temporary folder.
type fixtureFolder struct {
	root    string
	classes []string
	files   map[string]int // relative path under train/ -> label
}

// makeFolder writes root/train/<class>/*.jpg (perClass files per class, sizes
// 24..71 px, some in a nested sub-folder) and root/val/<class>/*.jpg
// (valPerClass each) for the given number of classes. Class folder names
// are chosen so that sorting matters.
func makeFolder(t testing.TB, classes, perClass, valPerClass int) fixtureFolder {
	t.Helper()
	root := t.TempDir()
	names := []string{"zebra", "apple", "Mango", "kiwi", "banana"}[:classes]
	sorted := append([]string(nil), names...)
	sortStrings(sorted)
	label := map[string]int{}
	for i, n := range sorted {
		label[n] = i
	}
	f := fixtureFolder{root: root, classes: sorted, files: map[string]int{}}
	write := func(split, rel string, l int, seed uint64) {
		p := filepath.Join(root, split, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		w, h := 24+int(seed*7%48), 24+int(seed*13%48)
		if err := os.WriteFile(p, tinyJPEG(w, h, classColours[l], seed), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	seed := uint64(1)
	for _, n := range names {
		l := label[n]
		for i := range perClass {
			rel := fmt.Sprintf("%s/img_%03d.jpg", n, i)
			if i%5 == 4 {
				rel = fmt.Sprintf("%s/sub/img_%03d.JPEG", n, i)
			}
			write("train", rel, l, seed)
			f.files[rel] = l
			seed++
		}
		for i := range valPerClass {
			write("val", fmt.Sprintf("%s/v_%03d.jpg", n, i), l, seed)
			seed++
		}
	}
	return f
}

func sortStrings(s []string) {
	for i := range s {
		for j := i + 1; j < len(s); j++ {
			if s[j] < s[i] {
				s[i], s[j] = s[j], s[i]
			}
		}
	}
}

func openStreamed(t testing.TB, root string, size int, log io.Writer) (*Dataset, *Dataset) {
	t.Helper()
	tr, te, err := OpenWith(root, OpenOptions{ImageSize: size, Stream: StreamAlways, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	return tr, te
}

func TestStreamedFolderIndex(t *testing.T) {
	f := makeFolder(t, 4, 30, 5)
	var log bytes.Buffer
	tr, te := openStreamed(t, f.root, 32, &log)
	if !tr.Streamed() || !te.Streamed() || tr.Pixels != nil {
		t.Fatal("not streamed")
	}
	if tr.N != 120 || te.N != 20 || tr.Classes != 4 || te.Classes != 4 {
		t.Fatalf("N %d/%d classes %d", tr.N, te.N, tr.Classes)
	}
	if strings.Join(tr.ClassNames, ",") != "Mango,apple,kiwi,zebra" {
		t.Fatalf("class order %v (want byte order, as sorted() in Python)", tr.ClassNames)
	}
	// torchvision order: per class, files directly in the class folder by
	// name, then each sub-folder's files.
	prevLabel, sawSub := -1, false
	for i := 0; i < tr.N; i++ {
		p := tr.Files.Store.Path(i)
		rel, _ := filepath.Rel(filepath.Join(f.root, "train"), p)
		rel = filepath.ToSlash(rel)
		want, ok := f.files[rel]
		if !ok || want != tr.Labels[i] {
			t.Fatalf("image %d %s: label %d, want %d (known %v)", i, rel, tr.Labels[i], want, ok)
		}
		if tr.Labels[i] != prevLabel {
			if tr.Labels[i] < prevLabel {
				t.Fatalf("labels not grouped by class at %d", i)
			}
			prevLabel, sawSub = tr.Labels[i], false
		}
		inSub := strings.Contains(rel, "/sub/")
		if sawSub && !inSub {
			t.Fatalf("%s listed after a sub-folder file", rel)
		}
		sawSub = sawSub || inSub
	}
	if !strings.Contains(log.String(), "indexed 120 files") {
		t.Fatalf("log %q", log.String())
	}
	if _, err := os.Stat(filepath.Join(f.root, "train", indexCacheName)); err != nil {
		t.Fatal("index not cached beside the data:", err)
	}
	// The second open reads the cache (no "indexed" line) and agrees.
	log.Reset()
	tr2, _ := openStreamed(t, f.root, 32, &log)
	if strings.Contains(log.String(), "indexed") {
		t.Fatalf("index rebuilt: %q", log.String())
	}
	for i := range tr.N {
		if tr.Files.Store.Path(i) != tr2.Files.Store.Path(i) || tr.Labels[i] != tr2.Labels[i] {
			t.Fatal("cached index differs")
		}
	}
	m1, s1 := tr.ChannelStats()
	m2, s2 := tr2.ChannelStats()
	if !equalF(m1, m2) || !equalF(s1, s2) || m1[0] <= 0 || s1[0] <= 0 {
		t.Fatalf("stats %v %v vs cached %v %v", m1, s1, m2, s2)
	}
	// Adding a file makes the cache stale.
	extra := filepath.Join(f.root, "train", "kiwi", "sub", "new.jpg")
	os.WriteFile(extra, tinyJPEG(30, 30, classColours[0], 99), 0o644)
	log.Reset()
	tr3, _ := openStreamed(t, f.root, 32, &log)
	if tr3.N != 121 || !strings.Contains(log.String(), "indexed 121") {
		t.Fatalf("stale cache used: N %d, log %q", tr3.N, log.String())
	}
}

func TestStreamedReadOnlyCache(t *testing.T) {
	f := makeFolder(t, 2, 5, 0)
	// A folder where the cache file should be makes the data folder's cache
	// unwritable even for root; the index then goes to the run folder.
	if err := os.Mkdir(filepath.Join(f.root, "train", indexCacheName), 0o755); err != nil {
		t.Fatal(err)
	}
	cache := filepath.Join(t.TempDir(), "run")
	for round := range 2 {
		var log bytes.Buffer
		tr, _, err := OpenWith(f.root, OpenOptions{ImageSize: 16, Stream: StreamAlways, CacheDir: cache, Log: &log})
		if err != nil || tr.N != 10 {
			t.Fatal(err)
		}
		if indexed := strings.Contains(log.String(), "cached in "+cache); indexed != (round == 0) {
			t.Fatalf("round %d: log %q", round, log.String())
		}
	}
}

func TestEvalTransformSizes(t *testing.T) {
	for _, tc := range []struct{ w, h, size int }{{40, 30, 24}, {30, 60, 24}, {100, 100, 224}, {20, 10, 32}} {
		bx, by, bw, bh := evalBox(tc.w, tc.h, tc.size)
		// The box is the centre square of side size*short/(size*256/224).
		short := float64(min(tc.w, tc.h))
		want := short * 224 / 256
		if d := bw - want; d > 0.02*want || d < -0.02*want || bw != bh {
			t.Fatalf("%dx%d at %d: side %v, want %v", tc.w, tc.h, tc.size, bw, want)
		}
		if cx, cy := bx+bw/2, by+bh/2; cx != float64(tc.w)/2 || cy != float64(tc.h)/2 {
			t.Fatalf("box not centred: %v %v", cx, cy)
		}
	}
	f := makeFolder(t, 2, 4, 2)
	for _, size := range []int{16, 48} {
		tr, te := openStreamed(t, f.root, size, nil)
		for _, ds := range []*Dataset{tr, te} {
			if ds.H != size || ds.W != size || ds.C != 3 {
				t.Fatalf("shape %dx%dx%d", ds.C, ds.H, ds.W)
			}
			img := ds.Image(0)
			if len(img) != 3*size*size {
				t.Fatalf("eval image of %d bytes, want %d", len(img), 3*size*size)
			}
			it, err := NewEvalIter(ds, RecipeFor(ds), 3)
			if err != nil {
				t.Fatal(err)
			}
			x, labels, _, ok := it.Next()
			if !ok || len(x) != 3*3*size*size || len(labels) != 3 {
				t.Fatalf("eval batch %d values", len(x))
			}
		}
	}
	// Colours survive decoding and the YCbCr conversion: a red class image
	// stays red.
	tr, _ := openStreamed(t, f.root, 16, nil)
	for i := 0; i < tr.N; i++ {
		img := tr.Image(i)
		want := classColours[tr.Labels[i]]
		var r, g, b int
		for p := 0; p < 256; p++ {
			r, g, b = r+int(img[p]), g+int(img[256+p]), b+int(img[512+p])
		}
		r, g, b = r/256, g/256, b/256
		if abs(r-int(want.R)) > 25 || abs(g-int(want.G)) > 25 || abs(b-int(want.B)) > 25 {
			t.Fatalf("image %d mean colour %d,%d,%d, class colour %v", i, r, g, b, want)
		}
	}
}

func abs(x int) int { return max(x, -x) }

// collectStream runs a loader over a streamed dataset and returns copies of
// every batch's views and indices.
func collectStream(t *testing.T, cfg LoaderConfig) (views [][]float32, idx [][]int, labels [][]int) {
	t.Helper()
	DrainLoader(t, cfg, func(b *Batch) {
		if b.C != 3 || b.H != cfg.Dataset.H || b.W != cfg.Dataset.W || len(b.X1) != b.N*3*b.H*b.W {
			t.Fatalf("batch %d x %dx%dx%d, %d values", b.N, b.C, b.H, b.W, len(b.X1))
		}
		views = append(views, append(append([]float32{}, b.X1...), b.X2...))
		idx = append(idx, append([]int{}, b.Indices...))
		labels = append(labels, append([]int{}, b.Labels...))
	})
	return views, idx, labels
}

func TestStreamedLoaderDeterminismAndResume(t *testing.T) {
	f := makeFolder(t, 3, 20, 0)
	tr, _ := openStreamed(t, f.root, 24, nil)
	base := LoaderConfig{Dataset: tr, Recipe: SimSiamImageNet(24), Sampler: stepSampler(tr.N, 10), Batch: 10,
		Steps: 6, Seed: 5}
	var ref [][]float32
	var refIdx [][]int
	for _, w := range []int{1, 3} {
		cfg := base
		cfg.Workers = w
		v, idx, labels := collectStream(t, cfg)
		if len(v) != 6 {
			t.Fatalf("%d batches", len(v))
		}
		for s := range idx {
			for i, j := range idx[s] {
				if labels[s][i] != tr.Labels[j] {
					t.Fatal("batch label differs from the index label")
				}
			}
		}
		if ref == nil {
			ref, refIdx = v, idx
			continue
		}
		for s := range v {
			if !equalF(v[s], ref[s]) {
				t.Fatalf("workers %d: step %d differs", w, s)
			}
		}
	}
	// Resume: a loader started at step 3 yields steps 3..5 bit for bit.
	cfg := base
	cfg.Start = 3
	v, idx, _ := collectStream(t, cfg)
	for s := range v {
		if !equalF(v[s], ref[3+s]) || fmt.Sprint(idx[s]) != fmt.Sprint(refIdx[3+s]) {
			t.Fatalf("resumed step %d differs", 3+s)
		}
	}
	// The two views differ and are normalised values of a real image.
	n := len(ref[0]) / 2
	if equalF(ref[0][:n], ref[0][n:]) {
		t.Fatal("views identical")
	}
}

func TestStreamedCorruptFileSkipped(t *testing.T) {
	f := makeFolder(t, 2, 10, 0)
	bad := filepath.Join(f.root, "train", "apple", "img_002.jpg")
	if err := os.WriteFile(bad, []byte("\xff\xd8\xff\xe0 definitely not a jpeg"), 0o644); err != nil {
		t.Fatal(err)
	}
	trunc := filepath.Join(f.root, "train", "zebra", "img_001.jpg")
	b, _ := os.ReadFile(trunc)
	os.WriteFile(trunc, b[:len(b)/3], 0o644)
	var log bytes.Buffer
	tr, _ := openStreamed(t, f.root, 16, &log) // the statistics probe meets both files
	cfg := LoaderConfig{Dataset: tr, Recipe: SimSiamColor32(), Sampler: stepSampler(tr.N, 20), Batch: 20, Steps: 3,
		Seed: 1, Workers: 2}
	cfg.Recipe.Size = 16
	v, idx, _ := collectStream(t, cfg)
	if len(v) != 3 {
		t.Fatalf("%d batches", len(v))
	}
	if tr.BadFiles() != 2 {
		t.Fatalf("BadFiles %d, want 2", tr.BadFiles())
	}
	var lines []string
	for _, l := range strings.Split(log.String(), "\n") {
		if strings.HasPrefix(l, "warning:") {
			lines = append(lines, l)
		}
	}
	if len(lines) != 2 || !strings.Contains(log.String(), bad) || !strings.Contains(log.String(), trunc) {
		t.Fatalf("want one warning per bad file, got %q", log.String())
	}
	for _, step := range idx {
		for _, j := range step {
			if p := tr.Files.Store.Path(j); p == bad || p == trunc {
				t.Fatalf("batch holds unreadable %s", p)
			}
		}
	}
	// The replacement is deterministic: a second run gives the same batches.
	v2, _, _ := collectStream(t, cfg)
	for s := range v {
		if !equalF(v[s], v2[s]) {
			t.Fatal("batches with replaced images differ between runs")
		}
	}
}

// MakeTestFolder exposes makeFolder to the external tests of this package:
// a generated ImageFolder root (train/ and val/) in a temporary folder.
func MakeTestFolder(t testing.TB, classes, perClass, valPerClass int) string {
	return makeFolder(t, classes, perClass, valPerClass).root
}

// TestInMemoryFolderSkipsCorrupt: a small tree decoded into memory leaves an
// unreadable file out with one warning and counts it, like the stream does.
func TestInMemoryFolderSkipsCorrupt(t *testing.T) {
	f := makeFolder(t, 2, 6, 0)
	bad := filepath.Join(f.root, "train", "apple", "img_001.jpg")
	os.WriteFile(bad, []byte("garbage"), 0o644)
	var log bytes.Buffer
	tr, _, err := OpenWith(f.root, OpenOptions{ImageSize: 8, Stream: StreamNever, Log: &log})
	if err != nil {
		t.Fatal(err)
	}
	if tr.Streamed() || tr.N != 11 || tr.BadFiles() != 1 {
		t.Fatalf("streamed %v N %d bad %d", tr.Streamed(), tr.N, tr.BadFiles())
	}
	if n := strings.Count(log.String(), "warning: skipping unreadable image "+bad); n != 1 {
		t.Fatalf("%d warnings in %q", n, log.String())
	}
}
