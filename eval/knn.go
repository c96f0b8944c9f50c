package eval

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/siam-ssl/siam/kernels"
	"github.com/siam-ssl/siam/parallel"
)

// Defaults of KNNOptions, from the paper's protocol (SPEC §6).
const (
	// DefaultMaxK is the largest k of the majority-vote sweep (k = 1..128).
	DefaultMaxK = 128
	// DefaultWeightedK is the neighbour count of the weighted monitoring vote.
	DefaultWeightedK = 200
	// DefaultTemperature is T in the weights exp(sim/T) of the weighted vote.
	DefaultTemperature = 0.1
	// DefaultChunk is how many queries one worker takes at a time; with keyBlock keys
	// it bounds the similarity scratch to DefaultChunk*keyBlock floats per worker.
	DefaultChunk = 256
)

// keyBlock is how many keys one pass over a query chunk covers: their packed panels
// (keyBlock*dim*4 bytes, 384 KiB at dim 512) stay in L2 while every register tile
// of the chunk meets them, and each tile's tileRows x keyBlock block of
// similarities is scanned for the top k at once, while it is in L1.
var keyBlock = 192

// ErrKNN is wrapped by every argument error of this file (dimension mismatch, empty
// sets, bad labels, non-finite features, bad options), for errors.Is.
var ErrKNN = errors.New("eval: knn")

// MaxClasses is the largest class count KNN accepts (labels lie in
// [0, MaxClasses)): the vote tables hold one entry per class and worker, so a stray
// huge label must be an error, not gigabytes. 2^20 is 48 times ImageNet-21k.
const MaxClasses = 1 << 20

// KNNOptions configures KNN. The zero value is the paper's protocol: majority vote
// swept over k = 1..128, weighted vote with k = 200 and T = 0.1, features copied
// before normalisation.
type KNNOptions struct {
	// MaxK is the largest k of the majority-vote sweep (0 means DefaultMaxK). It is
	// clamped to the number of keys.
	MaxK int
	// WeightedK is the neighbour count of the weighted vote (0 means
	// DefaultWeightedK). It is clamped to the number of keys.
	WeightedK int
	// Temperature is T of the weighted vote's weights exp(sim/T) (0 means
	// DefaultTemperature; must be > 0).
	Temperature float64
	// NumClasses bounds the labels to [0, NumClasses); 0 infers it as the largest
	// label in either set plus one. Either way it is at most MaxClasses.
	NumClasses int
	// Chunk is how many queries a worker processes at once (0 means DefaultChunk).
	// It changes memory and speed, never the result.
	Chunk int
	// InPlace L2-normalises the caller's keys and queries slices in place instead of
	// normalising copies (saves 4*(keys+queries)*dim bytes; the slices are changed,
	// but only when every check has passed: a call that fails changes nothing).
	InPlace bool
}

// KNNResult holds the k-NN classification accuracies of one (keys, queries) pair.
type KNNResult struct {
	// NumQueries, NumKeys, Dim and NumClasses describe the problem.
	NumQueries int `json:"num_queries"`
	NumKeys    int `json:"num_keys"`
	Dim        int `json:"dim"`
	NumClasses int `json:"num_classes"`
	// Accuracy[k-1] is the top-1 accuracy of the plain majority vote over the k
	// nearest keys, for k = 1..len(Accuracy) (MaxK clamped to the number of keys).
	Accuracy []float64 `json:"accuracy"`
	// BestK is the k with the highest majority-vote accuracy (the smallest such k on
	// ties) and BestAccuracy that accuracy: the number the paper reports.
	BestK        int     `json:"best_k"`
	BestAccuracy float64 `json:"best_accuracy"`
	// WeightedK, Temperature and WeightedAccuracy describe the weighted vote used for
	// monitoring (weights exp(sim/T) summed per class, top-1).
	WeightedK        int     `json:"weighted_k"`
	Temperature      float64 `json:"temperature"`
	WeightedAccuracy float64 `json:"weighted_accuracy"`
}

