package order

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func mustNew(t *testing.T, cfg Config) *Sampler {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// all returns every batch, in step order.
func all(s *Sampler) [][]int {
	out := make([][]int, s.Steps())
	for i := range out {
		out[i] = s.Batch(i)
	}
	return out
}

// configs covers every kind with and without remainders, batches larger than a
// chunk and than the whole set, and tiny subsets.
var configs = []Config{
	{Kind: Multi, N: 10, Steps: 7, Batch: 4, Seed: 1},
	{Kind: Multi, N: 5, Steps: 4, Batch: 12, Seed: 2}, // batch > n
	{Kind: Single, N: 20, Steps: 8, Batch: 3, Chunks: 4, Seed: 3},
	{Kind: Single, N: 23, Steps: 10, Batch: 4, Chunks: 4, Seed: 4}, // n%C, S%C != 0
	{Kind: Single, N: 12, Steps: 6, Batch: 7, Chunks: 3, Seed: 5},  // batch > chunk
	{Kind: Single, N: 7, Steps: 7, Batch: 2, Chunks: 7, Seed: 6},   // one example per chunk
	{Kind: Cumulative, N: 20, Steps: 12, Batch: 3, Chunks: 4, Seed: 7},
	{Kind: Cumulative, N: 17, Steps: 11, Batch: 5, Chunks: 3, Seed: 8},
	{Kind: Hybrid, N: 20, Steps: 12, Batch: 3, Chunks: 4, SwitchAt: 2, Seed: 9},
	{Kind: Hybrid, N: 21, Steps: 13, Batch: 4, Chunks: 5, SwitchAt: 3, Seed: 10},
	{Kind: Hybrid, N: 20, Steps: 12, Batch: 3, Chunks: 4, SwitchAt: 0, Seed: 11},
	{Kind: Hybrid, N: 20, Steps: 12, Batch: 3, Chunks: 4, SwitchAt: 4, Seed: 12},
	{Kind: Subset, N: 100, Steps: 9, Batch: 8, Subset: 0.2, Seed: 13},
	{Kind: Subset, N: 100, Steps: 5, Batch: 3, Subset: 0.01, Seed: 14},
	{Kind: Subset, N: 30, Steps: 5, Batch: 7, Subset: 1, Seed: 15},
}

func name(c Config) string {
	return fmt.Sprintf("%s/n%d/s%d/b%d/c%d/k%d/p%v", c.Kind, c.N, c.Steps, c.Batch, c.Chunks, c.SwitchAt, c.Subset)
}

// TestShapeAndDeterminism: exactly Steps batches of exactly Batch in-range
// indices; random access equals sequential iteration; same seed => same
// sequence; a different seed => a different one.
func TestShapeAndDeterminism(t *testing.T) {
	for _, cfg := range configs {
		t.Run(name(cfg), func(t *testing.T) {
			seq := all(mustNew(t, cfg))
			if len(seq) != cfg.Steps {
				t.Fatalf("%d batches, want %d", len(seq), cfg.Steps)
			}
			for step, b := range seq {
				if len(b) != cfg.Batch {
					t.Fatalf("step %d: %d indices, want %d", step, len(b), cfg.Batch)
				}
				for _, x := range b {
					if x < 0 || x >= cfg.N {
						t.Fatalf("step %d: index %d outside [0,%d)", step, x, cfg.N)
					}
				}
			}
			// Random access in a shuffled order, on a fresh sampler.
			s := mustNew(t, cfg)
			r := rand.New(rand.NewPCG(1, 2))
			for _, step := range r.Perm(cfg.Steps) {
				if got := s.Batch(step); !reflect.DeepEqual(got, seq[step]) {
					t.Fatalf("random access Batch(%d) = %v, sequential %v", step, got, seq[step])
				}
			}
			// Backwards, with AppendBatch into a reused buffer.
			buf := []int{}
			for step := cfg.Steps - 1; step >= 0; step-- {
				buf = s.AppendBatch(buf[:0], step)
				if !reflect.DeepEqual(buf, seq[step]) {
					t.Fatalf("AppendBatch(%d) = %v, want %v", step, buf, seq[step])
				}
			}
			if again := all(mustNew(t, cfg)); !reflect.DeepEqual(again, seq) {
				t.Fatal("same seed gave a different sequence")
			}
			other := cfg
			other.Seed += 1000
			if diff := all(mustNew(t, other)); reflect.DeepEqual(diff, seq) {
				t.Fatal("different seed gave the same sequence")
			}
		})
	}
}

// flatten concatenates batches of a step range into the stream they came from.
func flatten(batches [][]int) []int {
	var out []int
	for _, b := range batches {
		out = append(out, b...)
	}
	return out
}

// checkStream verifies the stream rule: every aligned block of len(pool)
// positions is a permutation of pool (the last block may be partial and then
// has no repeats and draws only from pool).
func checkStream(t *testing.T, what string, stream, pool []int) {
	t.Helper()
	want := slices.Sorted(slices.Values(pool))
	m := len(pool)
	for lo := 0; lo < len(stream); lo += m {
		hi := min(lo+m, len(stream))
		block := slices.Sorted(slices.Values(stream[lo:hi]))
		if hi-lo == m {
			if !slices.Equal(block, want) {
				t.Fatalf("%s: stream positions [%d,%d) are not a permutation of the pool", what, lo, hi)
			}
			continue
		}
		for i, x := range block {
			if i > 0 && block[i-1] == x {
				t.Fatalf("%s: partial block repeats %d", what, x)
			}
			if _, ok := slices.BinarySearch(want, x); !ok {
				t.Fatalf("%s: index %d not in the pool", what, x)
			}
		}
	}
}

func iota_(n int) []int {
	p := make([]int, n)
	for i := range p {
		p[i] = i
	}
	return p
}

func TestChunkSchedule(t *testing.T) {
	for _, c := range []struct{ n, steps, chunks int }{{20, 8, 4}, {23, 10, 4}, {7, 7, 7}, {100, 1000, 100}, {101, 1003, 100}, {5, 3, 3}} {
		s := mustNew(t, Config{Kind: Single, N: c.n, Steps: c.steps, Batch: 1, Chunks: c.chunks})
		// Chunks partition the set with sizes differing by at most one.
		var union []int
		minSz, maxSz := c.n, 0
		for i := range c.chunks {
			idx := s.ChunkIndices(i)
			minSz, maxSz = min(minSz, len(idx)), max(maxSz, len(idx))
			union = append(union, idx...)
		}
		slices.Sort(union)
		if !slices.Equal(union, iota_(c.n)) || maxSz-minSz > 1 || minSz < 1 {
			t.Fatalf("%+v: chunks are not a balanced partition (sizes %d..%d)", c, minSz, maxSz)
		}
		// Step slots tile [0, steps) in order, floor or ceil of steps/C each, and
		// Chunk(step) agrees with the slots.
		next := 0
		for i := range c.chunks {
			lo, hi := s.ChunkSteps(i)
			if lo != next || hi-lo < c.steps/c.chunks || hi-lo > (c.steps+c.chunks-1)/c.chunks {
				t.Fatalf("%+v: chunk %d steps [%d,%d)", c, i, lo, hi)
			}
			for step := lo; step < hi; step++ {
				if got := s.Chunk(step); got != i {
					t.Fatalf("%+v: Chunk(%d) = %d, want %d", c, step, got, i)
				}
			}
			next = hi
		}
		if next != c.steps {
			t.Fatalf("%+v: slots end at %d", c, next)
		}
	}
	// Exact division gives exactly N = S/C steps per chunk.
	s := mustNew(t, Config{Kind: Single, N: 50, Steps: 30, Batch: 2, Chunks: 10})
	for i := range 10 {
		if lo, hi := s.ChunkSteps(i); lo != 3*i || hi != 3*i+3 {
			t.Fatalf("chunk %d steps [%d,%d), want [%d,%d)", i, lo, hi, 3*i, 3*i+3)
		}
	}
}

func TestSinglePass(t *testing.T) {
	for _, cfg := range configs {
		if cfg.Kind != Single {
			continue
		}
		t.Run(name(cfg), func(t *testing.T) {
			s := mustNew(t, cfg)
			owner := map[int]int{} // index -> chunk
			for i := range cfg.Chunks {
				for _, x := range s.ChunkIndices(i) {
					owner[x] = i
				}
			}
			last := 0
			for i := range cfg.Chunks {
				lo, hi := s.ChunkSteps(i)
				var batches [][]int
				for step := lo; step < hi; step++ {
					if c := s.Chunk(step); c < last {
						t.Fatalf("Chunk went back from %d to %d", last, c)
					}
					last = s.Chunk(step)
					batches = append(batches, s.Batch(step))
				}
				stream := flatten(batches)
				chunk := s.ChunkIndices(i)
				// Only chunk i, never a dropped (or future) chunk.
				for _, x := range stream {
					if owner[x] != i {
						t.Fatalf("chunk %d's steps saw index %d of chunk %d", i, x, owner[x])
					}
				}
				// Concatenated permutations of the chunk; covers it when there is room.
				checkStream(t, fmt.Sprintf("chunk %d", i), stream, chunk)
				if len(stream) >= len(chunk) {
					seen := map[int]bool{}
					for _, x := range stream {
						seen[x] = true
					}
					if len(seen) != len(chunk) {
						t.Fatalf("chunk %d: %d of %d members seen", i, len(seen), len(chunk))
					}
				}
			}
		})
	}
}

func TestCumulative(t *testing.T) {
	for _, cfg := range configs {
		if cfg.Kind != Cumulative {
			continue
		}
		t.Run(name(cfg), func(t *testing.T) {
			s := mustNew(t, cfg)
			single := cfg
			single.Kind = Single
			ss := mustNew(t, single)
			var pool []int
			for i := range cfg.Chunks {
				pool = append(pool, s.ChunkIndices(i)...)
				lo, hi := s.ChunkSteps(i)
				var batches [][]int
				for step := lo; step < hi; step++ {
					batches = append(batches, s.Batch(step))
					if i == 0 && !reflect.DeepEqual(s.Batch(step), ss.Batch(step)) {
						t.Fatalf("chunk 0 step %d differs from single pass", step)
					}
				}
				stream := flatten(batches)
				checkStream(t, fmt.Sprintf("chunk %d", i), stream, pool) // only chunks 0..i
				if len(stream) >= len(pool) {
					seen := map[int]bool{}
					for _, x := range stream {
						seen[x] = true
					}
					for _, x := range s.ChunkIndices(i) {
						if !seen[x] {
							t.Fatalf("chunk %d's steps never saw its new example %d", i, x)
						}
					}
				}
			}
		})
	}
}

func TestHybrid(t *testing.T) {
	for _, cfg := range configs {
		if cfg.Kind != Hybrid {
			continue
		}
		t.Run(name(cfg), func(t *testing.T) {
			s := mustNew(t, cfg)
			single, multi := cfg, cfg
			single.Kind, multi.Kind = Single, Multi
			ss, ms := mustNew(t, single), mustNew(t, multi)
			sw := s.SwitchStep()
			if lo, _ := s.ChunkSteps(min(cfg.SwitchAt, cfg.Chunks-1)); cfg.SwitchAt < cfg.Chunks && sw != lo {
				t.Fatalf("switch step %d, chunk %d starts at %d", sw, cfg.SwitchAt, lo)
			}
			if cfg.SwitchAt == cfg.Chunks && sw != cfg.Steps {
				t.Fatalf("K = C: switch step %d, want %d", sw, cfg.Steps)
			}
			var after [][]int
			for step := range cfg.Steps {
				got := s.Batch(step)
				if s.Chunk(step) != ss.Chunk(step) {
					t.Fatalf("Chunk(%d) = %d, single pass %d", step, s.Chunk(step), ss.Chunk(step))
				}
				if step < sw {
					if want := ss.Batch(step); !reflect.DeepEqual(got, want) {
						t.Fatalf("step %d before the switch: %v, single pass %v", step, got, want)
					}
					continue
				}
				if want := ms.Batch(step - sw); !reflect.DeepEqual(got, want) {
					t.Fatalf("step %d after the switch: %v, multi step %d %v", step, got, step-sw, want)
				}
				after = append(after, got)
			}
			checkStream(t, "after switch", flatten(after), iota_(cfg.N)) // draws from everything
			if sw == 0 && !reflect.DeepEqual(all(s), all(ms)) {
				t.Fatal("K = 0 differs from multi")
			}
			if sw == cfg.Steps && !reflect.DeepEqual(all(s), all(ss)) {
				t.Fatal("K = C differs from single")
			}
		})
	}
}

func TestMultiEpochs(t *testing.T) {
	for _, cfg := range configs {
		if cfg.Kind != Multi {
			continue
		}
		t.Run(name(cfg), func(t *testing.T) {
			s := mustNew(t, cfg)
			stream := flatten(all(s))
			// Every epoch (aligned block of n stream positions) covers every index once.
			checkStream(t, "multi", stream, iota_(cfg.N))
			for step := range cfg.Steps {
				if s.Chunk(step) != 0 {
					t.Fatal("multi Chunk != 0")
				}
			}
		})
	}
	// Epochs really differ from each other.
	s := mustNew(t, Config{Kind: Multi, N: 50, Steps: 10, Batch: 10, Seed: 3})
	st := flatten(all(s))
	if slices.Equal(st[:50], st[50:]) {
		t.Fatal("epoch 1 repeats epoch 0's order")
	}
}

func TestSubset(t *testing.T) {
	for _, cfg := range configs {
		if cfg.Kind != Subset {
			continue
		}
		t.Run(name(cfg), func(t *testing.T) {
			s := mustNew(t, cfg)
			sub := s.SubsetIndices()
			want := int(cfg.Subset*float64(cfg.N) + 0.5)
			if len(sub) != want || !slices.IsSorted(sub) {
				t.Fatalf("subset of %d (sorted %v), want %d", len(sub), slices.IsSorted(sub), want)
			}
			checkStream(t, "subset", flatten(all(s)), sub)
			if cfg.Subset == 1 {
				m := cfg
				m.Kind = Multi
				if !reflect.DeepEqual(all(s), all(mustNew(t, m))) {
					t.Fatal("subset 100% differs from multi")
				}
			}
		})
	}
	// Nested across fractions under one seed; round(p*n).
	var prev []int
	for _, p := range []float64{0.01, 0.05, 0.1, 0.2, 0.5, 1} {
		sub := mustNew(t, Config{Kind: Subset, N: 1000, Steps: 1, Batch: 1, Subset: p, Seed: 42}).SubsetIndices()
		if len(sub) != int(p*1000+0.5) {
			t.Fatalf("p=%v: %d examples", p, len(sub))
		}
		for _, x := range prev {
			if _, ok := slices.BinarySearch(sub, x); !ok {
				t.Fatalf("p=%v subset does not contain the smaller subset", p)
			}
		}
		prev = sub
	}
	if got := len(mustNew(t, Config{Kind: Subset, N: 7, Steps: 1, Batch: 1, Subset: 0.5}).SubsetIndices()); got != 4 {
		t.Fatalf("round(0.5*7) = %d, want 4", got)
	}
}

// TestGolden pins exact batches so any change to the seed derivation, shuffle or
// ordering rules is caught (the sequences must stay stable across releases for
// checkpoints to resume identically).
func TestGolden(t *testing.T) {
	// n = 8 in 2 chunks; 6 steps (3 per chunk) of 3 indices; hybrid switches
	// after chunk 0; the subset is half the set. With seed 7 the global shuffle
	// puts {0,3,4,7} in chunk 0 and {1,2,5,6} in chunk 1 (the subset is the first
	// half of the same shuffle, so here it equals chunk 0).
	base := Config{N: 8, Steps: 6, Batch: 3, Chunks: 2, SwitchAt: 1, Subset: 0.5, Seed: 7}
	want := map[Kind][][]int{
		// epochs 6 4 5 2 0 7 3 1 | 1 2 6 4 3 5 0 7 | 2 5 ... (batch 3 straddles epochs)
		Multi: {{6, 4, 5}, {2, 0, 7}, {3, 1, 1}, {2, 6, 4}, {3, 5, 0}, {7, 2, 5}},
		// chunk 0: 7 4 0 3 | 7 3 0 4 | 7 ...; chunk 1: 5 2 6 1 | 1 2 6 5 | 2 ...
		Single: {{7, 4, 0}, {3, 7, 3}, {0, 4, 7}, {5, 2, 6}, {1, 1, 2}, {6, 5, 2}},
		// chunk 0 as single; chunk 1 permutes all of chunks 0..1: 2 6 1 3 5 0 7 4 | ...
		Cumulative: {{7, 4, 0}, {3, 7, 3}, {0, 4, 7}, {2, 6, 1}, {3, 5, 0}, {7, 4, 2}},
		// single for chunk 0, then multi from its step 0
		Hybrid: {{7, 4, 0}, {3, 7, 3}, {0, 4, 7}, {6, 4, 5}, {2, 0, 7}, {3, 1, 1}},
		// epochs over the subset {0,3,4,7}: 4 7 3 0 | 4 3 0 7 | 4 3 0 7 | 7 4 3 0 | 0 3 ...
		Subset: {{4, 7, 3}, {0, 4, 3}, {0, 7, 4}, {3, 0, 7}, {7, 4, 3}, {0, 0, 3}},
	}
	for k, w := range want {
		cfg := base
		cfg.Kind = k
		if got := all(mustNew(t, cfg)); !reflect.DeepEqual(got, w) {
			t.Errorf("%s:\n got %v\nwant %v", k, got, w)
		}
	}
	s := mustNew(t, Config{Kind: Single, N: 8, Steps: 6, Batch: 3, Chunks: 2, Seed: 7})
	if c0, c1 := slices.Sorted(slices.Values(s.ChunkIndices(0))), slices.Sorted(slices.Values(s.ChunkIndices(1))); !slices.Equal(c0, []int{0, 3, 4, 7}) || !slices.Equal(c1, []int{1, 2, 5, 6}) {
		t.Errorf("chunks %v %v", c0, c1)
	}
}

func TestValidation(t *testing.T) {
	ok := Config{Kind: Single, N: 10, Steps: 10, Batch: 2, Chunks: 5}
	cases := []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"kind unset", func(c *Config) { c.Kind = 0 }, "unknown ordering kind"},
		{"kind bogus", func(c *Config) { c.Kind = 99 }, "unknown ordering kind"},
		{"n", func(c *Config) { c.N = 0 }, "dataset size"},
		{"steps", func(c *Config) { c.Steps = 0 }, "steps = 0"},
		{"batch", func(c *Config) { c.Batch = 0 }, "batch = 0"},
		{"chunks 0", func(c *Config) { c.Chunks = 0 }, "chunks >= 1"},
		{"chunks > n", func(c *Config) { c.Chunks = 11; c.Steps = 20 }, "need chunks <= N"},
		{"steps < chunks", func(c *Config) { c.Steps = 4 }, "need steps >= chunks"},
		{"switch < 0", func(c *Config) { c.Kind = Hybrid; c.SwitchAt = -1 }, "switch-at -1 outside [0, 5]"},
		{"switch > C", func(c *Config) { c.Kind = Hybrid; c.SwitchAt = 6 }, "switch-at 6 outside [0, 5]"},
		{"subset 0", func(c *Config) { c.Kind = Subset; c.Subset = 0 }, "outside (0, 1]"},
		{"subset > 1", func(c *Config) { c.Kind = Subset; c.Subset = 1.5 }, "outside (0, 1]"},
		{"subset NaN", func(c *Config) { c.Kind = Subset; c.Subset = nan() }, "outside (0, 1]"},
		{"subset rounds to 0", func(c *Config) { c.Kind = Subset; c.Subset = 0.01 }, "rounds to 0"},
		{"overflow", func(c *Config) { c.Kind = Multi; c.Steps = 1 << 40; c.Batch = 1 << 40 }, "overflows"},
	}
	if _, err := New(ok); err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		cfg := ok
		c.edit(&cfg)
		if _, err := New(cfg); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want %q", c.name, err, c.want)
		}
	}
	// Fields a kind does not use are ignored.
	if _, err := New(Config{Kind: Multi, N: 3, Steps: 2, Batch: 2, Chunks: -4, SwitchAt: 9, Subset: 7}); err != nil {
		t.Errorf("multi rejected unused fields: %v", err)
	}
}

