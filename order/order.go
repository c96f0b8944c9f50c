// Package order decides which dataset indices every training step sees, for the
// data orderings of the paper's Section 4 (Figure 5): multiple pass, single pass,
// cumulative, hybrid and fixed subsets. It is the paper's remedy for collapse, so
// its rules are pinned exactly and every run is reproducible from (Config, Seed).
//
// # Rules
//
// Let n = Config.N examples, S = Config.Steps, B = Config.Batch, C = Config.Chunks.
//
// Chunks. The index set 0..n-1 is shuffled once (the "global shuffle", see Seeds)
// and cut into C contiguous pieces: chunk i is positions [⌊i·n/C⌋, ⌊(i+1)·n/C⌋) of
// the shuffle, so chunk sizes differ by at most one and every chunk is non-empty
// (C ≤ n is required).
//
// Steps per chunk. Chunk i is trained for steps [⌊i·S/C⌋, ⌊(i+1)·S/C⌋). When C
// divides S that is exactly N = S/C steps per chunk, as in the paper; otherwise
// each chunk gets ⌊S/C⌋ or ⌈S/C⌉ steps, the extra steps spread evenly over the
// chunks (rather than all given to the last chunk). S ≥ C is required so that
// every chunk gets at least one step. Every ordering takes exactly S steps of
// exactly B indices, so total compute is identical across orderings.
//
// Streams. Each ordering draws its batches from a "stream": the concatenation of
// independent seeded permutations of a pool of indices, cut into consecutive
// batches of B. Nothing is dropped and a batch may straddle two permutations, so
// a batch repeats an index only when it straddles a permutation boundary (or when
// B exceeds the pool size, in which case it necessarily spans several
// permutations). Over any stretch of the stream aligned to the pool size, every
// pool member appears exactly once. This is the reference code's rule for chunks
// ("re-permute the chunk, concatenate permutations, cut into whole batches until
// N steps are filled"); we use the same rule for epochs over the whole set, so the
// partial last batch of an epoch is NOT dropped: it is completed with the first
// indices of the next epoch's permutation. (PyTorch's drop_last instead skips up
// to B-1 examples per epoch; the difference is negligible for training and keeps
// the per-example visit counts exactly balanced and B > n well defined.)
//
//   - Multi: the pool is the whole set; permutation e of the stream is epoch e.
//   - Single: during chunk i the pool is chunk i; its stream starts afresh with
//     the chunk, and the chunk is never seen again after its steps.
//   - Cumulative: during chunk i the pool is chunks 0..i (positions [0, ⌊(i+1)·n/C⌋)
//     of the global shuffle), re-permuted as a whole; its stream starts afresh
//     with each chunk. For chunk 0 it coincides with single pass.
//   - Hybrid(K): steps before ⌊K·S/C⌋ are exactly those of Single; from that step
//     on, the batches are exactly Multi's batches from its step 0 (a fresh
//     multi-pass stream over everything). Only the sampler switches; the caller's
//     model, optimizer and learning-rate schedule continue. K = 0 is Multi, K = C
//     is Single.
//   - Subset(p): the pool is the fixed subset of the first m = round(p·n)
//     positions of the global shuffle, sorted ascending; its stream is epochs over
//     the subset. Subsets of different p under one seed are nested, and p = 1
//     reproduces Multi exactly.
//
// Sequential reading. For data read best in order (WebDataset tar shards on
// slow storage) Multi takes Config.Blocks, the sizes of the contiguous index
// blocks (one per shard, summing to N), and Config.Buffer > 0: epoch r's
// permutation is then the blocks in a seeded random order, each read front
// to back, passed through a Buffer-slot shuffle buffer (WebDataset's
// shuffle(): once the buffer is full every arriving index replaces a
// uniformly chosen slot, whose index is emitted; the rest is drained in
// random order). Each index still appears exactly once per epoch, and the
// permutation is a pure function of (Seed, r), so resume stays exact; an
// index leaves at most about Buffer positions from where the sequential read
// met it. Only Multi supports it: the other kinds draw their chunks from the
// global shuffle, which needs random access (an index of the shard members
// gives that).
//
// # Seeds
//
// Every permutation is a Fisher–Yates shuffle driven by a math/rand/v2 PCG source
// whose two seed words are derived from (Config.Seed, tag, a, r) with the
// SplitMix64 finaliser: h = mix(mix(mix(mix(Seed) ^ tag) ^ a) ^ r), PCG(h,
// mix(h ^ 0x5851f42d4c957f2d)). Tags: 1 = global shuffle (a = r = 0); 2 = the
// r-th permutation of chunk i's pool (a = i; single, cumulative and the first
// phase of hybrid); 3 = epoch r of the whole set or of the subset (a = 0);
// 4 = epoch r's block order and 5 = its shuffle buffer (sequential reading). The
// shuffle draws bounded integers with Lemire's multiply-and-reject method from
// PCG.Uint64, so sequences do not depend on math/rand's Shuffle implementation and
// stay stable across Go releases.
//
// # Random access
//
// Batch(step) is computed directly from the step, without replaying earlier
// steps, so training resumes exactly from a checkpoint at any step. The sampler
// caches the two most recently used permutations, so sequential iteration costs
// one shuffle per pass over a pool.
package order

