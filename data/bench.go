package data

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/siam-ssl/siam/internal/cputime"
)

// BenchAugment measures augmentation throughput for `siam bench augment`: it
// runs a Loader over ds with recipe r, random batches of the given size and
// workers goroutines for about d, and returns view pairs produced per second.
func BenchAugment(ds *Dataset, r Recipe, batch, workers int, d time.Duration) (pairsPerSec float64, err error) {
	if d <= 0 {
		return 0, fmt.Errorf("data: bench duration %v must be > 0", d)
	}
	idx := make([]int, batch)
	sampler := func(step int) []int {
		rng := rand.New(rand.NewPCG(uint64(step), 0xbe7c4))
		for i := range idx {
			idx[i] = rng.IntN(ds.N)
		}
		return idx
	}
	l, err := NewLoader(LoaderConfig{Dataset: ds, Recipe: r, Sampler: sampler, Batch: batch, Workers: workers, Seed: 1})
	if err != nil {
		return 0, err
	}
	defer l.Close()
	// The first batch absorbs start-up; time the steady state after it.
	if _, err := l.Next(); err != nil {
		return 0, err
	}
	start := time.Now()
	pairs := 0
	for time.Since(start) < d {
		b, err := l.Next()
		if err != nil {
			return 0, err
		}
		pairs += b.N
	}
	return float64(pairs) / time.Since(start).Seconds(), nil
}

// DataBench reports `siam bench data`: the whole input pipeline (read the
// file, decode, two augmented views) through a Loader.
type DataBench struct {
	Images     int     `json:"images"`      // samples produced in the timed window
	Seconds    float64 `json:"seconds"`     // wall time of the window
	CPUSeconds float64 `json:"cpu_seconds"` // process CPU time of the window
	ImagesPerS float64 `json:"images_per_s"`
	// ImagesPerSPerCore is images per CPU-second: the rate of one core, which
	// stays meaningful when other processes share the cores.
	ImagesPerSPerCore float64 `json:"images_per_s_per_core"`
	// DecodePerSPerCore is images read and decoded (no views) per CPU-second
	// by one goroutine, the share of the budget decoding takes.
	DecodePerSPerCore float64 `json:"decode_images_per_s_per_core"`
}

// BenchData times the Loader over ds (streamed or in memory) with recipe r,
// random batches and the given workers for about d, after one warm-up batch,
// and then decoding alone on one goroutine for about d/4.
func BenchData(ds *Dataset, r Recipe, batch, workers int, d time.Duration) (DataBench, error) {
	var res DataBench
	if d <= 0 || batch < 1 || workers < 1 {
		return res, fmt.Errorf("data: bench: duration %v, batch %d and workers %d must be positive", d, batch, workers)
	}
	sampler := func(step int) []int {
		rng := rand.New(rand.NewPCG(uint64(step), 0xda7a))
		idx := make([]int, batch)
		for i := range idx {
			idx[i] = rng.IntN(ds.N)
		}
		return idx
	}
	l, err := NewLoader(LoaderConfig{Dataset: ds, Recipe: r, Sampler: sampler, Batch: batch, Workers: workers,
		Prefetch: 2, Seed: 1})
	if err != nil {
		return res, err
	}
	defer l.Close()
	if _, err := l.Next(); err != nil {
		return res, err
	}
	start, cpu0 := time.Now(), cputime.Now()
	for time.Since(start) < d {
		b, err := l.Next()
		if err != nil {
			return res, err
		}
		res.Images += b.N
	}
	res.Seconds = time.Since(start).Seconds()
	res.CPUSeconds = (cputime.Now() - cpu0).Seconds()
	l.Close()
	res.ImagesPerS = float64(res.Images) / res.Seconds
	if res.CPUSeconds > 0 {
		res.ImagesPerSPerCore = float64(res.Images) / res.CPUSeconds
	}
	if ds.Files != nil {
		var sc streamScratch
		rng := rand.New(rand.NewPCG(7, 7))
		n := 0
		t0, c0 := time.Now(), cputime.Now()
		for time.Since(t0) < d/4 || n == 0 {
			if err := sc.load(ds.Files, rng.IntN(ds.N)); err == nil {
				n++
			}
		}
		if c := (cputime.Now() - c0).Seconds(); c > 0 {
			res.DecodePerSPerCore = float64(n) / c
		}
	}
	return res, nil
}