func nan() float64 { z := 0.0; return z / z }

func TestPanics(t *testing.T) {
	s := mustNew(t, Config{Kind: Single, N: 10, Steps: 10, Batch: 2, Chunks: 5})
	for _, f := range []func(){
		func() { s.Batch(-1) }, func() { s.Batch(10) }, func() { s.Chunk(10) },
		func() { s.ChunkSteps(5) }, func() { s.ChunkIndices(-1) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Error("no panic")
				}
			}()
			f()
		}()
	}
}

func TestParseKind(t *testing.T) {
	for _, k := range []Kind{Multi, Single, Cumulative, Hybrid, Subset} {
		got, err := ParseKind(" " + strings.ToUpper(k.String()) + " ")
		if err != nil || got != k {
			t.Errorf("ParseKind(%s) = %v, %v", k, got, err)
		}
		b, _ := k.MarshalText()
		var back Kind
		if err := back.UnmarshalText(b); err != nil || back != k {
			t.Errorf("text round trip of %s: %v %v", k, back, err)
		}
	}
	if _, err := ParseKind("multiple-pass"); err == nil || !strings.Contains(err.Error(), "want multi, single") {
		t.Errorf("ParseKind(bogus) err = %v", err)
	}
	if _, err := Kind(0).MarshalText(); err == nil {
		t.Error("MarshalText(0) succeeded")
	}
	if Kind(42).String() != "Kind(42)" {
		t.Error("String of invalid kind")
	}
}