// KNN classifies every query by its nearest keys under cosine similarity and reports
// the accuracies of SPEC §6: the plain majority vote for every k in 1..MaxK (best k
// and its accuracy) and the weighted vote (WeightedK neighbours, weights exp(sim/T)).
//
// keys is a row-major len(keyLabels) x dim matrix (the train set features), queries a
// len(queryLabels) x dim matrix (the validation set). Both are L2-normalised first
// (rows of zeros stay zero), on copies unless opts.InPlace. The top max(MaxK,
// WeightedK) neighbours of each query are found once (see NearestNeighbors) and both
// votes read that list.
//
// Majority vote ties: among classes with the most votes, the one with the highest
// summed similarity wins, then the smaller label. Weighted vote ties: the smaller label.
//
// Errors: dim < 1, a length that is not rows*dim, an empty set, a negative label or one
// >= NumClasses (or >= MaxClasses), a NaN/Inf feature (the error names set and row),
// Temperature < 0 or MaxK/WeightedK < 0. Everything is checked before the inputs are
// normalised, so an error leaves the caller's slices as they were.
func KNN(keys []float32, keyLabels []int, queries []float32, queryLabels []int, dim int, opts KNNOptions) (*KNNResult, error) {
	nk, nq := len(keyLabels), len(queryLabels)
	if err := checkMatrix("keys", keys, nk, dim); err != nil {
		return nil, err
	}
	if err := checkMatrix("queries", queries, nq, dim); err != nil {
		return nil, err
	}
	if opts.MaxK < 0 || opts.WeightedK < 0 || !(opts.Temperature >= 0) || math.IsInf(opts.Temperature, 0) || opts.Chunk < 0 || opts.NumClasses < 0 {
		return nil, fmt.Errorf("%w: negative option in %+v", ErrKNN, opts)
	}
	maxK, wk, temp := opts.MaxK, opts.WeightedK, opts.Temperature
	if maxK == 0 {
		maxK = DefaultMaxK
	}
	if wk == 0 {
		wk = DefaultWeightedK
	}
	if temp == 0 {
		temp = DefaultTemperature
	}
	maxK, wk = min(maxK, nk), min(wk, nk)
	nc, err := classCount(keyLabels, queryLabels, opts.NumClasses)
	if err != nil {
		return nil, err
	}
	// Validate both sets before changing either, so that a failed call leaves the
	// caller's slices untouched even with InPlace.
	if err := checkFinite("keys", keys, dim); err != nil {
		return nil, err
	}
	if err := checkFinite("queries", queries, dim); err != nil {
		return nil, err
	}
	if !opts.InPlace {
		keys, queries = slices.Clone(keys), slices.Clone(queries)
	}
	if err := NormalizeRows(keys, dim); err != nil {
		return nil, fmt.Errorf("keys: %w", err)
	}
	if err := NormalizeRows(queries, dim); err != nil {
		return nil, fmt.Errorf("queries: %w", err)
	}
	nb, err := NearestNeighbors(queries, keys, dim, max(maxK, wk), opts.Chunk)
	if err != nil {
		return nil, err
	}
	r := &KNNResult{NumQueries: nq, NumKeys: nk, Dim: dim, NumClasses: nc, WeightedK: wk, Temperature: temp}
	r.Accuracy = MajorityVoteSweep(nb, keyLabels, queryLabels, nc, maxK)
	for k, a := range r.Accuracy {
		if k == 0 || a > r.BestAccuracy {
			r.BestK, r.BestAccuracy = k+1, a
		}
	}
	r.WeightedAccuracy = WeightedVote(nb, keyLabels, queryLabels, nc, wk, temp)
	return r, nil
}

// classCount validates the labels of both sets and returns the class count:
// numClasses when given (at most MaxClasses), else the largest label plus one. A
// negative label, one >= the class count or one >= MaxClasses is an error naming
// the set, the row and the value.
func classCount(keyLabels, queryLabels []int, numClasses int) (int, error) {
	if numClasses > MaxClasses {
		return 0, fmt.Errorf("%w: NumClasses %d exceeds eval.MaxClasses = %d", ErrKNN, numClasses, MaxClasses)
	}
	limit, what := numClasses, fmt.Sprintf("outside [0, %d)", numClasses)
	if numClasses == 0 {
		limit, what = MaxClasses, fmt.Sprintf("outside [0, eval.MaxClasses = %d); labels must be class indices 0..C-1", MaxClasses)
	}
	nc := numClasses
	for _, set := range []struct {
		name   string
		labels []int
	}{{"key", keyLabels}, {"query", queryLabels}} {
		for i, l := range set.labels {
			if l < 0 || l >= limit {
				return 0, fmt.Errorf("%w: %s label %d at row %d %s", ErrKNN, set.name, l, i, what)
			}
			if numClasses == 0 {
				nc = max(nc, l+1)
			}
		}
	}
	return nc, nil
}

// checkFinite fails, naming the set and the first row, when a rows x dim matrix
// holds a NaN or Inf.
func checkFinite(name string, x []float32, dim int) error {
	if b := firstNonFiniteRow(x, dim); b >= 0 {
		return fmt.Errorf("%s: %w: non-finite value in row %d", name, ErrKNN, b)
	}
	return nil
}

