package collapse

import (
	"cmp"
	"math"
	"slices"
)

// RankMeEpsilon is the constant added to every normalised singular value in RankMe,
// as in the reference implementation (q = sigma/sum(sigma) + 1e-7).
const RankMeEpsilon = 1e-7

// validSpectrum reports whether sigma is non-empty and all finite and >= 0, and
// returns its sum. Metrics return NaN for an invalid spectrum.
func validSpectrum(sigma []float64) (sum float64, ok bool) {
	if len(sigma) == 0 {
		return 0, false
	}
	for _, s := range sigma {
		if !(s >= 0) || math.IsInf(s, 0) { // catches NaN too
			return 0, false
		}
		sum += s
	}
	return sum, true
}

// descending returns sigma sorted in decreasing order (a copy unless it already is),
// because Eq. 1 and Eq. 2 are defined on the ordered spectrum.
func descending(sigma []float64) []float64 {
	if slices.IsSortedFunc(sigma, func(a, b float64) int { return cmp.Compare(b, a) }) {
		return sigma
	}
	s := slices.Clone(sigma)
	slices.SortFunc(s, func(a, b float64) int { return cmp.Compare(b, a) })
	return s
}

// ExplainedVariance returns the cumulative explained variance of Eq. 1,
// (sum_{i<=j} sigma_i) / (sum_k sigma_k), for j = 1..d. It uses sigma, not sigma^2,
// following the reference code. The input need not be sorted: a sorted copy is used.
// An all-zero spectrum (complete collapse) gives all ones; an empty spectrum or one
// with a negative, NaN or Inf value gives nil.
func ExplainedVariance(sigma []float64) []float64 {
	sum, ok := validSpectrum(sigma)
	if !ok {
		return nil
	}
	s := descending(sigma)
	out := make([]float64, len(s))
	if sum == 0 {
		for i := range out {
			out[i] = 1
		}
		return out
	}
	var c float64
	for i, v := range s {
		c += v
		out[i] = c / sum
	}
	out[len(out)-1] = 1 // exact, whatever the rounding
	return out
}

// AUC returns the area under the cumulative explained variance curve (Eq. 2): the
// mean of ExplainedVariance(sigma). It ranges from 0.5 (all sigma equal: no collapse;
// exactly (d+1)/(2d) for a flat spectrum of length d) to 1 (rank one: complete
// dimensional collapse). An all-zero spectrum counts as complete collapse and gives 1.
// Empty or invalid input (negative, NaN, Inf) gives NaN.
func AUC(sigma []float64) float64 {
	ev := ExplainedVariance(sigma)
	if ev == nil {
		return math.NaN()
	}
	var s float64
	for _, v := range ev {
		s += v
	}
	return s / float64(len(ev))
}

// RankMe returns exp(-sum_k q_k log q_k) with q_k = sigma_k/sum(sigma) + 1e-7, exactly
// the formula of the reference data (Garrido et al.'s RankMe with its epsilon). It is a
// smooth rank estimate between about 1 (collapsed) and d (flat). An all-zero spectrum
// gives q_k = 1e-7 for every k (about 1). Empty or invalid input gives NaN.
func RankMe(sigma []float64) float64 {
	sum, ok := validSpectrum(sigma)
	if !ok {
		return math.NaN()
	}
	var h float64
	for _, s := range sigma {
		var q float64
		if sum > 0 {
			q = s / sum
		}
		q += RankMeEpsilon
		h -= q * math.Log(q)
	}
	return math.Exp(h)
}

// EffectiveRank returns the effective rank of Roy & Vetterli (2007): exp of the
// Shannon entropy of p = sigma/sum(sigma), with 0 log 0 = 0 (RankMe without the
// epsilon). An all-zero spectrum gives 0; invalid input gives NaN.
func EffectiveRank(sigma []float64) float64 {
	sum, ok := validSpectrum(sigma)
	if !ok {
		return math.NaN()
	}
	if sum == 0 {
		return 0
	}
	var h float64
	for _, s := range sigma {
		if s > 0 {
			p := s / sum
			h -= p * math.Log(p)
		}
	}
	return math.Exp(h)
}

// ParticipationRatio returns (sum lambda)^2 / sum lambda^2 for the variances
// lambda = sigma^2: the number of principal directions that carry the variance
// (d when flat, 1 when rank one). An all-zero spectrum gives 0; invalid input NaN.
func ParticipationRatio(sigma []float64) float64 {
	if _, ok := validSpectrum(sigma); !ok {
		return math.NaN()
	}
	// Scale by the largest value so sigma^4 cannot overflow.
	m := slices.Max(sigma)
	if m == 0 {
		return 0
	}
	var s2, s4 float64
	for _, s := range sigma {
		l := (s / m) * (s / m)
		s2 += l
		s4 += l * l
	}
	return s2 * s2 / s4
}
