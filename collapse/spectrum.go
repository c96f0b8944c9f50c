package collapse

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"

	"gonum.org/v1/gonum/mat"
)

// Float is the element type of a feature matrix: float32 (what the engine produces)
// or float64.
type Float interface{ ~float32 | ~float64 }

// Method selects how the singular values are computed.
type Method int

const (
	// MethodCovariance (the default) forms the d x d matrix X^T X of the centred
	// features entirely in float64 — an AVX-512 float64 SYRK (kernels.Dgram32) that
	// centres and converts the rows as it packs them, on all cores — and takes its
	// eigenvalues. Leading singular values match an SVD to ~1e-12 relative; the
	// trailing ones are exact to the float64 rounding of the covariance (null
	// directions sit at ~sqrt(eps64)*sigma_1 = 1e-8*sigma_1).
	MethodCovariance Method = iota
	// MethodCovariance64 is the same float64 route as MethodCovariance (kept as a
	// name for callers that ask for the exact covariance explicitly; it used to be a
	// separate, slower gonum Dsyrk path).
	MethodCovariance64
	// MethodSVD takes the singular values of the centred N x d float64 matrix directly
	// (gonum mat.SVD). Slowest and most memory (8*N*d bytes), most accurate tail.
	MethodSVD
	// MethodCovariance32 is the former fast path: float32 GEMM blocks of 512 rows
	// (kernels.Sgemm) added into a float64 accumulator. Its covariance stage costs
	// ~0.7x the float64 one on Zen 4 (200 vs 285 CPU-ms at 50000 x 512: float32
	// FMAs are twice as wide, but the block results are added in float64 and it
	// needs a separate statistics pass), but the float32 rounding inside a block
	// puts the trailing singular values at a floor of ~1e-4..1e-3*sigma_1, which moves
	// the AUC by up to ~5e-4 on realistic spectra. Leading values are good to ~1e-7.
	MethodCovariance32
)

// String names the method as the CLI spells it.
func (m Method) String() string {
	switch m {
	case MethodCovariance:
		return "covariance"
	case MethodCovariance64:
		return "covariance64"
	case MethodSVD:
		return "svd"
	case MethodCovariance32:
		return "covariance32"
	}
	return fmt.Sprintf("Method(%d)", int(m))
}

// ParseMethod turns a CLI name ("covariance", "covariance64", "covariance32", "svd";
// "" or "eig" mean covariance) into a Method.
func ParseMethod(s string) (Method, error) {
	switch s {
	case "", "eig", "covariance":
		return MethodCovariance, nil
	case "covariance64", "eig64":
		return MethodCovariance64, nil
	case "covariance32", "eig32":
		return MethodCovariance32, nil
	case "svd":
		return MethodSVD, nil
	}
	return 0, fmt.Errorf("collapse: unknown method %q (want covariance, covariance64, covariance32 or svd)", s)
}

// Options configures Spectrum. The zero value is the reference setting: columns
// centred, rows not normalised, fast covariance method.
type Options struct {
	// NormalizeRows L2-normalises every row before centring (rows first, then columns,
	// as the reference code orders it). Off by default, as in the paper. A zero row
	// stays zero (its norm is clamped to 1e-12, like torch.nn.functional.normalize).
	NormalizeRows bool
	// Method picks the numerical route; see Method.
	Method Method
}

// Result is the spectrum of one feature matrix and the collapse metrics derived from it.
type Result struct {
	// N and D are the number of rows (examples) and columns (feature dimensions).
	N int `json:"n"`
	D int `json:"d"`
	// Method is the route used ("covariance", "covariance64", "covariance32", "svd").
	Method string `json:"method"`
	// NormalizedRows records whether rows were L2-normalised before centring.
	NormalizedRows bool `json:"normalized_rows"`
	// Singular holds sigma_1 >= ... >= sigma_d of the centred N x d matrix (not divided
	// by sqrt(N)); when N-1 < d the trailing d-N+1 values are zero up to rounding.
	Singular []float64 `json:"singular_values"`
	// Explained is the cumulative explained variance curve of Eq. 1 (sigma, not sigma^2).
	Explained []float64 `json:"explained"`
	// AUC is Eq. 2, the mean of Explained: 0.5 flat .. 1 rank one; higher = more collapse.
	AUC float64 `json:"auc"`
	// RankMe is exp(entropy) of sigma/sum(sigma) + 1e-7 (reference formula).
	RankMe float64 `json:"rankme"`
	// EffectiveRank is RankMe without the epsilon (Roy & Vetterli).
	EffectiveRank float64 `json:"effective_rank"`
	// ParticipationRatio is (sum sigma^2)^2 / sum sigma^4.
	ParticipationRatio float64 `json:"participation_ratio"`
	// Mean is the column mean that was subtracted (of the normalised rows when
	// NormalizedRows is set).
	Mean []float64 `json:"mean"`
	// DimStd is the per-dimension standard deviation (N-1 denominator, as torch.std) of
	// the L2-normalised rows, whatever NormalizeRows says: the SimSiam paper's collapse
	// indicator, about 1/sqrt(d) when healthy and 0 when collapsed.
	DimStd []float64 `json:"dim_std"`
	// MeanDimStd is the mean of DimStd over dimensions.
	MeanDimStd float64 `json:"mean_dim_std"`
}

