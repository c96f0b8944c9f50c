package order

import (
	"slices"
	"strings"
	"testing"
)

// TestSequentialBuffer: with Blocks and Buffer, every epoch is a permutation,
// a pure function of (seed, epoch) (random access equals iteration), blocks
// come in a seeded order, and no index is emitted earlier than Buffer
// positions before the sequential read reaches it.
func TestSequentialBuffer(t *testing.T) {
	blocks := []int{7, 5, 9, 3, 6} // 30 indices
	for _, k := range []int{1, 4, 16, 100} {
		cfg := Config{Kind: Multi, N: 30, Steps: 45, Batch: 4, Buffer: k, Blocks: blocks, Seed: 3}
		s := mustNew(t, cfg)
		seq := slices.Concat(all(s)...)
		again := mustNew(t, cfg)
		for step := s.Steps() - 1; step >= 0; step-- { // random access, backwards
			if !slices.Equal(again.Batch(step), seq[step*4:step*4+4]) {
				t.Fatalf("k=%d: step %d differs under random access", k, step)
			}
		}
		starts := []int{0, 7, 12, 21, 24, 30}
		for e := 0; e*30+30 <= len(seq); e++ {
			ep := seq[e*30 : e*30+30]
			sorted := slices.Sorted(slices.Values(ep))
			for i, v := range sorted {
				if v != i {
					t.Fatalf("k=%d epoch %d is not a permutation: %v", k, e, ep)
				}
			}
			// Stream position of each index: blocks in the epoch's order.
			order := shuffled(nil, len(blocks), cfg.Seed, tagBlocks, 0, uint64(e))
			pos := map[int]int{}
			p := 0
			for _, b := range order {
				for i := starts[b]; i < starts[b+1]; i++ {
					pos[i] = p
					p++
				}
			}
			for out, v := range ep {
				if pos[v] > out+k {
					t.Fatalf("k=%d: index %d read at %d emitted at %d", k, v, pos[v], out)
				}
			}
			if k == 1 { // a one-slot buffer is the plain sequential read
				for out, v := range ep {
					if pos[v] != out {
						t.Fatalf("k=1 epoch %d: %v is not the sequential read", e, ep)
					}
				}
			}
		}
	}
	a := slices.Concat(all(mustNew(t, Config{Kind: Multi, N: 30, Steps: 8, Batch: 4, Buffer: 8, Blocks: blocks, Seed: 3}))...)
	b := slices.Concat(all(mustNew(t, Config{Kind: Multi, N: 30, Steps: 8, Batch: 4, Buffer: 8, Blocks: blocks, Seed: 4}))...)
	if slices.Equal(a, b) {
		t.Fatal("seeds 3 and 4 gave the same sequential stream")
	}
	// Nil blocks: one block of N.
	one := mustNew(t, Config{Kind: Multi, N: 10, Steps: 5, Batch: 2, Buffer: 1, Seed: 1})
	if got := slices.Concat(all(one)...); !slices.Equal(got, []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}) {
		t.Fatalf("one block, one slot: %v", got)
	}
}

func TestSequentialBufferValidation(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{Kind: Single, N: 10, Steps: 4, Batch: 2, Chunks: 2, Buffer: 4}, "multi only"},
		{Config{Kind: Subset, N: 10, Steps: 4, Batch: 2, Subset: 0.5, Buffer: 4}, "multi only"},
		{Config{Kind: Multi, N: 10, Steps: 4, Batch: 2, Buffer: 4, Blocks: []int{3, 3}}, "blocks hold 6"},
		{Config{Kind: Multi, N: 10, Steps: 4, Batch: 2, Buffer: 4, Blocks: []int{10, 0}}, "block of 0"},
		{Config{Kind: Multi, N: 10, Steps: 4, Batch: 2, Buffer: -1}, "buffer -1"},
	} {
		if _, err := New(tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.cfg, err, tc.want)
		}
	}
}