// firstNonFiniteRow returns the smallest row of x (rows of dim values) that holds
// a NaN or Inf, or -1.
func firstNonFiniteRow(x []float32, dim int) int {
	n := len(x) / dim
	bad := make([]int, parallel.Workers())
	for i := range bad {
		bad[i] = -1
	}
	parallel.ForWorker(n, func(w, lo, hi int) {
		for i := lo; i < hi; i++ {
			for _, v := range x[i*dim : (i+1)*dim] {
				if f := float64(v); math.IsNaN(f) || math.IsInf(f, 0) {
					bad[w] = i
					return
				}
			}
		}
	})
	first := -1
	for _, b := range bad {
		if b >= 0 && (first < 0 || b < first) {
			first = b
		}
	}
	return first
}

// checkMatrix validates a rows x dim row-major matrix argument.
func checkMatrix(name string, x []float32, rows, dim int) error {
	switch {
	case dim < 1:
		return fmt.Errorf("%w: dim = %d, want >= 1", ErrKNN, dim)
	case rows == 0:
		return fmt.Errorf("%w: no %s", ErrKNN, name)
	case len(x) != rows*dim:
		return fmt.Errorf("%w: %s has %d values, want %d rows x %d dims = %d (dimension mismatch)", ErrKNN, name, len(x), rows, dim, rows*dim)
	}
	return nil
}

// NormalizeRows L2-normalises each dim-wide row of x in place (norm accumulated in
// float64; an all-zero row stays zero). It fails on dim < 1, a length that is not a
// multiple of dim, or a NaN/Inf value, naming the first such row; on failure x is
// unchanged.
func NormalizeRows(x []float32, dim int) error {
	if dim < 1 || len(x)%dim != 0 {
		return fmt.Errorf("%w: %d values do not form rows of dim %d", ErrKNN, len(x), dim)
	}
	if b := firstNonFiniteRow(x, dim); b >= 0 {
		return fmt.Errorf("%w: non-finite value in row %d", ErrKNN, b)
	}
	parallel.For(len(x)/dim, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			row := x[i*dim : (i+1)*dim]
			var s float64
			for _, v := range row {
				s += float64(v) * float64(v)
			}
			if s == 0 { // finite float32 values cannot overflow the float64 sum
				continue
			}
			inv := 1 / math.Sqrt(s)
			if inv < 1e30 {
				inv32 := float32(inv)
				for j := range row {
					row[j] *= inv32
				}
			} else { // subnormal rows: 1/norm does not fit a float32
				for j := range row {
					row[j] = float32(float64(row[j]) * inv)
				}
			}
		}
	})
	return nil
}

// Neighbors is the top-K key list of every query: for query q, Index[q*K:(q+1)*K]
// and Sim[q*K:(q+1)*K] hold the K keys with the largest similarity, in decreasing
// similarity (equal similarities: smaller key index first).
type Neighbors struct {
	K     int       `json:"k"`
	Index []int32   `json:"index"`
	Sim   []float32 `json:"sim"`
}

// Row returns the neighbour indices and similarities of query q.
func (nb *Neighbors) Row(q int) ([]int32, []float32) {
	return nb.Index[q*nb.K : (q+1)*nb.K], nb.Sim[q*nb.K : (q+1)*nb.K]
}

