package collapse

import (
	"fmt"
	"math"

	"github.com/siam-ssl/siam/parallel"
)

// Features far from unit magnitude are rescaled before the spectrum is taken:
// the covariance squares the entries, so float64 features beyond ~1e150 overflow
// it, float32 blocks (MethodCovariance32) overflow beyond ~1e17 and underflow below
// ~1e-19, and LAPACK's eigen routines misbehave on matrices near the ends of the
// float64 range. The AUC, RankMe, effective rank and participation ratio are
// scale-free, so they are computed on the rescaled matrix; the singular values and
// the column mean are scaled back (exactly: the factor is a power of two).

// safeExp bounds the binary exponent of the largest |entry| that is used as is:
// entries up to 2^safeExp keep every route's covariance (n·max², float32 blocks
// of 512 rows included) far from overflow and underflow.
const safeExp = 30

// maxAbs returns the largest |x[i]|, or +Inf or NaN when x holds a non-finite value.
func maxAbs[T Float](x []T) float64 {
	w := parallel.Workers()
	part := make([]float64, w)
	parallel.ForWorker(len(x), func(wk, lo, hi int) {
		var m float64
		for _, v := range x[lo:hi] {
			f := math.Abs(float64(v))
			if !(f <= m) { // larger, or NaN
				m = f
				if math.IsNaN(f) {
					break
				}
			}
		}
		part[wk] = m
	})
	var m float64
	for _, p := range part {
		if !(p <= m) {
			m = p
		}
	}
	return m
}

// inputScale returns the binary exponent e such that x·2^e has its largest entry
// in [0.5, 1), or 0 when x is already within [2^-safeExp, 2^safeExp], is all zero,
// or holds a non-finite value (reported by the statistics pass).
func inputScale[T Float](x []T) int {
	m := maxAbs(x)
	if m == 0 || math.IsNaN(m) || math.IsInf(m, 0) {
		return 0
	}
	_, e := math.Frexp(m) // m = f·2^e, f in [0.5, 1)
	if e >= -safeExp && e <= safeExp {
		return 0
	}
	return -e
}

// scaled returns a copy of x multiplied by 2^e (exact for every entry that stays
// a normal number of type T).
func scaled[T Float](x []T, e int) []T {
	y := make([]T, len(x))
	f := T(math.Ldexp(1, e))
	parallel.For(len(x), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			y[i] = x[i] * f
		}
	})
	return y
}

// unscale turns the result of Spectrum on x·2^e back into the result on x: the
// singular values and the column mean are divided by 2^e unless rows were
// normalised (then neither depends on the scale). It fails with ErrRange when a
// singular value does not fit in a float64.
func unscale(r *Result, e int) error {
	if r.NormalizedRows {
		return nil
	}
	for i, s := range r.Singular {
		v := math.Ldexp(s, -e)
		if math.IsInf(v, 0) {
			return fmt.Errorf("%w: sigma_%d = %.6g·2^%d (AUC %.6g, RankMe %.6g at any scale); divide the features by a constant",
				ErrRange, i+1, s, -e, r.AUC, r.RankMe)
		}
		r.Singular[i] = v
	}
	for j, m := range r.Mean {
		r.Mean[j] = math.Ldexp(m, -e)
	}
	return nil
}

// checkSingular fails with ErrRange when a singular value computed without
// rescaling is not finite (the covariance overflowed although every entry is finite).
func checkSingular(sigma []float64) error {
	for i, s := range sigma {
		if math.IsInf(s, 0) || math.IsNaN(s) {
			return fmt.Errorf("%w: sigma_%d = %v from finite features; divide the features by a constant", ErrRange, i+1, s)
		}
	}
	return nil
}
