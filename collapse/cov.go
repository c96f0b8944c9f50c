package collapse

import (
	"math"
	"unsafe"

	"github.com/siam-ssl/siam/backend"
	_ "github.com/siam-ssl/siam/backend/cpu" // the default backend
	"github.com/siam-ssl/siam/parallel"
)

// covBlockRows is how many rows one float32 GEMM block sums before its result is
// added into the float64 accumulator. 512 keeps the float32 rounding of one block at
// ~1e-6 relative while making each GEMM large enough to run near peak.
const covBlockRows = 512

// covPanel is the width of the row panels of the upper-trapezoid split: computing
// only panels on or above the diagonal costs 5/8 of the full d x d product at d=512.
const covPanel = 128

// centreBlock writes rows [lo,hi) of x, scaled by invNorm (if any) and minus mean,
// into dst (row-major, d columns), as float32 or float64.
func centreBlock[T Float, U float32 | float64](dst []U, x []T, lo, hi, d int, mean, invNorm []float64) {
	for i := lo; i < hi; i++ {
		row := x[i*d : (i+1)*d]
		out := dst[(i-lo)*d : (i-lo+1)*d]
		m := mean[:len(row)]
		if invNorm == nil {
			for j, v := range row {
				out[j] = U(float64(v) - m[j])
			}
		} else {
			sc := invNorm[i]
			for j, v := range row {
				out[j] = U(float64(v)*sc - m[j])
			}
		}
	}
}

// covariance32 returns the d x d matrix Xc^T Xc (upper triangle filled; row-major),
// Xc the centred matrix, the fast-but-rough way of MethodCovariance32. Each worker takes a contiguous range of covBlockRows-row
// blocks: it centres a block into float32, runs float32 GEMMs over the upper panels
// and adds the block product into its own float64 accumulator; the accumulators are
// summed at the end. Rounding is float32 within a block, float64 across blocks.
func covariance32[T Float](x []T, n, d int, mean, invNorm []float64) []float64 {
	nb := (n + covBlockRows - 1) / covBlockRows
	accs := make([][]float64, parallel.Workers())
	parallel.ForWorker(nb, func(w, blo, bhi int) {
		acc := make([]float64, d*d)
		buf := make([]float32, covBlockRows*d)
		c := make([]float32, d*d)
		for b := blo; b < bhi; b++ {
			lo, hi := b*covBlockRows, min((b+1)*covBlockRows, n)
			rows := hi - lo
			centreBlock(buf, x, lo, hi, d, mean, invNorm)
			for i0 := 0; i0 < d; i0 += covPanel {
				i1 := min(i0+covPanel, d)
				// C[i0:i1, i0:d] = A[:, i0:i1]^T A[:, i0:d]
				be().Gemm(backend.GemmParams{TransA: true, M: i1 - i0, N: d - i0, K: rows, Alpha: 1, LDA: d, LDB: d, LDC: d},
					backend.HostBuffer(buf[i0:]), backend.HostBuffer(buf[i0:]), backend.HostBuffer(c[i0*d+i0:]))
				for i := i0; i < i1; i++ {
					a, cr := acc[i*d+i:(i+1)*d], c[i*d+i:(i+1)*d]
					for j, v := range cr {
						a[j] += float64(v)
					}
				}
			}
		}
		accs[w] = acc
	})
	return sumAccs(accs, d)
}

// covGrain is the row granularity of the float64 covariance split over workers:
// a multiple of the kernel's 128-row slab so that no worker ends on a short slab.
const covGrain = 1024

// covariance64 returns the d x d matrix Xc^T Xc (upper triangle filled; row-major),
// Xc the centred (optionally row-normalised) matrix, with every product and sum in
// float64: the rows are split into one contiguous range per worker, each worker
// runs kernels.Dgram32/Dgram64 (an AVX-512 float64 SYRK that centres and converts
// the rows while packing them) into its own accumulator, and the accumulators are
// summed. This is MethodCovariance (the default) and MethodCovariance64.
func covariance64[T Float](x []T, n, d int, mean, invNorm []float64) []float64 {
	nb := (n + covGrain - 1) / covGrain
	accs := make([][]float64, parallel.Workers())
	parallel.ForWorker(nb, func(w, blo, bhi int) {
		lo, hi := blo*covGrain, min(bhi*covGrain, n)
		acc := make([]float64, d*d)
		var sc []float64
		if invNorm != nil {
			sc = invNorm[lo:hi]
		}
		gram(x[lo*d:hi*d], hi-lo, d, sc, mean, acc)
		accs[w] = acc
	})
	return sumAccs(accs, d)
}