// Errors returned by Spectrum, for errors.Is.
var (
	// ErrShape reports an empty matrix, N < 2, d < 1 or len(x) != N*d.
	ErrShape = errors.New("collapse: bad matrix shape")
	// ErrNonFinite reports a NaN or Inf entry; the message names its row and column.
	ErrNonFinite = errors.New("collapse: non-finite value")
	// ErrEigen reports that the eigensolver or SVD did not converge.
	ErrEigen = errors.New("collapse: decomposition did not converge")
	// ErrRange reports finite features whose singular values do not fit in a
	// float64 (beyond ~1.8e308); the AUC and RankMe are scale-free, so dividing the
	// features by a constant gives the same metrics.
	ErrRange = errors.New("collapse: singular values exceed the float64 range")
)

// Spectrum computes the singular values of the column-centred n x d row-major matrix x
// (optionally L2-normalising rows first) and the collapse metrics of Result. x is not
// modified. It fails on an empty matrix, n < 2, d < 1, len(x) != n*d, or a NaN/Inf
// entry (the error names the first offending row).
//
// Finite entries of any magnitude are accepted: a matrix whose largest |entry| is
// beyond 2^30 or below 2^-30 is measured on a copy rescaled by a power of two (the
// metrics are scale-free) and its singular values and mean are reported in the
// original scale; if a singular value does not fit in a float64 the error is
// ErrRange. A copy costs len(x) more elements, only for such matrices.
func Spectrum[T Float](x []T, n, d int, opts Options) (*Result, error) {
	switch {
	case n < 2 || d < 1:
		return nil, fmt.Errorf("%w: need at least 2 rows and 1 column, got %d x %d", ErrShape, n, d)
	case len(x) != n*d:
		return nil, fmt.Errorf("%w: len(x) = %d, want n*d = %d*%d = %d", ErrShape, len(x), n, d, n*d)
	}
	if e := inputScale(x); e != 0 {
		r, err := spectrum(scaled(x, e), n, d, opts)
		if err != nil {
			return nil, err
		}
		if err := unscale(r, e); err != nil {
			return nil, err
		}
		return r, nil
	}
	r, err := spectrum(x, n, d, opts)
	if err != nil {
		return nil, err
	}
	if err := checkSingular(r.Singular); err != nil {
		return nil, err
	}
	return r, nil
}

// spectrum is Spectrum on a checked matrix of moderate magnitude.
func spectrum[T Float](x []T, n, d int, opts Options) (*Result, error) {
	var (
		st  *stats
		cov []float64
		err error
	)
	fast := opts.Method == MethodCovariance || opts.Method == MethodCovariance64
	if x32 := asFloat32(x); fast && x32 != nil {
		// float32 features: statistics and covariance in one read of x.
		var ok bool
		cov, st, ok = covarianceFused(x32, n, d, opts.NormalizeRows)
		if !ok {
			if _, err := rowStats(x, n, d, opts.NormalizeRows); err != nil {
				return nil, err
			}
			return nil, fmt.Errorf("%w: non-finite covariance", ErrNonFinite)
		}
	} else if st, err = rowStats(x, n, d, opts.NormalizeRows); err != nil {
		return nil, err
	}
	var sigma []float64
	switch opts.Method {
	case MethodCovariance, MethodCovariance64, MethodCovariance32:
		if opts.Method == MethodCovariance32 {
			cov = covariance32(x, n, d, st.mean, st.invNorm)
		} else if cov == nil {
			cov = covariance64(x, n, d, st.mean, st.invNorm)
		}
		lam, err := symEigenvalues(cov, d)
		if err != nil {
			return nil, err
		}
		sigma = make([]float64, d)
		for i, l := range lam {
			sigma[i] = math.Sqrt(math.Max(l, 0))
		}
	case MethodSVD:
		sigma, err = svdValues(x, n, d, st.mean, st.invNorm)
		if err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("collapse: unknown method %v", opts.Method)
	}
	slices.SortFunc(sigma, func(a, b float64) int { return cmp.Compare(b, a) })

	r := &Result{
		N: n, D: d, Method: opts.Method.String(), NormalizedRows: opts.NormalizeRows,
		Singular:           sigma,
		Explained:          ExplainedVariance(sigma),
		AUC:                AUC(sigma),
		RankMe:             RankMe(sigma),
		EffectiveRank:      EffectiveRank(sigma),
		ParticipationRatio: ParticipationRatio(sigma),
		Mean:               st.mean,
		DimStd:             st.dimStd,
	}
	for _, s := range st.dimStd {
		r.MeanDimStd += s
	}
	r.MeanDimStd /= float64(d)
	return r, nil
}

// svdValues returns the singular values of the centred (and optionally row-normalised)
// matrix via gonum's SVD.
func svdValues[T Float](x []T, n, d int, mean, invNorm []float64) ([]float64, error) {
	a := make([]float64, n*d)
	for i := 0; i < n; i++ {
		sc := 1.0
		if invNorm != nil {
			sc = invNorm[i]
		}
		row, out := x[i*d:(i+1)*d], a[i*d:(i+1)*d]
		for j, v := range row {
			out[j] = float64(v)*sc - mean[j]
		}
	}
	var svd mat.SVD
	if !svd.Factorize(mat.NewDense(n, d, a), mat.SVDNone) {
		return nil, ErrEigen
	}
	s := svd.Values(nil)
	// When n < d the SVD returns only n values; the rest are exactly zero.
	for len(s) < d {
		s = append(s, 0)
	}
	return s, nil
}
