package collapse

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/siam-ssl/siam/parallel"
)

// BenchSpectrum times Spectrum (centre + covariance + eigenvalues + AUC/RankMe) on an
// n x d float32 matrix of random features — Gaussian columns with a decaying scale
// and a non-zero mean, so the spectrum is not flat — for `siam bench collapse`. It
// runs once untimed to warm up, then runs times, and returns the median and every
// run's seconds plus the last result. Generating the data is not timed.
func BenchSpectrum(n, d, runs int, seed uint64) (medianSeconds float64, seconds []float64, res *Result, err error) {
	return BenchSpectrumWith(n, d, runs, seed, Options{})
}

// BenchSpectrumWith is BenchSpectrum with explicit options (e.g. the method), so
// the accuracy/speed trade-off of each route can be measured the same way.
func BenchSpectrumWith(n, d, runs int, seed uint64, opts Options) (medianSeconds float64, seconds []float64, res *Result, err error) {
	if runs < 1 {
		return 0, nil, nil, fmt.Errorf("collapse: runs = %d, want >= 1", runs)
	}
	if n < 2 || d < 1 {
		return 0, nil, nil, fmt.Errorf("%w: bench needs n >= 2 and d >= 1, got %d x %d", ErrShape, n, d)
	}
	x := RandomFeatures(n, d, seed)
	if _, err := Spectrum(x, n, d, opts); err != nil {
		return 0, nil, nil, err
	}
	for range runs {
		t := time.Now()
		res, err = Spectrum(x, n, d, opts)
		seconds = append(seconds, time.Since(t).Seconds())
		if err != nil {
			return 0, nil, nil, err
		}
	}
	s := slices.Sorted(slices.Values(seconds))
	return s[len(s)/2], seconds, res, nil
}

// RandomFeatures returns an n x d float32 matrix whose column j is Gaussian with
// scale 0.995^j plus a random offset (a mildly decaying spectrum, like real features),
// deterministic in seed; used by BenchSpectrum and tests.
func RandomFeatures(n, d int, seed uint64) []float32 {
	x := make([]float32, n*d)
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	scale, offset := make([]float64, d), make([]float64, d)
	for j := range d {
		scale[j] = math.Pow(0.995, float64(j))
		offset[j] = r.NormFloat64()
	}
	const chunk = 1024
	parallel.For((n+chunk-1)/chunk, func(lo, hi int) {
		for c := lo; c < hi; c++ {
			rc := rand.New(rand.NewPCG(seed, uint64(c)+1))
			for i := c * chunk; i < min((c+1)*chunk, n); i++ {
				row := x[i*d : (i+1)*d]
				for j := range row {
					row[j] = float32(offset[j] + scale[j]*rc.NormFloat64())
				}
			}
		}
	})
	return x
}