import (
	"encoding"
	"fmt"
	"math"
	"math/bits"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
)

// Kind is a data ordering.
type Kind int

// The orderings of Section 4 and Section 3.2. The zero Kind is invalid, so a
// Config with no kind set is rejected rather than silently trained one way.
const (
	Multi      Kind = iota + 1 // multiple pass: epochs over the whole set
	Single                     // single pass: chunk i only, then discarded
	Cumulative                 // chunks 0..i: a replay buffer keeping everything
	Hybrid                     // single pass for chunks 0..K-1, then multiple pass
	Subset                     // epochs over a fixed seeded fraction of the set
)

var kindNames = map[Kind]string{Multi: "multi", Single: "single", Cumulative: "cumulative", Hybrid: "hybrid", Subset: "subset"}

// String returns the name ParseKind accepts ("multi", "single", ...).
func (k Kind) String() string {
	if s, ok := kindNames[k]; ok {
		return s
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// ParseKind parses "multi", "single", "cumulative", "hybrid" or "subset"
// (case-insensitive, surrounding spaces ignored).
func ParseKind(s string) (Kind, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	for k, name := range kindNames {
		if t == name {
			return k, nil
		}
	}
	return 0, fmt.Errorf("order: unknown ordering %q (want multi, single, cumulative, hybrid or subset)", s)
}

// MarshalText implements encoding.TextMarshaler, so configs store kinds by name.
func (k Kind) MarshalText() ([]byte, error) {
	if _, ok := kindNames[k]; !ok {
		return nil, fmt.Errorf("order: invalid kind %d", int(k))
	}
	return []byte(k.String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler using ParseKind.
func (k *Kind) UnmarshalText(b []byte) error {
	v, err := ParseKind(string(b))
	if err != nil {
		return err
	}
	*k = v
	return nil
}

var (
	_ encoding.TextMarshaler   = Kind(0)
	_ encoding.TextUnmarshaler = (*Kind)(nil)
)

// Config describes an ordering. Fields an ordering does not use are ignored:
// Chunks by Multi and Subset, SwitchAt by all but Hybrid, Subset by all but Subset.
type Config struct {
	// Kind is the ordering.
	Kind Kind
	// N is the dataset size; indices are 0..N-1.
	N int
	// Steps is the total number of training steps (batches), equal for all kinds.
	Steps int
	// Batch is the number of indices per step.
	Batch int
	// Chunks is C, the number of chunks (the paper's default is 100).
	Chunks int
	// SwitchAt is K for Hybrid: chunks 0..K-1 are single pass, then multi pass.
	SwitchAt int
	// Subset is the fraction p in (0, 1] of the set that Subset trains on.
	Subset float64
	// Seed determines the global shuffle and every permutation.
	Seed uint64
	// Buffer > 0 makes Multi read sequentially: each epoch visits Blocks in a
	// random order, front to back, through a shuffle buffer of this many
	// indices (see the package doc). 0 draws uniform permutations.
	Buffer int
	// Blocks are the sizes of the contiguous index blocks (e.g. samples per
	// shard), summing to N; nil with Buffer > 0 means one block of N.
	Blocks []int
}

// Sampler maps training steps to dataset indices. It is safe for concurrent use.
type Sampler struct {
	cfg          Config
	shuf         []int // global shuffle (chunked kinds and Subset)
	subset       []int // sorted subset pool (Subset)
	hybridSwitch int   // first multi-pass step of Hybrid

	mu    sync.Mutex
	cache [2]permEntry
	clock uint64
}

type permEntry struct {
	ok      bool
	tag     uint64
	a, r    int
	perm    []int
	lastUse uint64
}

const (
	tagShuffle = 1
	tagChunk   = 2
	tagEpoch   = 3
	tagBlocks  = 4 // block order of a sequential epoch
	tagBuffer  = 5 // shuffle buffer of a sequential epoch
)

// New validates cfg and builds a Sampler. The global shuffle is computed here
// (O(N)); per-chunk and per-epoch permutations are computed on demand.
func New(cfg Config) (*Sampler, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	s := &Sampler{cfg: cfg}
	if cfg.Buffer > 0 && cfg.Blocks == nil {
		s.cfg.Blocks = []int{cfg.N}
	} else {
		s.cfg.Blocks = slices.Clone(cfg.Blocks)
	}
	switch cfg.Kind {
	case Single, Cumulative, Hybrid:
		s.shuf = shuffled(nil, cfg.N, cfg.Seed, tagShuffle, 0, 0)
		if cfg.Kind == Hybrid {
			s.hybridSwitch = s.stepStart(cfg.SwitchAt)
		}
	case Subset:
		s.shuf = shuffled(nil, cfg.N, cfg.Seed, tagShuffle, 0, 0)
		s.subset = slices.Clone(s.shuf[:subsetSize(cfg.Subset, cfg.N)])
		slices.Sort(s.subset)
	}
	return s, nil
}

func subsetSize(p float64, n int) int { return int(math.Round(p * float64(n))) }

func (c Config) validate() error {
	if _, ok := kindNames[c.Kind]; !ok {
		return fmt.Errorf("order: unknown ordering kind %d (use ParseKind)", int(c.Kind))
	}
	if c.N < 1 {
		return fmt.Errorf("order: dataset size N = %d, need at least 1", c.N)
	}
	if c.Steps < 1 {
		return fmt.Errorf("order: steps = %d, need at least 1", c.Steps)
	}
	if c.Batch < 1 {
		return fmt.Errorf("order: batch = %d, need at least 1", c.Batch)
	}
	if hi, lo := bits.Mul64(uint64(c.Steps), uint64(c.Batch)); hi != 0 || lo > math.MaxInt64/2 {
		return fmt.Errorf("order: steps x batch = %d x %d overflows", c.Steps, c.Batch)
	}
	if c.Buffer < 0 {
		return fmt.Errorf("order: shuffle buffer %d < 0", c.Buffer)
	}
	if c.Buffer > 0 {
		if c.Kind != Multi {
			return fmt.Errorf("order: a shuffle buffer (sequential reading) works with multi only; %s draws chunks at random, so read its data by random access (shuffle buffer 0)", c.Kind)
		}
		if c.Blocks != nil {
			sum := 0
			for _, b := range c.Blocks {
				if b < 1 || b > c.N {
					return fmt.Errorf("order: block of %d indices (want 1..N)", b)
				}
				sum += b
				if sum > c.N {
					break
				}
			}
			if sum != c.N {
				return fmt.Errorf("order: blocks hold %d indices, N is %d", sum, c.N)
			}
		}
	}
	switch c.Kind {
	case Single, Cumulative, Hybrid:
		if c.Chunks < 1 {
			return fmt.Errorf("order: %s needs chunks >= 1, got %d", c.Kind, c.Chunks)
		}
		if c.Chunks > c.N {
			return fmt.Errorf("order: %d chunks of a %d-example dataset would leave chunks empty (need chunks <= N)", c.Chunks, c.N)
		}
		if c.Steps < c.Chunks {
			return fmt.Errorf("order: %d steps for %d chunks: every chunk needs at least one step (need steps >= chunks)", c.Steps, c.Chunks)
		}
		for _, v := range []int{c.N, c.Steps} {
			if hi, lo := bits.Mul64(uint64(v)+1, uint64(c.Chunks)); hi != 0 || lo > math.MaxInt64 {
				return fmt.Errorf("order: %d x %d chunks overflows", v, c.Chunks)
			}
		}
		if c.Kind == Hybrid && (c.SwitchAt < 0 || c.SwitchAt > c.Chunks) {
			return fmt.Errorf("order: hybrid switch-at %d outside [0, %d] (the number of chunks)", c.SwitchAt, c.Chunks)
		}
	case Subset:
		if !(c.Subset > 0 && c.Subset <= 1) {
			return fmt.Errorf("order: subset fraction %v outside (0, 1]", c.Subset)
		}
		if subsetSize(c.Subset, c.N) < 1 {
			return fmt.Errorf("order: subset %v of %d examples rounds to 0 examples", c.Subset, c.N)
		}
	}
	return nil
}

// Config returns the configuration the sampler was built with.
func (s *Sampler) Config() Config { return s.cfg }

// Steps returns the total number of steps, Config.Steps.
func (s *Sampler) Steps() int { return s.cfg.Steps }

// chunked reports whether the kind has a chunk schedule.
func (s *Sampler) chunked() bool {
	return s.cfg.Kind == Single || s.cfg.Kind == Cumulative || s.cfg.Kind == Hybrid
}

func (s *Sampler) stepStart(i int) int  { return i * s.cfg.Steps / s.cfg.Chunks }
func (s *Sampler) chunkStart(i int) int { return i * s.cfg.N / s.cfg.Chunks }

// Chunk returns the chunk whose step slot contains step: for Single and
// Cumulative the chunk being trained, for Hybrid the chunk of the step schedule
// (which keeps counting K..C-1 after the switch to multi-pass data), and 0 for
// Multi and Subset. It panics if step is outside [0, Steps).
func (s *Sampler) Chunk(step int) int {
	s.checkStep(step)
	if !s.chunked() {
		return 0
	}
	return ((step+1)*s.cfg.Chunks - 1) / s.cfg.Steps
}

// ChunkSteps returns the half-open step range [start, end) of chunk i's slot. For
// Multi and Subset the single "chunk" 0 spans all steps. It panics if i is out of
// range.
func (s *Sampler) ChunkSteps(i int) (start, end int) {
	if !s.chunked() {
		if i != 0 {
			panic(fmt.Sprintf("order: chunk %d of %s (which has only chunk 0)", i, s.cfg.Kind))
		}
		return 0, s.cfg.Steps
	}
	s.checkChunk(i)
	return s.stepStart(i), s.stepStart(i + 1)
}

// ChunkIndices returns a copy of the dataset indices in chunk i (in global
// shuffle order), e.g. to load a chunk into memory before training it. It returns
// nil for Multi and Subset, which have no chunks. It panics if i is out of range.
func (s *Sampler) ChunkIndices(i int) []int {
	if !s.chunked() {
		return nil
	}
	s.checkChunk(i)
	return slices.Clone(s.shuf[s.chunkStart(i):s.chunkStart(i+1)])
}

// SubsetIndices returns a sorted copy of the fixed subset a Subset sampler trains
// on (nil for other kinds), e.g. to compute metrics over the training subset.
func (s *Sampler) SubsetIndices() []int { return slices.Clone(s.subset) }

// SwitchStep returns the first multi-pass step of a Hybrid sampler, ⌊K·S/C⌋
// (Steps when K = C, i.e. never), and -1 for the other kinds.
func (s *Sampler) SwitchStep() int {
	if s.cfg.Kind != Hybrid {
		return -1
	}
	return s.hybridSwitch
}

func (s *Sampler) checkStep(step int) {
	if step < 0 || step >= s.cfg.Steps {
		panic(fmt.Sprintf("order: step %d outside [0, %d)", step, s.cfg.Steps))
	}
}

func (s *Sampler) checkChunk(i int) {
	if i < 0 || i >= s.cfg.Chunks {
		panic(fmt.Sprintf("order: chunk %d outside [0, %d)", i, s.cfg.Chunks))
	}
}

// Batch returns the Config.Batch dataset indices of training step step (a fresh
// slice). It panics if step is outside [0, Steps).
func (s *Sampler) Batch(step int) []int {
	return s.AppendBatch(make([]int, 0, s.cfg.Batch), step)
}

// AppendBatch appends step's indices to dst and returns the extended slice, for
// callers that reuse a buffer. It panics if step is outside [0, Steps).
func (s *Sampler) AppendBatch(dst []int, step int) []int {
	s.checkStep(step)
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.cfg.Batch
	switch s.cfg.Kind {
	case Multi:
		if s.cfg.Buffer > 0 {
			return s.stream(dst, tagBuffer, 0, nil, s.cfg.N, step*b)
		}
		return s.stream(dst, tagEpoch, 0, nil, s.cfg.N, step*b)
	case Subset:
		return s.stream(dst, tagEpoch, 0, s.subset, len(s.subset), step*b)
	case Hybrid:
		if step >= s.hybridSwitch {
			return s.stream(dst, tagEpoch, 0, nil, s.cfg.N, (step-s.hybridSwitch)*b)
		}
	}
	i := s.Chunk(step)
	lo, hi := s.chunkStart(i), s.chunkStart(i+1)
	if s.cfg.Kind == Cumulative {
		lo = 0
	}
	pool := s.shuf[lo:hi]
	return s.stream(dst, tagChunk, i, pool, len(pool), (step-s.stepStart(i))*b)
}

// stream appends Batch indices starting at position pos of the stream of
// permutations (tag, a, r = 0, 1, ...) of pool (nil pool = identity of size m).
func (s *Sampler) stream(dst []int, tag uint64, a int, pool []int, m, pos int) []int {
	for k := 0; k < s.cfg.Batch; {
		r, off := (pos+k)/m, (pos+k)%m
		perm := s.perm(tag, a, r, pool, m)
		take := min(s.cfg.Batch-k, m-off)
		dst = append(dst, perm[off:off+take]...)
		k += take
	}
	return dst
}

// perm returns the r-th permutation of pool for (tag, a), from the cache when
// possible. The caller holds s.mu.
func (s *Sampler) perm(tag uint64, a, r int, pool []int, m int) []int {
	s.clock++
	for i := range s.cache {
		e := &s.cache[i]
		if e.ok && e.tag == tag && e.a == a && e.r == r {
			e.lastUse = s.clock
			return e.perm
		}
	}
	victim := 0 // an empty entry, else the least recently used one
	for i := range s.cache {
		if !s.cache[i].ok {
			victim = i
			break
		}
		if s.cache[i].lastUse < s.cache[victim].lastUse {
			victim = i
		}
	}
	e := &s.cache[victim]
	var buf []int
	if cap(e.perm) >= m {
		buf = e.perm[:0]
	}
	*e = permEntry{ok: true, tag: tag, a: a, r: r, lastUse: s.clock}
	if tag == tagBuffer {
		e.perm = bufferShuffled(buf, s.cfg.Blocks, s.cfg.Buffer, s.cfg.Seed, uint64(r))
		return e.perm
	}
	if pool == nil {
		e.perm = shuffled(buf, m, s.cfg.Seed, tag, uint64(a), uint64(r))
	} else {
		e.perm = shuffledPool(buf, pool, s.cfg.Seed, tag, uint64(a), uint64(r))
	}
	return e.perm
}

// mix is the SplitMix64 finaliser, used to derive independent PCG seeds.
func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

// source returns the PCG source for (seed, tag, a, r); see the package doc.
func source(seed, tag, a, r uint64) *rand.PCG {
	h := mix(mix(mix(mix(seed)^tag)^a) ^ r)
	return rand.NewPCG(h, mix(h^0x5851f42d4c957f2d))
}

// bounded returns a uniform integer in [0, n) (Lemire's method).
func bounded(src *rand.PCG, n uint64) uint64 {
	hi, lo := bits.Mul64(src.Uint64(), n)
	if lo < n {
		thresh := -n % n
		for lo < thresh {
			hi, lo = bits.Mul64(src.Uint64(), n)
		}
	}
	return hi
}

// shuffle permutes p in place with a Fisher–Yates shuffle driven by src.
func shuffle(p []int, src *rand.PCG) {
	for i := len(p) - 1; i > 0; i-- {
		j := int(bounded(src, uint64(i+1)))
		p[i], p[j] = p[j], p[i]
	}
}

// shuffled returns a seeded permutation of 0..n-1, reusing buf's storage.
func shuffled(buf []int, n int, seed, tag, a, r uint64) []int {
	p := slices.Grow(buf[:0], n)[:n]
	for i := range p {
		p[i] = i
	}
	shuffle(p, source(seed, tag, a, r))
	return p
}

// shuffledPool returns a seeded permutation of pool's elements: element k of the
// result is pool[π(k)] for the same π that shuffled(len(pool)) produces.
func shuffledPool(buf, pool []int, seed, tag, a, r uint64) []int {
	p := append(buf[:0], pool...)
	shuffle(p, source(seed, tag, a, r))
	return p
}

// bufferShuffled returns epoch r's sequential permutation: the blocks (sizes,
// contiguous from 0) in a seeded random order, read front to back through a
// shuffle buffer of k slots. Once the buffer is full, each arriving index
// replaces a uniformly chosen slot whose index is emitted; at the end the
// buffer is emitted in a seeded random order.
func bufferShuffled(buf []int, blocks []int, k int, seed, r uint64) []int {
	starts := make([]int, len(blocks)+1)
	for i, b := range blocks {
		starts[i+1] = starts[i] + b
	}
	n := starts[len(blocks)]
	order := shuffled(nil, len(blocks), seed, tagBlocks, 0, r)
	src := source(seed, tagBuffer, 0, r)
	out := slices.Grow(buf[:0], n)
	pool := make([]int, 0, min(k, n))
	for _, b := range order {
		for i := starts[b]; i < starts[b+1]; i++ {
			if len(pool) < k {
				pool = append(pool, i)
				continue
			}
			j := int(bounded(src, uint64(k)))
			out = append(out, pool[j])
			pool[j] = i
		}
	}
	shuffle(pool, src)
	return append(out, pool...)
}
