package kernels

import (
	"cmp"
	"fmt"
	"math"
	"slices"

	"github.com/siam-ssl/siam/parallel"
)

// DefaultNearestChunk is how many queries one worker of NearestNeighbors takes at a
// time; with keyBlock keys it bounds the similarity scratch to
// DefaultNearestChunk*keyBlock floats per worker.
const DefaultNearestChunk = 256

// keyBlock is how many keys one pass over a query chunk covers: their packed panels
// (keyBlock*dim*4 bytes, 384 KiB at dim 512) stay in L2 while every register tile
// of the chunk meets them, and each tile's tileRows x keyBlock block of
// similarities is scanned for the top k at once, while it is in L1.
var keyBlock = 192

// keyBlockFor is keyBlock rounded to whole panels of nr keys (at least one),
// and no more panels than nk keys fill.
func keyBlockFor(nr, nk int) int { return min(max(keyBlock/nr, 1)*nr, (nk+nr-1)/nr*nr) }

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
// (cosine similarity when the rows are L2-normalised, as eval.KNN makes them), ranked
// by float32 similarity, ties by smaller key index.
//
// On CPUs with AVX512-BF16 (Zen 4) the similarities are screened in bfloat16 and
// the survivors recomputed exactly (see nearestScreened): the same neighbours at
// about half the arithmetic. Otherwise the keys are packed once into the float32
// GEMM's panel layout (PackKeys). Either way queries are processed in chunks of
// `chunk` (0 means DefaultNearestChunk) spread over all cores; a chunk is packed
// into register tiles and meets the keys keyBlock at a time: for each tile the
// micro-kernel computes the tile x keyBlock block of similarities (one full-depth
// FMA chain per value, so results do not depend on the chunk size), and the block
// is filtered right away, still in L1, against each query's threshold with a
// vectorised compare (IndexGreater): only values that beat it are looked at again,
// about k*ln(keys/k) times per query. Memory: the result, the packed keys (2 or 4
// bytes per key value), plus chunk*(dim+4k) values per worker. k is clamped to the
// number of keys; k < 1, a bad shape or empty input is an error. NaN similarities
// are never selected.
func NearestNeighbors(queries, keys []float32, dim, k, chunk int) (*Neighbors, error) {
	return nearest(queries, keys, nil, dim, k, chunk)
}

// NearestL2 returns the k keys nearest to every query in squared Euclidean
// distance |q-x|^2, nearest first (equal distances: smaller key index first), for
// unnormalised vectors. It is NearestNeighbors' search on the GEMM form
// |q-x|^2 = |q|^2 + |x|^2 - 2 q.x: keys are ranked by the score q.x - |x|^2/2
// (the per-query |q|^2 does not change the order), with |x|^2 accumulated in
// float64 and q.x from the same float32 micro- Sim holds the negated
// squared distances 2*score - |q|^2 (largest = nearest, like a similarity), which
// are float32 values of the GEMM form: they can be slightly off, even slightly
// positive, when a query nearly equals a key. Used for NNSiam's support-queue
// lookup; arguments and errors as NearestNeighbors.
func NearestL2(queries, keys []float32, dim, k, chunk int) (*Neighbors, error) {
	if dim < 1 || len(keys)%dim != 0 {
		return nil, fmt.Errorf("nearest neighbours: %d key values do not form rows of dim %d", len(keys), dim)
	}
	nk := len(keys) / dim
	bias := make([]float32, nk)
	parallel.For(nk, func(lo, hi int) {
		for j := lo; j < hi; j++ {
			var s float64
			for _, v := range keys[j*dim : (j+1)*dim] {
				s += float64(v) * float64(v)
			}
			bias[j] = float32(-s / 2)
		}
	})
	nb, err := nearest(queries, keys, bias, dim, k, chunk)
	if err != nil {
		return nil, err
	}
	for q := range len(queries) / dim {
		var s float64
		for _, v := range queries[q*dim : (q+1)*dim] {
			s += float64(v) * float64(v)
		}
		_, sim := nb.Row(q)
		for j := range sim {
			sim[j] = float32(2*float64(sim[j]) - s)
		}
	}
	return nb, nil
}

