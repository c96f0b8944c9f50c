package data

import (
	"errors"
	"io"
	"strings"
	"testing"
)

// stepSampler returns batch indices that depend only on the step.
func stepSampler(n, batch int) func(int) []int {
	return func(step int) []int {
		idx := make([]int, batch)
		for i := range idx {
			idx[i] = (step*batch + i*7) % n
		}
		return idx
	}
}

// DrainLoader makes a Loader from cfg, runs it to the end and calls each with
// every batch (whose buffers the loader reuses once each returns: keep
// copies), failing t on any error. Exported for the external tests of this
// package, like MakeTestFolder.
func DrainLoader(t testing.TB, cfg LoaderConfig, each func(*Batch)) {
	t.Helper()
	l, err := NewLoader(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for {
		b, err := l.Next()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		each(b)
	}
}

// collect runs a loader to the end and returns copies of every batch's views.
func collect(t *testing.T, cfg LoaderConfig) (x1, x2 [][]float32, steps []int) {
	t.Helper()
	DrainLoader(t, cfg, func(b *Batch) {
		if b.N*b.C*b.H*b.W != len(b.X1) || len(b.Labels) != b.N {
			t.Fatalf("batch shape %d %dx%dx%d, len %d", b.N, b.C, b.H, b.W, len(b.X1))
		}
		x1 = append(x1, append([]float32{}, b.X1...))
		x2 = append(x2, append([]float32{}, b.X2...))
		steps = append(steps, b.Step)
	})
	return x1, x2, steps
}

func TestLoaderDeterministicAcrossWorkers(t *testing.T) {
	ds := synth(50, 3, 32, 32)
	base := LoaderConfig{Dataset: ds, Recipe: SimSiamColor32(), Sampler: stepSampler(ds.N, 16), Batch: 16,
		Start: 3, Steps: 9, Seed: 42}
	var ref [][]float32
	for _, w := range []int{1, 2, 5} {
		cfg := base
		cfg.Workers, cfg.Prefetch = w, w
		x1, x2, steps := collect(t, cfg)
		if len(steps) != 6 || steps[0] != 3 || steps[5] != 8 {
			t.Fatalf("steps %v", steps)
		}
		if equalF(x1[0], x2[0]) {
			t.Fatal("the two views are identical")
		}
		all := append(x1, x2...)
		if ref == nil {
			ref = all
			continue
		}
		for i := range all {
			if !equalF(all[i], ref[i]) {
				t.Fatalf("workers=%d: batch %d differs from workers=1", w, i)
			}
		}
	}
	cfg := base
	cfg.Seed = 43
	x1, _, _ := collect(t, cfg)
	if equalF(x1[0], ref[0]) {
		t.Fatal("different seeds gave the same batch")
	}
}

func TestLoaderEndsAndErrors(t *testing.T) {
	ds := synth(10, 1, 28, 28)
	// An empty sampler result ends the stream; a short batch is fine.
	sizes := []int{4, 2}
	cfg := LoaderConfig{Dataset: ds, Recipe: SimSiamGray28(), Batch: 4, SingleView: true,
		Sampler: func(step int) []int {
			if step >= len(sizes) {
				return nil
			}
			return make([]int, sizes[step])
		}}
	x1, x2, _ := collect(t, cfg)
	if len(x1) != 2 || len(x1[1]) != 2*28*28 || len(x2[0]) != 0 {
		t.Fatalf("got %d batches", len(x1))
	}

	for _, tc := range []struct {
		name    string
		sampler func(int) []int
		want    string
	}{
		{"index", func(int) []int { return []int{0, 10} }, "index 10 at step 0 outside [0,10)"},
		{"too many", func(int) []int { return make([]int, 5) }, "more than Batch 4"},
	} {
		cfg := LoaderConfig{Dataset: ds, Recipe: SimSiamGray28(), Batch: 4, Sampler: tc.sampler}
		l, err := NewLoader(cfg)
		if err != nil {
			t.Fatal(err)
		}
		_, err = l.Next()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v", tc.name, err)
		}
		l.Close()
	}
	if _, err := NewLoader(LoaderConfig{Dataset: ds, Recipe: SimSiamGray28()}); err == nil {
		t.Error("loader without sampler accepted")
	}
}

func TestLoaderCloseEarly(t *testing.T) {
	ds := synth(20, 3, 32, 32)
	l, err := NewLoader(LoaderConfig{Dataset: ds, Recipe: SimSiamColor32(), Sampler: stepSampler(20, 8),
		Batch: 8, Workers: 2, Prefetch: 3})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := l.Next(); err != nil {
			t.Fatal(err)
		}
	}
	l.Close()
	l.Close()
	if _, err := l.Next(); !errors.Is(err, ErrLoaderClosed) {
		t.Fatalf("Next after Close: %v", err)
	}
}

func TestEvalIter(t *testing.T) {
	ds := synth(10, 1, 6, 6)
	it, err := NewEvalIter(ds, Recipe{Name: "id"}, 4)
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	for {
		x, labels, first, ok := it.Next()
		if !ok {
			break
		}
		if first != seen {
			t.Fatalf("first %d, want %d", first, seen)
		}
		for i := range labels {
			if labels[i] != ds.Labels[first+i] || !equalF(x[i*36:(i+1)*36], ds.ImageFloat(first+i, nil)) {
				t.Fatalf("image %d differs", first+i)
			}
		}
		seen += len(labels)
	}
	if seen != 10 {
		t.Fatalf("saw %d images", seen)
	}
	it.Reset()
	if _, _, first, ok := it.Next(); !ok || first != 0 {
		t.Fatal("reset")
	}
}

func TestBenchAugment(t *testing.T) {
	ds := synth(32, 1, 28, 28)
	pps, err := BenchAugment(ds, SimSiamGray28(), 16, 2, 50e6)
	if err != nil || pps <= 0 {
		t.Fatalf("pairs/s %v, err %v", pps, err)
	}
}

// BenchmarkLoaderPairs reports the Loader's pairs/s with 2 workers (what
// `siam bench augment` prints) on random-pixel images, the worst case for the
// colour ops.
func BenchmarkLoaderPairs(b *testing.B) {
	for _, tc := range []struct {
		name string
		ds   *Dataset
		r    Recipe
	}{
		{"gray28", synth(512, 1, 28, 28), SimSiamGray28()},
		{"color32", synth(512, 3, 32, 32), SimSiamColor32()},
	} {
		b.Run(tc.name, func(b *testing.B) {
			var pps float64
			for b.Loop() {
				var err error
				if pps, err = BenchAugment(tc.ds, tc.r, 256, 2, 2e9); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(pps, "pairs/s")
		})
	}
}
