package collapse

import (
	"fmt"
	"math"

	"github.com/siam-ssl/siam/parallel"
)

// stats is what the first pass over the rows produces.
type stats struct {
	mean    []float64 // column means (of normalised rows when normalising)
	invNorm []float64 // per-row 1/||row||, only when rows are normalised; nil otherwise
	dimStd  []float64 // per-dimension std of the L2-normalised rows
}

// normEps clamps row norms like torch.nn.functional.normalize (eps = 1e-12).
const normEps = 1e-12

// rowStats makes one parallel float64 pass over x: finiteness check, row norms,
// column sums of the raw (or normalised) rows, and first and second moments of the
// normalised rows. Reading each row once keeps it memory-bound at one sweep.
func rowStats[T Float](x []T, n, d int, normalize bool) (*stats, error) {
	w := parallel.Workers()
	type acc struct {
		sum, s1, s2 []float64
		bad         int
	}
	accs := make([]acc, w)
	var invNorm []float64
	if normalize {
		invNorm = make([]float64, n)
	}
	parallel.ForWorker(n, func(wk, lo, hi int) {
		a := acc{s1: make([]float64, d), s2: make([]float64, d), bad: -1}
		if !normalize {
			a.sum = make([]float64, d)
		}
		for i := lo; i < hi; i++ {
			row := x[i*d : (i+1)*d]
			var ss float64
			for _, v := range row {
				f := float64(v)
				ss += f * f
			}
			if math.IsInf(ss, 0) || math.IsNaN(ss) {
				if hasNonFinite(row) >= 0 {
					a.bad = i
					break
				}
			}
			nrm := math.Sqrt(ss)
			if math.IsInf(ss, 0) {
				nrm = scaledNorm(row) // finite float64 values whose squares overflow
			}
			inv := 1 / math.Max(nrm, normEps)
			if normalize {
				invNorm[i] = inv
			}
			s1, s2 := a.s1[:len(row)], a.s2[:len(row)]
			if a.sum != nil {
				sum := a.sum[:len(row)]
				for j, v := range row {
					f := float64(v)
					z := f * inv
					sum[j] += f
					s1[j] += z
					s2[j] += z * z
				}
			} else {
				for j, v := range row {
					z := float64(v) * inv
					s1[j] += z
					s2[j] += z * z
				}
			}
		}
		accs[wk] = a
	})
	bad := -1
	for _, a := range accs {
		if a.s1 != nil && a.bad >= 0 && (bad < 0 || a.bad < bad) { // s1 == nil: worker unused
			bad = a.bad
		}
	}
	if bad >= 0 {
		row := x[bad*d : (bad+1)*d]
		j := hasNonFinite(row)
		return nil, fmt.Errorf("%w: row %d, column %d is %v", ErrNonFinite, bad, j, row[j])
	}
	st := &stats{mean: make([]float64, d), dimStd: make([]float64, d), invNorm: invNorm}
	s1, s2, sum := make([]float64, d), make([]float64, d), make([]float64, d)
	for _, a := range accs {
		if a.s1 == nil {
			continue
		}
		for j := 0; j < d; j++ {
			s1[j] += a.s1[j]
			s2[j] += a.s2[j]
			if a.sum != nil {
				sum[j] += a.sum[j]
			}
		}
	}
	fn := float64(n)
	for j := 0; j < d; j++ {
		m1 := s1[j] / fn
		v := (s2[j] - fn*m1*m1) / (fn - 1)
		st.dimStd[j] = math.Sqrt(math.Max(v, 0))
		if normalize {
			st.mean[j] = m1
		} else {
			st.mean[j] = sum[j] / fn
		}
	}
	return st, nil
}

// hasNonFinite returns the first column of row holding NaN or Inf, or -1.
func hasNonFinite[T Float](row []T) int {
	for j, v := range row {
		f := float64(v)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return j
		}
	}
	return -1
}

// scaledNorm is the L2 norm of row computed without overflowing the squares, for
// float64 rows with entries beyond 1e154.
func scaledNorm[T Float](row []T) float64 {
	var m float64
	for _, v := range row {
		m = math.Max(m, math.Abs(float64(v)))
	}
	if m == 0 {
		return 0
	}
	var s float64
	for _, v := range row {
		f := float64(v) / m
		s += f * f
	}
	return m * math.Sqrt(s)
}