// gram adds the Gram matrix of the rows of x (scaled by sc, minus mean) into the
// upper triangle of acc, dispatching on the underlying element type.
func gram[T Float](x []T, rows, d int, sc, mean, acc []float64) {
	var z T
	switch any(z).(type) {
	case float32:
		backend.Default().Gram32(rows, d, any(x).([]float32), d, sc, mean, acc, d)
	case float64:
		backend.Default().Gram64(rows, d, any(x).([]float64), d, sc, mean, acc, d)
	default: // a named type: same memory layout as its underlying float
		if unsafe.Sizeof(z) == 4 {
			backend.Default().Gram32(rows, d, unsafe.Slice((*float32)(unsafe.Pointer(&x[0])), len(x)), d, sc, mean, acc, d)
		} else {
			backend.Default().Gram64(rows, d, unsafe.Slice((*float64)(unsafe.Pointer(&x[0])), len(x)), d, sc, mean, acc, d)
		}
	}
}

// sumAccs adds the per-worker upper triangles into the first non-nil accumulator.
func sumAccs(accs [][]float64, d int) []float64 {
	var out []float64
	for _, a := range accs {
		if a == nil {
			continue
		}
		if out == nil {
			out = a
			continue
		}
		for i := 0; i < d; i++ {
			o, s := out[i*d+i:(i+1)*d], a[i*d+i:(i+1)*d]
			for j, v := range s {
				o[j] += v
			}
		}
	}
	return out
}

// shiftSample is how many rows (evenly strided) estimate the provisional column
// mean that covarianceFused subtracts before the exact centring correction.
const shiftSample = 1024

// covarianceFused is covariance64 and rowStats in one read of a float32 matrix
// (kernels.Dgram32Stats): the rows are shifted by c, the column mean of an evenly
// strided sample of rows, and the exact centring follows from the column sums S of
// the shifted rows: Xc^T Xc = Y^T Y - S S^T / n, mean = c + S/n. Because c is
// already close to the mean, the correction is small and loses no accuracy in
// float64. It returns ok = false when x holds a NaN or Inf (the caller reruns
// rowStats for the error that names the row).
func covarianceFused(x []float32, n, d int, normalize bool) (cov []float64, st *stats, ok bool) {
	shift := make([]float64, d)
	ns := min(n, shiftSample)
	for s := range ns {
		row := x[(s*n/ns)*d : (s*n/ns+1)*d]
		sc := 1.0
		if normalize {
			var ss float64
			for _, v := range row {
				ss += float64(v) * float64(v)
			}
			sc = 1 / math.Max(math.Sqrt(ss), normEps)
		}
		for j, v := range row {
			shift[j] += float64(v) * sc
		}
	}
	for j := range shift {
		shift[j] /= float64(ns)
	}
	nb := (n + covGrain - 1) / covGrain
	w := parallel.Workers()
	accs := make([][]float64, w)
	sts := make([]*backend.GramStats, w)
	parallel.ForWorker(nb, func(wk, blo, bhi int) {
		lo, hi := blo*covGrain, min(bhi*covGrain, n)
		acc := make([]float64, d*d)
		s := &backend.GramStats{Sum: make([]float64, d), S1: make([]float64, d), S2: make([]float64, d)}
		backend.Default().Gram32Stats(hi-lo, d, x[lo*d:hi*d], d, normalize, shift, acc, d, s)
		accs[wk], sts[wk] = acc, s
	})
	cov = sumAccs(accs, d)
	sum, s1, s2 := make([]float64, d), make([]float64, d), make([]float64, d)
	for _, s := range sts {
		if s == nil {
			continue
		}
		for j := range d {
			sum[j] += s.Sum[j]
			s1[j] += s.S1[j]
			s2[j] += s.S2[j]
		}
	}
	for j := range d {
		if math.IsNaN(s1[j]) || math.IsInf(s1[j], 0) || math.IsNaN(sum[j]) || math.IsInf(sum[j], 0) {
			return nil, nil, false
		}
	}
	fn := float64(n)
	st = &stats{mean: make([]float64, d), dimStd: make([]float64, d)}
	for i := range d {
		st.mean[i] = shift[i] + sum[i]/fn
		m1 := s1[i] / fn
		st.dimStd[i] = math.Sqrt(math.Max((s2[i]-fn*m1*m1)/(fn-1), 0))
		si := sum[i] / fn
		row := cov[i*d+i : (i+1)*d]
		for j := range row {
			row[j] -= si * sum[i+j]
		}
	}
	return cov, st, true
}

// asFloat32 returns x as a []float32 when its element type is float32 or a named
// type over it (same memory layout), else nil.
func asFloat32[T Float](x []T) []float32 {
	var z T
	if unsafe.Sizeof(z) != 4 || len(x) == 0 {
		return nil
	}
	return unsafe.Slice((*float32)(unsafe.Pointer(&x[0])), len(x))
}

// be returns the backend collapse computes on (backend.Default: the CPU unless
// --device chose another).
func be() backend.Backend { return backend.Default() }
