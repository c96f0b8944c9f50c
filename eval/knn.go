package eval

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"

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

// keyBlock is how many keys one similarity GEMM covers: a chunk x keyBlock block of
// similarities is computed, scanned for the top k while it is still in cache, and
// reused, so memory stays bounded whatever the number of keys.
const keyBlock = 1024

// ErrKNN is wrapped by every argument error of this file (dimension mismatch, empty
// sets, bad labels, non-finite features, bad options), for errors.Is.
var ErrKNN = errors.New("eval: knn")

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
	// label in either set plus one.
	NumClasses int
	// Chunk is how many queries a worker processes at once (0 means DefaultChunk).
	// It changes memory and speed, never the result.
	Chunk int
	// InPlace L2-normalises the caller's keys and queries slices in place instead of
	// normalising copies (saves 4*(keys+queries)*dim bytes; the slices are changed).
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
// >= NumClasses, a NaN/Inf feature (the error names set and row), Temperature < 0 or
// MaxK/WeightedK < 0.
func KNN(keys []float32, keyLabels []int, queries []float32, queryLabels []int, dim int, opts KNNOptions) (*KNNResult, error) {
	nk, nq := len(keyLabels), len(queryLabels)
	if err := checkMatrix("keys", keys, nk, dim); err != nil {
		return nil, err
	}
	if err := checkMatrix("queries", queries, nq, dim); err != nil {
		return nil, err
	}
	if opts.MaxK < 0 || opts.WeightedK < 0 || opts.Temperature < 0 || opts.Chunk < 0 || opts.NumClasses < 0 {
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
	nc := opts.NumClasses
	if nc == 0 {
		nc = max(slices.Max(keyLabels), slices.Max(queryLabels)) + 1
	}
	for _, set := range []struct {
		name   string
		labels []int
	}{{"key", keyLabels}, {"query", queryLabels}} {
		for i, l := range set.labels {
			if l < 0 || l >= nc {
				return nil, fmt.Errorf("%w: %s label %d at row %d outside [0, %d)", ErrKNN, set.name, l, i, nc)
			}
		}
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
// multiple of dim, or a NaN/Inf value, naming the row.
func NormalizeRows(x []float32, dim int) error {
	if dim < 1 || len(x)%dim != 0 {
		return fmt.Errorf("%w: %d values do not form rows of dim %d", ErrKNN, len(x), dim)
	}
	n := len(x) / dim
	bad := make([]int, parallel.Workers())
	for i := range bad {
		bad[i] = -1
	}
	parallel.ForWorker(n, func(w, lo, hi int) {
		for i := lo; i < hi; i++ {
			row := x[i*dim : (i+1)*dim]
			var s float64
			for _, v := range row {
				s += float64(v) * float64(v)
			}
			if math.IsNaN(s) || math.IsInf(s, 0) {
				bad[w] = i
				return
			}
			if s == 0 {
				continue
			}
			inv := float32(1 / math.Sqrt(s))
			for j := range row {
				row[j] *= inv
			}
		}
	})
	for _, b := range bad {
		if b >= 0 {
			return fmt.Errorf("%w: non-finite value in row %d", ErrKNN, b)
		}
	}
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
// (cosine similarity when the rows are L2-normalised, as KNN makes them). Queries are
// processed in chunks of `chunk` (0 means DefaultChunk) spread over all cores; each
// chunk meets the keys keyBlock at a time through a float32 GEMM (queries x keys^T)
// and the block is scanned at once against a per-query threshold (the k-th best so
// far, see topK): a value is only looked at twice when it beats it, which for random
// order happens about k*ln(keys/k) times per query. Memory: the result plus
// chunk*(keyBlock+4k) values per worker. k is clamped to the number of keys; k < 1,
// a bad shape or empty input is an error. NaN similarities are never selected.
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
	nchunks := (nq + chunk - 1) / chunk
	parallel.ForWorker(nchunks, func(_, clo, chi int) {
		kb := min(keyBlock, nk)
		sims := make([]float32, chunk*kb)
		heaps := make([]topK, chunk)
		for c := clo; c < chi; c++ {
			q0, q1 := c*chunk, min((c+1)*chunk, nq)
			qn := q1 - q0
			for i := range qn {
				heaps[i].reset(k)
			}
			for k0 := 0; k0 < nk; k0 += kb {
				kn := min(kb, nk-k0)
				kernels.Sgemm(false, true, qn, kn, dim, 1, queries[q0*dim:q1*dim], dim, keys[k0*dim:(k0+kn)*dim], dim, 0, sims, kn)
				for i := range qn {
					heaps[i].scan(sims[i*kn:(i+1)*kn], int32(k0))
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

// topK keeps the k best (similarity, key index) pairs of one query seen so far. New
// candidates are appended to an unsorted buffer of capacity 2k; when it fills, a
// quickselect keeps the best k and raises the threshold thr to the k-th best, so most
// similarities are rejected by a single comparison and each kept candidate costs O(1)
// amortised (a binary heap costs ~log2(k) swaps per insertion, 4x more here).
type topK struct {
	sim []float32
	idx []int32
	k   int
	thr float32 // k-th best similarity at the last selection; -Inf before
}

func (h *topK) reset(k int) {
	if cap(h.sim) < 2*k {
		h.sim, h.idx = make([]float32, 0, 2*k), make([]int32, 0, 2*k)
	}
	h.sim, h.idx, h.k, h.thr = h.sim[:0], h.idx[:0], k, float32(math.Inf(-1))
}

// better reports whether entry a ranks above entry b (higher similarity, or equal
// similarity and smaller index).
func (h *topK) better(a, b int) bool {
	return h.sim[a] > h.sim[b] || (h.sim[a] == h.sim[b] && h.idx[a] < h.idx[b])
}

// scan offers row[j] as key base+j for every j. Keys arrive in increasing index
// order, so a candidate equal to thr never beats the kept k-th best (it has a smaller
// index): v > thr is the exact test. NaN never passes.
func (h *topK) scan(row []float32, base int32) {
	thr := h.thr
	for j, v := range row {
		if v > thr {
			h.sim = append(h.sim, v)
			h.idx = append(h.idx, base+int32(j))
			if len(h.sim) == cap(h.sim) {
				h.selectTop()
				thr = h.thr
			}
		}
	}
}

// selectTop keeps the best k entries of the buffer (unordered) and sets thr to the
// worst of them.
func (h *topK) selectTop() {
	if len(h.sim) <= h.k {
		return
	}
	h.quickselect(0, len(h.sim)-1, h.k-1)
	h.sim, h.idx = h.sim[:h.k], h.idx[:h.k]
	t := h.sim[0]
	for _, v := range h.sim[1:] {
		t = min(t, v)
	}
	h.thr = t
}

// quickselect reorders [lo, hi] so that position nth holds the entry of that rank
// under better, with better ones before it.
func (h *topK) quickselect(lo, hi, nth int) {
	for lo < hi {
		// Median of three as pivot, moved to hi.
		mid := lo + (hi-lo)/2
		if h.better(mid, lo) {
			h.swap(mid, lo)
		}
		if h.better(hi, lo) {
			h.swap(hi, lo)
		}
		if h.better(mid, hi) {
			h.swap(mid, hi)
		}
		// Now lo >= hi >= mid in rank: pivot (median) sits at hi.
		p := lo
		for i := lo; i < hi; i++ {
			if h.better(i, hi) {
				h.swap(i, p)
				p++
			}
		}
		h.swap(p, hi)
		switch {
		case nth < p:
			hi = p - 1
		case nth > p:
			lo = p + 1
		default:
			return
		}
	}
}

// byRank sorts a topK best first.
type byRank struct{ *topK }

func (r byRank) Len() int           { return len(r.sim) }
func (r byRank) Less(a, b int) bool { return r.better(a, b) }

func (h *topK) swap(a, b int) {
	h.sim[a], h.sim[b] = h.sim[b], h.sim[a]
	h.idx[a], h.idx[b] = h.idx[b], h.idx[a]
}

// Swap exchanges entries a and b (sort.Interface for byRank).
func (h *topK) Swap(a, b int) { h.swap(a, b) }

// sorted writes the best k entries best first (similarity descending, index
// ascending) into idx and sim; slots beyond the kept count (only possible with NaN
// similarities) get index -1 and similarity NaN.
func (h *topK) sorted(idx []int32, sim []float32) {
	h.selectTop()
	n := len(h.sim)
	sort.Sort(byRank{h})
	copy(idx, h.idx)
	copy(sim, h.sim)
	for i := n; i < len(idx); i++ {
		idx[i], sim[i] = -1, float32(math.NaN())
	}
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
