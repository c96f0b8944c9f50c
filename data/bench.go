package data

import (
	"fmt"
	"math/rand/v2"
	"time"
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