// nearest ranks keys by q.x + bias[x] (bias nil: the plain dot product). With a
// bias only the float32 GEMM route runs: the bfloat16 screen's error bound covers
// the dot product alone.
func nearest(queries, keys, bias []float32, dim, k, chunk int) (*Neighbors, error) {
	if dim < 1 || len(queries)%dim != 0 || len(keys)%dim != 0 {
		return nil, fmt.Errorf("nearest neighbours: %d query and %d key values do not form rows of dim %d", len(queries), len(keys), dim)
	}
	nq, nk := len(queries)/dim, len(keys)/dim
	if nq == 0 || nk == 0 {
		return nil, fmt.Errorf("nearest neighbours: empty set (%d queries, %d keys)", nq, nk)
	}
	if k < 1 {
		return nil, fmt.Errorf("nearest neighbours: k = %d, want >= 1", k)
	}
	k = min(k, nk)
	if chunk <= 0 {
		chunk = DefaultNearestChunk
	}
	out := &Neighbors{K: k, Index: make([]int32, nq*k), Sim: make([]float32, nq*k)}
	if bias == nil && screenBF16 && BF16Fast() {
		if ok := nearestScreened(queries, keys, dim, k, chunk, out); ok {
			return out, nil
		}
	}
	pk := PackKeys(keys, nk, dim)
	nr := pk.PanelWidth()
	kb := keyBlockFor(nr, nk)
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
			pq := PackQueries(queries[q0*dim:q1*dim], qn, dim)
			if n := pq.MaxTileRows() * kb; len(sims) < n {
				sims = make([]float32, n)
			}
			for k0 := 0; k0 < nk; k0 += kb {
				k1 := min(k0+kb, nk)
				for t := range pq.Tiles() {
					row0, rows := pq.Tile(t)
					MulTile(pq, t, pk, k0, k1, sims, kb)
					for i := range rows {
						row := sims[i*kb : i*kb+k1-k0]
						if bias != nil {
							Add(row, row, bias[k0:k1])
						}
						heaps[row0+i].scanFiltered(row, int32(k0), idx)
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
// MulTile16 runs VDPBF16PS (32 multiply-adds per instruction, twice the
// float32 FMA). For each register tile and key block it computes approximate
// similarities s~, and eps_q, a rigorous bound on |s~ - s| for every key (s the
// float32 similarity Dot computes), from the norms of the query, of its
// bfloat16 rounding and of the rounding error and the maxima of the same over the
// keys (BF16Norms; about 2.3e-3 for unit vectors of dimension 512 — a
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
			n, r, e := BF16Norms(keys[i*dim : (i+1)*dim])
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
	g := BF16AccumulationBound(dim)
	eps := make([]float64, nq)
	for i := range nq {
		n, r, e := BF16Norms(queries[i*dim : (i+1)*dim])
		if !(n < 1e15 && r < 1e15) {
			return false
		}
		eps[i] = 1.001*(e*km.rounded+n*km.err+g*(r*km.rounded+n*km.norm)) + 1e-30
	}
	pk := PackKeys16(keys, nk, dim)
	nr := pk.PanelWidth()
	kb := keyBlockFor(nr, nk)
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
			pq := PackQueries16(queries[q0*dim:q1*dim], qn, dim)
			if n := pq.MaxTileRows() * kb; len(approx) < n {
				approx = make([]float32, n)
			}
			for k0 := 0; k0 < nk; k0 += kb {
				k1 := min(k0+kb, nk)
				for t := range pq.Tiles() {
					row0, rows := pq.Tile(t)
					MulTile16(pq, t, pk, k0, k1, approx, kb)
					for i := range rows {
						h := &heaps[row0+i]
						n := IndexGreater(approx[i*kb:i*kb+k1-k0], h.thr, int32(k0), idx)
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

// finish rescores the survivors exactly (Dot of the float32 rows) and
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
		PrefetchL1(keys[j*dim : (j+1)*dim])
	}
	for t, j := range surv {
		if t+ahead < w {
			nj := int(surv[t+ahead])
			PrefetchL1(keys[nj*dim : (nj+1)*dim])
		}
		if s := Dot(qrow, keys[int(j)*dim:(int(j)+1)*dim]); s == s { // not NaN
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
// larger index): v > thr is the exact test. IndexGreater lists the
// positions beating the current threshold (idx is scratch of at least
// len(row)+16); only those are re-tested (the threshold may rise on the way) and
// kept. NaN never passes.
func (h *topK) scanFiltered(row []float32, base int32, idx []int32) {
	n := IndexGreater(row, h.thr, base, idx)
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