// NearestNeighbors returns the k keys with the largest dot product for every query
// (cosine similarity when the rows are L2-normalised, as KNN makes them), ranked by
// float32 similarity, ties by smaller key index.
//
// On CPUs with AVX512-BF16 (Zen 4) the similarities are screened in bfloat16 and
// the survivors recomputed exactly (see nearestScreened): the same neighbours at
// about half the arithmetic. Otherwise the keys are packed once into the float32
// GEMM's panel layout (kernels.PackKeys). Either way queries are processed in
// chunks of `chunk` (0 means DefaultChunk) spread over all cores; a chunk is packed
// into register tiles and meets the keys keyBlock at a time: for each tile the
// micro-kernel computes the tile x keyBlock block of similarities (one full-depth
// FMA chain per value, so results do not depend on the chunk size), and the block
// is filtered right away, still in L1, against each query's threshold with a
// vectorised compare (kernels.IndexGreater): only values that beat it are looked
// at again, about k*ln(keys/k) times per query. Memory: the result, the packed
// keys (2 or 4 bytes per key value), plus chunk*(dim+4k) values per worker. k is
// clamped to the number of keys; k < 1, a bad shape or empty input is an error.
// NaN similarities are never selected.
func NearestNeighbors(queries, keys []float32, dim, k, chunk int) (*Neighbors, error) {
	if dim < 1 || len(queries)%dim != 0 || len(keys)%dim != 0 {
		return nil, fmt.Errorf("%w: %d query and %d key values do not form rows of dim %d", ErrKNN, len(queries), len(keys), dim)
	}
	nq, nk := len(queries)/dim, len(keys)/dim
	if nq == 0 || nk == 0 {
		return nil, fmt.Errorf("%w: empty set (%d queries, %d keys)", ErrKNN, nq, nk)
	}
	if k < 1 {
		return nil, fmt.Errorf("%w: k = %d, want >= 1", ErrKNN, k)
	}
	k = min(k, nk)
	if chunk <= 0 {
		chunk = DefaultChunk
	}
	out := &Neighbors{K: k, Index: make([]int32, nq*k), Sim: make([]float32, nq*k)}
	if screenBF16 && kernels.BF16Fast() {
		if ok := nearestScreened(queries, keys, dim, k, chunk, out); ok {
			return out, nil
		}
	}
	pk := kernels.PackKeys(keys, nk, dim)
	nr := pk.PanelWidth()
	kb := min(max(keyBlock/nr, 1)*nr, (nk+nr-1)/nr*nr) // whole panels
	nchunks := (nq + chunk - 1) / chunk
	parallel.ForWorker(nchunks, func(_, clo, chi int) {
		var sims []float32
		idx := make([]int32, kb+16)
		heaps := make([]topK, min(chunk, nq))
		for c := clo; c < chi; c++ {
			q0, q1 := c*chunk, min((c+1)*chunk, nq)
			qn := q1 - q0
			for i := range qn {
				heaps[i].reset(k)
			}
			pq := kernels.PackQueries(queries[q0*dim:q1*dim], qn, dim)
			if n := pq.MaxTileRows() * kb; len(sims) < n {
				sims = make([]float32, n)
			}
			for k0 := 0; k0 < nk; k0 += kb {
				k1 := min(k0+kb, nk)
				for t := range pq.Tiles() {
					row0, rows := pq.Tile(t)
					kernels.MulTile(pq, t, pk, k0, k1, sims, kb)
					for i := range rows {
						heaps[row0+i].scanFiltered(sims[i*kb:i*kb+k1-k0], int32(k0), idx)
					}
				}
			}
			for i := range qn {
				q := q0 + i
				heaps[i].sorted(out.Index[q*k:(q+1)*k], out.Sim[q*k:(q+1)*k])
			}
		}
	})
	return out, nil
}

// screenBF16 selects the bfloat16-screened search on CPUs with AVX512-BF16 (tests
// turn it off to compare with the float32 GEMM route).
var screenBF16 = true