func TestConcurrent(t *testing.T) {
	cfg := Config{Kind: Cumulative, N: 200, Steps: 100, Batch: 16, Chunks: 10, Seed: 5}
	seq := all(mustNew(t, cfg))
	s := mustNew(t, cfg)
	done := make(chan bool)
	for g := range 4 {
		go func() {
			ok := true
			for i := range cfg.Steps {
				step := (i*7 + g*13) % cfg.Steps
				ok = ok && reflect.DeepEqual(s.Batch(step), seq[step])
			}
			done <- ok
		}()
	}
	for range 4 {
		if !<-done {
			t.Fatal("concurrent Batch disagreed with sequential")
		}
	}
}

func BenchmarkBatchSequential(b *testing.B) {
	s, _ := New(Config{Kind: Cumulative, N: 50000, Steps: 10000, Batch: 256, Chunks: 100, Seed: 1})
	buf := make([]int, 0, 256)
	b.ResetTimer()
	for i := range b.N {
		buf = s.AppendBatch(buf[:0], i%10000)
	}
}

// TestRandomConfigs checks the universal properties on many random small
// configurations: shape, range, the stream rule per pool, random access.
func TestRandomConfigs(t *testing.T) {
	r := rand.New(rand.NewPCG(99, 100))
	kinds := []Kind{Multi, Single, Cumulative, Hybrid, Subset}
	for it := range 300 {
		cfg := Config{Kind: kinds[it%len(kinds)], N: 1 + r.IntN(40), Batch: 1 + r.IntN(20), Seed: r.Uint64()}
		cfg.Chunks = 1 + r.IntN(cfg.N)
		cfg.Steps = cfg.Chunks + r.IntN(30)
		cfg.SwitchAt = r.IntN(cfg.Chunks + 1)
		cfg.Subset = 0.05 + 0.95*r.Float64()
		if cfg.Kind == Subset && int(cfg.Subset*float64(cfg.N)+0.5) < 1 {
			cfg.Subset = 1
		}
		s := mustNew(t, cfg)
		seq := all(s)
		// Group steps by the pool they draw from and check each pool's stream.
		type seg struct{ lo, hi int }
		var segs []seg
		var pools [][]int
		switch cfg.Kind {
		case Multi:
			segs, pools = []seg{{0, cfg.Steps}}, [][]int{iota_(cfg.N)}
		case Subset:
			segs, pools = []seg{{0, cfg.Steps}}, [][]int{s.SubsetIndices()}
		default:
			var cum []int
			for i := range cfg.Chunks {
				lo, hi := s.ChunkSteps(i)
				cum = append(cum, s.ChunkIndices(i)...)
				if cfg.Kind == Hybrid && lo >= s.SwitchStep() {
					break
				}
				pool := s.ChunkIndices(i)
				if cfg.Kind == Cumulative {
					pool = slices.Clone(cum)
				}
				segs, pools = append(segs, seg{lo, hi}), append(pools, pool)
			}
			if cfg.Kind == Hybrid && s.SwitchStep() < cfg.Steps {
				segs, pools = append(segs, seg{s.SwitchStep(), cfg.Steps}), append(pools, iota_(cfg.N))
			}
		}
		covered := 0
		for i, sg := range segs {
			if sg.lo != covered {
				t.Fatalf("%+v: segments not contiguous", cfg)
			}
			covered = sg.hi
			checkStream(t, fmt.Sprintf("%+v seg %d", cfg, i), flatten(seq[sg.lo:sg.hi]), pools[i])
		}
		if covered != cfg.Steps {
			t.Fatalf("%+v: segments cover %d steps", cfg, covered)
		}
		s2 := mustNew(t, cfg)
		for _, step := range r.Perm(cfg.Steps) {
			if b := s2.Batch(step); len(b) != cfg.Batch || !slices.Equal(b, seq[step]) {
				t.Fatalf("%+v: random access step %d", cfg, step)
			}
		}
	}
}
