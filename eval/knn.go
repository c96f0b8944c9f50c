package eval

import (
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/siam-ssl/siam/backend"
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
	// DefaultChunk is how many queries one worker of the search takes at a time
	// (backend/cpu's default): it bounds each worker's similarity scratch.
	DefaultChunk = 256
)

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

// Neighbors is the top-K key list of every query (backend.Neighbors): for query
// q, Index[q*K:(q+1)*K] and Sim[q*K:(q+1)*K] hold the K keys with the largest
// similarity, in decreasing similarity (equal similarities: smaller key index
// first).
type Neighbors = backend.Neighbors

// NearestNeighbors returns the k keys with the largest dot product for every query
// (cosine similarity when the rows are L2-normalised, as KNN makes them), ranked by
// float32 similarity, ties by smaller key index. The search itself is
// kernels.NearestNeighbors (GEMM micro-kernels with a streaming top-k, bfloat16
// screening with exact re-ranking where the CPU has AVX512-BF16), which the ssl
// methods share (NNSiam's support-queue lookup); errors here wrap ErrKNN.
func NearestNeighbors(queries, keys []float32, dim, k, chunk int) (*Neighbors, error) {
	nb, err := backend.Default().Nearest(backend.Dot, backend.HostBuffer(queries), backend.HostBuffer(keys), dim, k, chunk)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrKNN, err)
	}
	return nb, nil
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