// nearestScreened is NearestNeighbors through a bfloat16 screen, on CPUs where
// kernels.MulTile16 runs VDPBF16PS (32 multiply-adds per instruction, twice the
// float32 FMA). For each register tile and key block it computes approximate
// similarities s~, and eps_q, a rigorous bound on |s~ - s| for every key (s the
// float32 similarity kernels.Dot computes), from the norms of the query, of its
// bfloat16 rounding and of the rounding error and the maxima of the same over the
// keys (kernels.BF16Norms; about 2.3e-3 for unit vectors of dimension 512 — a
// bound, not a statistical estimate). screenTopK keeps every key that can still be
// in the exact top k and rescores only the final survivors exactly, so the result
// is exactly the top k by float32 similarity, with the same tie rule. It returns
// false (nothing done) when a norm is not finite or too large for the bound to be
// meaningful.
func nearestScreened(queries, keys []float32, dim, k, chunk int, out *Neighbors) bool {
	nq, nk := len(queries)/dim, len(keys)/dim
	// Key norms: plain, of the bfloat16 rounding, and of the rounding error; the
	// screen uses their maxima.
	type kmax struct{ norm, rounded, err float64 }
	kms := make([]kmax, parallel.Workers())
	parallel.ForWorker(nk, func(w, lo, hi int) {
		m := &kms[w]
		for i := lo; i < hi; i++ {
			n, r, e := kernels.BF16Norms(keys[i*dim : (i+1)*dim])
			m.norm, m.rounded, m.err = max(m.norm, n), max(m.rounded, r), max(m.err, e)
		}
	})
	var km kmax
	for _, m := range kms {
		km.norm, km.rounded, km.err = max(km.norm, m.norm), max(km.rounded, m.rounded), max(km.err, m.err)
	}
	if !(km.norm < 1e15 && km.rounded < 1e15) { // also catches NaN
		return false
	}
	// eps[q] bounds |screen - float32 similarity| for query q and every key.
	g := kernels.BF16AccumulationBound(dim)
	eps := make([]float64, nq)
	for i := range nq {
		n, r, e := kernels.BF16Norms(queries[i*dim : (i+1)*dim])
		if !(n < 1e15 && r < 1e15) {
			return false
		}
		eps[i] = 1.001*(e*km.rounded+n*km.err+g*(r*km.rounded+n*km.norm)) + 1e-30
	}
	pk := kernels.PackKeys16(keys, nk, dim)
	nr := pk.PanelWidth()
	kb := min(max(keyBlock/nr, 1)*nr, (nk+nr-1)/nr*nr)
	nchunks := (nq + chunk - 1) / chunk
	parallel.ForWorker(nchunks, func(_, clo, chi int) {
		var approx []float32
		idx := make([]int32, kb+16)
		heaps := make([]screenTopK, min(chunk, nq))
		for ch := clo; ch < chi; ch++ {
			q0, q1 := ch*chunk, min((ch+1)*chunk, nq)
			qn := q1 - q0
			for i := range qn {
				heaps[i].reset(k, 2*eps[q0+i])
			}
			pq := kernels.PackQueries16(queries[q0*dim:q1*dim], qn, dim)
			if n := pq.MaxTileRows() * kb; len(approx) < n {
				approx = make([]float32, n)
			}
			for k0 := 0; k0 < nk; k0 += kb {
				k1 := min(k0+kb, nk)
				for t := range pq.Tiles() {
					row0, rows := pq.Tile(t)
					kernels.MulTile16(pq, t, pk, k0, k1, approx, kb)
					for i := range rows {
						h := &heaps[row0+i]
						n := kernels.IndexGreater(approx[i*kb:i*kb+k1-k0], h.thr, int32(k0), idx)
						for _, j := range idx[:n] {
							if v := approx[i*kb+int(j)-k0]; v > h.thr {
								h.push(v, j)
							}
						}
						if h.thr == negInf && len(h.sim) >= k {
							h.prune() // first threshold as soon as k keys are in
						}
					}
				}
			}
			for i := range qn {
				q := q0 + i
				heaps[i].finish(queries[q*dim:(q+1)*dim], keys, dim, out.Index[q*k:(q+1)*k], out.Sim[q*k:(q+1)*k])
			}
		}
	})
	return true
}

// screenCut returns the largest float32 not above thr - eps (rounded toward
// -Inf, so the screen never cuts above the exact bound); -Inf while thr is.
func screenCut(thr float32, eps float64) float32 {
	if thr == negInf {
		return negInf
	}
	x := float64(thr) - eps
	f := float32(x)
	if float64(f) > x {
		f = math.Nextafter32(f, negInf)
	}
	return f
}

// screenTopK is the per-query state of the screened route. It works on the
// approximate (bfloat16) similarities s~ only, keeping every key that can still
// be among the exact top k: with eps a bound on |s~ - s| (s the float32 value),
// theta~ the k-th best s~, the k keys of the top k by s~ all have s >= theta~ - eps,
// so the exact k-th best is >= theta~ - eps and every exact top-k key has
// s~ >= theta~ - 2 eps. The buffer keeps the keys with s~ >= (k-th best s~ so
// far) - 2 eps (a running theta~ is never above the final one, so nothing needed is
// dropped), and only the final survivors — about k plus the keys in a 2-eps band,
// ~1.3k for unit vectors at dim 512 — get an exact dot product.
type screenTopK struct {
	sim     []float32 // approximate similarities, in increasing key order
	idx     []int32
	scratch []float32
	pairs   []simIdx
	k       int
	eps2    float64 // 2*eps for this query
	thr     float32 // entry test: s~ > thr
}

func (h *screenTopK) reset(k int, eps2 float64) {
	if c := 4 * k; cap(h.sim) < c {
		h.sim, h.idx = make([]float32, 0, c), make([]int32, 0, c)
	}
	h.sim, h.idx, h.k, h.eps2, h.thr = h.sim[:0], h.idx[:0], k, eps2, negInf
}

// push adds key j with approximate similarity v > thr.
func (h *screenTopK) push(v float32, j int32) {
	h.sim = append(h.sim, v)
	h.idx = append(h.idx, j)
	if len(h.sim) == cap(h.sim) {
		h.prune()
		if len(h.sim) > cap(h.sim)-cap(h.sim)/4 { // a wide band: grow, keep O(1) per push
			h.sim, h.idx = append(make([]float32, 0, 2*cap(h.sim)), h.sim...), append(make([]int32, 0, 2*cap(h.idx)), h.idx...)
		}
	}
}

