package eval

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/siam-ssl/siam/parallel"
)

// BenchKNN times the k-NN search for `siam bench knn`: similarities (queries x
// keys^T GEMM) plus the per-query top-k selection (NearestNeighbors) on random unit
// vectors of dimension dim. It runs once untimed to warm up, then runs times, and
// returns the median and every run's seconds. Generating and normalising the data is
// not timed (KNN adds a normalisation pass of about a hundredth of the search).
func BenchKNN(queries, keys, dim, k, runs int, seed uint64) (medianSeconds float64, seconds []float64, err error) {
	if runs < 1 {
		return 0, nil, fmt.Errorf("%w: runs = %d, want >= 1", ErrKNN, runs)
	}
	if queries < 1 || keys < 1 || dim < 1 || k < 1 {
		return 0, nil, fmt.Errorf("%w: bench needs positive sizes, got queries %d keys %d dim %d k %d", ErrKNN, queries, keys, dim, k)
	}
	q, kk := RandomUnitVectors(queries, dim, seed), RandomUnitVectors(keys, dim, seed+1)
	if _, err := NearestNeighbors(q, kk, dim, k, 0); err != nil {
		return 0, nil, err
	}
	for range runs {
		t := time.Now()
		_, err := NearestNeighbors(q, kk, dim, k, 0)
		seconds = append(seconds, time.Since(t).Seconds())
		if err != nil {
			return 0, nil, err
		}
	}
	s := slices.Sorted(slices.Values(seconds))
	return s[len(s)/2], seconds, nil
}

// RandomUnitVectors returns n Gaussian vectors of dimension dim normalised to unit
// length (row-major), deterministic in seed; used by BenchKNN and tests.
func RandomUnitVectors(n, dim int, seed uint64) []float32 {
	x := make([]float32, n*dim)
	const chunk = 1024
	parallel.For((n+chunk-1)/chunk, func(lo, hi int) {
		for c := lo; c < hi; c++ {
			r := rand.New(rand.NewPCG(seed, uint64(c)))
			for i := c * chunk * dim; i < min((c+1)*chunk, n)*dim; i++ {
				x[i] = float32(r.NormFloat64())
			}
		}
	})
	_ = NormalizeRows(x, dim) // finite by construction
	return x
}
