package data_test

import (
	"slices"
	"testing"

	"github.com/siam-ssl/siam/data"
	"github.com/siam-ssl/siam/order"
)

// TestOrderingsOnStreamedData runs every ordering over a streamed
// ImageFolder through the Loader: batch indices are file indices, each
// batch's members lie in the chunk (single), the chunks so far
// (cumulative) or the subset the sampler says, labels come from the file
// index, and a loader started at step k repeats steps k.. bit for bit.
func TestOrderingsOnStreamedData(t *testing.T) {
	root := data.MakeTestFolder(t, 3, 16, 0)
	ds, _, err := data.OpenWith(root, data.OpenOptions{ImageSize: 16, Stream: data.StreamAlways})
	if err != nil {
		t.Fatal(err)
	}
	const steps, batch = 8, 6
	for _, cfg := range []order.Config{
		{Kind: order.Multi},
		{Kind: order.Single, Chunks: 4},
		{Kind: order.Cumulative, Chunks: 4},
		{Kind: order.Hybrid, Chunks: 4, SwitchAt: 2},
		{Kind: order.Subset, Subset: 0.25},
		{Kind: order.Multi, Buffer: 5},
	} {
		cfg.N, cfg.Steps, cfg.Batch, cfg.Seed = ds.N, steps, batch, 7
		s, err := order.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		recipe := data.SimSiamColor32()
		recipe.Size = 16
		run := func(start int) (idx [][]int, views [][]float32) {
			data.DrainLoader(t, data.LoaderConfig{Dataset: ds, Recipe: recipe, Sampler: s.Batch, Batch: batch,
				Start: start, Steps: steps, Seed: 7, Workers: 2}, func(b *data.Batch) {
				for i, j := range b.Indices {
					if b.Labels[i] != ds.Labels[j] {
						t.Fatalf("%s: label of file %d is %d in the batch, %d in the index", cfg.Kind, j, b.Labels[i], ds.Labels[j])
					}
				}
				idx = append(idx, slices.Clone(b.Indices))
				views = append(views, slices.Concat(b.X1, b.X2))
			})
			return idx, views
		}
		idx, views := run(0)
		for step, got := range idx {
			if !slices.Equal(got, s.Batch(step)) {
				t.Fatalf("%s step %d: loader read files %v, sampler said %v", cfg.Kind, step, got, s.Batch(step))
			}
			var pool []int
			switch cfg.Kind {
			case order.Single:
				pool = s.ChunkIndices(s.Chunk(step))
			case order.Cumulative:
				for c := 0; c <= s.Chunk(step); c++ {
					pool = append(pool, s.ChunkIndices(c)...)
				}
			case order.Subset:
				pool = s.SubsetIndices()
			}
			for _, j := range got {
				if pool != nil && !slices.Contains(pool, j) {
					t.Fatalf("%s step %d: file %d outside its pool %v", cfg.Kind, step, j, pool)
				}
			}
		}
		_, resumed := run(5)
		for k := range resumed {
			if !slices.Equal(resumed[k], views[5+k]) {
				t.Fatalf("%s: resumed step %d differs", cfg.Kind, 5+k)
			}
		}
	}
}