// cut returns the smallest similarity that must stay: the largest float32 not above
// (k-th best s~ of the buffer) - 2 eps; -Inf while fewer than k are in.
func (h *screenTopK) cut() float32 {
	if len(h.sim) < h.k {
		return negInf
	}
	h.scratch = append(h.scratch[:0], h.sim...)
	return screenCut(kthLargest(h.scratch, h.k), h.eps2)
}

// prune drops the entries below a cut and raises the entry threshold to it. The
// cut is v - 2 eps for a v with at least k entries >= v (so v <= the k-th best and
// nothing needed is dropped): v is read off an even sample of the buffer, aimed at
// ~1.2k entries, and checked by counting; if the count falls short the exact
// cut() is used.
func (h *screenTopK) prune() {
	n := len(h.sim)
	c := negInf
	if j := 12 * h.k * topSample / (10 * n); n >= 2*topSample && j >= 1 && j < topSample {
		var smp [topSample]float32
		for i := range smp {
			smp[i] = h.sim[i*n/topSample]
		}
		v := kthLargest(smp[:], j)
		ge := 0
		for _, s := range h.sim {
			if s >= v {
				ge++
			}
		}
		if ge >= h.k {
			c = screenCut(v, h.eps2)
		}
	}
	if c == negInf {
		c = h.cut()
	}
	if c == negInf {
		return
	}
	w := 0
	for i, v := range h.sim {
		if v >= c {
			h.sim[w], h.idx[w] = v, h.idx[i]
			w++
		}
	}
	h.sim, h.idx = h.sim[:w], h.idx[:w]
	h.thr = math.Nextafter32(c, negInf) // entry test v > thr  <=>  v >= c
}

// finish rescores the survivors exactly (kernels.Dot of the float32 rows) and
// writes the top k best first (similarity descending, index ascending) into idx
// and sim; slots beyond the survivors (NaN similarities) get index -1 and NaN.
func (h *screenTopK) finish(qrow, keys []float32, dim int, idx []int32, sim []float32) {
	c := h.cut()
	w := 0 // survivors, compacted in place
	for i, v := range h.sim {
		if v >= c {
			h.idx[w] = h.idx[i]
			w++
		}
	}
	surv := h.idx[:w]
	pairs := h.pairs[:0]
	const ahead = 4 // rows prefetched ahead: a key row is a DRAM miss here
	for t := range min(ahead, w) {
		j := int(surv[t])
		kernels.PrefetchL1(keys[j*dim : (j+1)*dim])
	}
	for t, j := range surv {
		if t+ahead < w {
			nj := int(surv[t+ahead])
			kernels.PrefetchL1(keys[nj*dim : (nj+1)*dim])
		}
		if s := kernels.Dot(qrow, keys[int(j)*dim:(int(j)+1)*dim]); s == s { // not NaN
			pairs = append(pairs, simIdx{s, j})
		}
	}
	sortPairs(pairs)
	n := min(len(pairs), len(idx))
	for i, p := range pairs[:n] {
		idx[i], sim[i] = p.idx, p.sim
	}
	h.pairs = pairs
	for i := n; i < len(idx); i++ {
		idx[i], sim[i] = -1, float32(math.NaN())
	}
}

// sortPairs sorts by similarity descending, then index ascending.
func sortPairs(pairs []simIdx) {
	slices.SortFunc(pairs, func(a, b simIdx) int {
		if c := cmp.Compare(b.sim, a.sim); c != 0 {
			return c
		}
		return cmp.Compare(a.idx, b.idx)
	})
}

// topK keeps the k best (similarity, key index) pairs of one query seen so far. New
// candidates are appended to an unsorted buffer of capacity 4k; when it fills,
// selectTop keeps the best k and raises the threshold thr to the k-th best, so most
// similarities are rejected by one (vectorised) comparison and each kept candidate
// costs O(1) amortised (a binary heap costs ~log2(k) swaps per insertion).
//
// Keys arrive in increasing index order and selectTop compacts stably, so the
// buffer is always in increasing key order: among equal similarities the earlier
// entry is the smaller index, which is how ties are ranked.
type topK struct {
	sim     []float32
	idx     []int32
	scratch []float32
	pairs   []simIdx
	k       int
	thr     float32 // k-th best similarity at the last selection; -Inf before
}

func (h *topK) reset(k int) {
	if cap(h.sim) < 4*k {
		h.sim, h.idx = make([]float32, 0, 4*k), make([]int32, 0, 4*k)
	}
	h.sim, h.idx, h.k, h.thr = h.sim[:0], h.idx[:0], k, float32(math.Inf(-1))
}

// scanFiltered offers row[j] as key base+j for every j. Keys arrive in increasing
// index order, so a candidate equal to thr never beats the kept k-th best (it has a
// larger index): v > thr is the exact test. kernels.IndexGreater lists the
// positions beating the current threshold (idx is scratch of at least
// len(row)+16); only those are re-tested (the threshold may rise on the way) and
// kept. NaN never passes.
func (h *topK) scanFiltered(row []float32, base int32, idx []int32) {
	n := kernels.IndexGreater(row, h.thr, base, idx)
	for _, j := range idx[:n] {
		if v := row[j-base]; v > h.thr {
			h.push(v, j)
		}
	}
	h.firstThreshold()
}

// push appends a candidate that beats thr, freeing space when the buffer is full.
func (h *topK) push(v float32, j int32) {
	h.sim = append(h.sim, v)
	h.idx = append(h.idx, j)
	if len(h.sim) == cap(h.sim) {
		h.shrink()
	}
}

// firstThreshold sets the first threshold as soon as k candidates are in: without
// it the buffer would fill with every key of the first blocks.
func (h *topK) firstThreshold() {
	if h.thr == negInf && len(h.sim) >= h.k {
		h.selectTop()
	}
}

var negInf = float32(math.Inf(-1))

// selectTop keeps the best k entries of the buffer (in their buffer order) and sets
// thr to the worst of them: the k-th largest value v is found on a scratch copy of
// the similarities, then one stable pass keeps every entry above v and the first
// entries equal to v (the smallest indices) up to k.
func (h *topK) selectTop() {
	n := len(h.sim)
	if n <= h.k {
		return
	}
	h.scratch = append(h.scratch[:0], h.sim...)
	v := kthLargest(h.scratch, h.k)
	gt := 0
	for _, s := range h.sim {
		if s > v {
			gt++
		}
	}
	h.compact(v, h.k-gt)
}

// compact keeps the entries above v and the first eq entries equal to v, in
// buffer order, and makes v the threshold.
func (h *topK) compact(v float32, eq int) {
	w := 0
	for i, s := range h.sim {
		if s > v || (s == v && eq > 0) {
			if s == v {
				eq--
			}
			h.sim[w], h.idx[w] = s, h.idx[i]
			w++
		}
	}
	h.sim, h.idx = h.sim[:w], h.idx[:w]
	h.thr = v
}

// topSample is how many buffer entries shrink estimates the cut from.
const topSample = 64

// shrink frees buffer space when it fills, more cheaply than selectTop: it picks a
// cut t from an even sample of the buffer, aimed to keep about 1.3k entries, and
// keeps every entry >= t (t becomes the threshold; a later candidate equal to t
// has a larger index than the >= k entries kept, so it could never rank among
// them). If the sample misjudges (fewer than k entries >= t, or too few removed),
// it falls back to the exact selectTop. Either way the kept set contains the best
// k so far, so the final result is exact.
func (h *topK) shrink() {
	n := len(h.sim)
	j := 11 * h.k * topSample / (10 * n) // rank of the cut in the sample
	if n < 2*topSample || j < 1 || j >= topSample {
		h.selectTop()
		return
	}
	var smp [topSample]float32
	for i := range smp {
		smp[i] = h.sim[i*n/topSample]
	}
	t := kthLargest(smp[:], j)
	ge := 0
	for _, s := range h.sim {
		if s >= t {
			ge++
		}
	}
	if ge < h.k || ge > n-n/4 {
		h.selectTop()
		return
	}
	h.compact(t, n) // every entry equal to t stays
}

// kthLargest returns the k-th largest value of x (1 <= k <= len(x), no NaNs),
// reordering x (quickselect, median-of-three pivots).
func kthLargest(x []float32, k int) float32 {
	lo, hi, nth := 0, len(x)-1, k-1
	for lo < hi {
		mid := lo + (hi-lo)/2
		if x[mid] > x[lo] {
			x[mid], x[lo] = x[lo], x[mid]
		}
		if x[hi] > x[lo] {
			x[hi], x[lo] = x[lo], x[hi]
		}
		if x[mid] > x[hi] {
			x[mid], x[hi] = x[hi], x[mid]
		}
		// x[lo] >= x[hi] >= x[mid]: the pivot (median) sits at hi.
		p, pv := lo, x[hi]
		for i := lo; i < hi; i++ {
			if x[i] > pv {
				x[i], x[p] = x[p], x[i]
				p++
			}
		}
		x[p], x[hi] = x[hi], x[p]
		switch {
		case nth < p:
			hi = p - 1
		case nth > p:
			lo = p + 1
		default:
			return x[p]
		}
	}
	return x[nth]
}

// sorted writes the best k entries best first (similarity descending, index
// ascending) into idx and sim; slots beyond the kept count (only possible with NaN
// similarities) get index -1 and similarity NaN.
func (h *topK) sorted(idx []int32, sim []float32) {
	h.selectTop()
	n := len(h.sim)
	pairs := h.pairs[:0]
	for i, s := range h.sim {
		pairs = append(pairs, simIdx{s, h.idx[i]})
	}
	sortPairs(pairs)
	for i, p := range pairs {
		idx[i], sim[i] = p.idx, p.sim
	}
	h.pairs = pairs
	for i := n; i < len(idx); i++ {
		idx[i], sim[i] = -1, float32(math.NaN())
	}
}

// simIdx is one (similarity, key index) entry of a sorted neighbour list.
type simIdx struct {
	sim float32
	idx int32
}

// MajorityVoteSweep returns, for k = 1..maxK, the top-1 accuracy of the plain majority
// vote over each query's k nearest keys (nb from NearestNeighbors with nb.K >= maxK;
// maxK is clamped to nb.K). Ties: most votes, then highest summed similarity, then
// smaller label. One walk down each neighbour list serves every k: adding neighbour k
// only raises its own class, so the winner is either the previous winner or that class.
// Labels must lie in [0, numClasses) (KNN checks them).
func MajorityVoteSweep(nb *Neighbors, keyLabels, queryLabels []int, numClasses, maxK int) []float64 {
	maxK = min(maxK, nb.K)
	nq := len(queryLabels)
	w := parallel.Workers()
	correct := make([][]int, w)
	parallel.ForWorker(nq, func(wk, lo, hi int) {
		cor := make([]int, maxK)
		votes := make([]int32, numClasses)
		simSum := make([]float64, numClasses)
		for q := lo; q < hi; q++ {
			idx, sim := nb.Row(q)
			best := -1
			for j := range maxK {
				if idx[j] >= 0 {
					c := keyLabels[idx[j]]
					votes[c]++
					simSum[c] += float64(sim[j])
					if best < 0 || votes[c] > votes[best] ||
						(votes[c] == votes[best] && (simSum[c] > simSum[best] || (simSum[c] == simSum[best] && c < best))) {
						best = c
					}
				}
				if best == queryLabels[q] {
					cor[j]++
				}
			}
			for j := range maxK {
				if idx[j] >= 0 {
					c := keyLabels[idx[j]]
					votes[c], simSum[c] = 0, 0
				}
			}
		}
		correct[wk] = cor
	})
	acc := make([]float64, maxK)
	for _, cor := range correct {
		for j, c := range cor {
			acc[j] += float64(c)
		}
	}
	for j := range acc {
		acc[j] /= float64(nq)
	}
	return acc
}

// WeightedVote returns the top-1 accuracy of the weighted k-NN vote used to monitor
// SSL training (InstDisc/SimSiam monitor): each of the k nearest keys adds
// exp(sim/temperature) to its class; the highest score wins, the smaller label on
// ties. k is clamped to nb.K.
func WeightedVote(nb *Neighbors, keyLabels, queryLabels []int, numClasses, k int, temperature float64) float64 {
	k = min(k, nb.K)
	nq := len(queryLabels)
	correct := make([]int, parallel.Workers())
	parallel.ForWorker(nq, func(wk, lo, hi int) {
		score := make([]float64, numClasses)
		n := 0
		for q := lo; q < hi; q++ {
			idx, sim := nb.Row(q)
			// Weights relative to the best neighbour, exp((sim-sim_1)/T): the same
			// argmax as exp(sim/T), without overflow for small T.
			top := float64(sim[0])
			for j := range k {
				if idx[j] >= 0 {
					score[keyLabels[idx[j]]] += math.Exp((float64(sim[j]) - top) / temperature)
				}
			}
			best := -1
			for j := range k {
				if idx[j] >= 0 {
					c := keyLabels[idx[j]]
					if best < 0 || score[c] > score[best] || (score[c] == score[best] && c < best) {
						best = c
					}
				}
			}
			if best == queryLabels[q] {
				n++
			}
			for j := range k {
				if idx[j] >= 0 {
					score[keyLabels[idx[j]]] = 0
				}
			}
		}
		correct[wk] = n
	})
	var n int
	for _, c := range correct {
		n += c
	}
	return float64(n) / float64(nq)
}
