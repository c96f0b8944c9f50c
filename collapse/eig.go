package collapse

import (
	"fmt"
	"math"

	"github.com/siam-ssl/siam/parallel"
	lapack "gonum.org/v1/gonum/lapack/gonum"
	"gonum.org/v1/gonum/mat"
)

// symEigenvalues returns the eigenvalues (ascending) of the symmetric d x d matrix
// whose upper triangle is stored row-major in a (the lower triangle is ignored); a
// is overwritten. It reduces the matrix to tridiagonal form with Householder
// reflections working on the upper triangle only (see tridiagonalize) and takes the
// eigenvalues of the tridiagonal matrix with LAPACK's dsterf (gonum). At d=512 it
// is ~10x faster than gonum's EigenSym; EigenSym remains the fallback if dsterf
// fails.
//
// The matrix is first multiplied by a power of four that brings its largest
// |entry| near 1 (exact, and undone on the eigenvalues): dsterf's own rescaling of
// matrices near the ends of the float64 range panics in gonum, and a matrix far
// from unit scale loses nothing by the change. A panic inside gonum is turned into
// ErrEigen rather than crashing the caller.
func symEigenvalues(a []float64, d int) (lam []float64, err error) {
	defer func() {
		if p := recover(); p != nil {
			lam, err = nil, fmt.Errorf("%w: symmetric eigensolver (d=%d): %v", ErrEigen, d, p)
		}
	}()
	var m float64
	for i := range d {
		for _, v := range a[i*d+i : (i+1)*d] {
			if f := math.Abs(v); !(f <= m) {
				m = f
			}
		}
	}
	if math.IsNaN(m) || math.IsInf(m, 0) {
		return nil, fmt.Errorf("%w: symmetric eigensolver (d=%d): the matrix holds %v", ErrEigen, d, m)
	}
	e := 0 // a is scaled by 4^-e = 2^(-2e)
	if m > 0 {
		_, be := math.Frexp(m)
		e = be / 2
	}
	if e != 0 {
		f := math.Ldexp(1, -2*e)
		for i := range d {
			row := a[i*d+i : (i+1)*d]
			for j := range row {
				row[j] *= f
			}
		}
	}
	orig := append([]float64(nil), a...)
	diag, off := tridiagonalize(a, d)
	if (lapack.Implementation{}).Dsterf(d, diag, off) {
		lam = diag
	} else {
		var es mat.EigenSym
		if !es.Factorize(mat.NewSymDense(d, orig), false) {
			return nil, fmt.Errorf("%w: symmetric eigensolver (d=%d)", ErrEigen, d)
		}
		lam = es.Values(nil)
	}
	for i := range lam {
		lam[i] = math.Ldexp(lam[i], 2*e)
	}
	return lam, nil
}

// tridiagGrain is the trailing-matrix size below which a tridiagonalisation step
// runs on one goroutine: under it, starting and waking a second goroutine (tens of
// microseconds on a VM) costs more than the share of the sweep it would take over.
// (A team of spinning helpers was faster on a quiet host, 7.4 vs 7.7 ms at d = 512,
// but 2-3x slower whenever another process held the second core.)
var tridiagGrain = 256

// tridiagonalize reduces the symmetric n x n matrix whose upper triangle is stored
// row-major in a (destroyed; the lower triangle is neither read nor written) to a
// similar tridiagonal matrix with diagonal diag and off-diagonal off, by n-2
// Householder reflections H = I - tau v v^T applied from both sides (LAPACK dsytd2).
//
// Step k needs p = tau B v_k for the trailing block B and then updates
// B -= v_k w_k^T + w_k v_k^T. The update of step k is deferred and fused into the
// sweep of step k+1: row k+1 is updated alone (it yields v_{k+1}), then one sweep
// over the remaining upper-triangle rows applies update k to each row and, while
// the row is in registers, adds its share of B v_{k+1} (a dot product for the row
// and an axpy for the column, kernels.Drank2Symv, AVX-512). So each step reads and
// writes each element of the upper triangle once: half the memory traffic and
// arithmetic of a full-storage sweep, and the 512 x 512 triangle (1 MiB) stays in
// the two cores' L2 caches. Rows are split between workers by equal work (the
// rows shorten down the triangle), each with its own p accumulator.
func tridiagonalize(a []float64, n int) (diag, off []float64) {
	diag, off = make([]float64, n), make([]float64, max(n-1, 0))
	if n == 1 {
		diag[0] = a[0]
		return diag, off
	}
	// Reflectors and update vectors are indexed by absolute column; (vp, wp) is the
	// update still pending on the trailing rows (zero before the first step).
	vp, wp := make([]float64, n), make([]float64, n)
	v, p := make([]float64, n), make([]float64, n)
	nw := parallel.Workers()
	pw := make([][]float64, nw)
	for i := range pw {
		pw[i] = make([]float64, n)
	}
	for k := 0; k < n-2; k++ {
		row := a[k*n+k : (k+1)*n]
		be().Rank2Dot(row, vp[k:], wp[k:], vp[k], wp[k], vp[k:])
		diag[k] = row[0]
		x := row[1:] // column k below the diagonal, by symmetry
		m := n - k - 1
		alpha := x[0]
		xnorm := norm2(x[1:])
		vv := v[k+1:]
		var tau float64
		if xnorm == 0 {
			off[k] = alpha
			clear(vv)
		} else {
			beta := -math.Copysign(math.Hypot(alpha, xnorm), alpha)
			tau = (beta - alpha) / beta
			sc := 1 / (alpha - beta)
			vv[0] = 1
			for i := 1; i < m; i++ {
				vv[i] = x[i] * sc
			}
			off[k] = beta
		}
		// One sweep: pending update on rows k+1.., and B v into per-worker sums
		// (each worker's sums are cleared once per step, before its first part).
		sweep := func(acc []float64, lo, hi int) {
			for i := k + 1 + lo; i < k+1+hi; i++ {
				r := a[i*n+i : (i+1)*n]
				ai, bi := vp[i], wp[i]
				x0 := r[0] - (ai*wp[i] + bi*vp[i])
				r[0] = x0
				s := x0 * v[i]
				if len(r) > 1 {
					s += be().Rank2Symv(r[1:], vp[i+1:], wp[i+1:], ai, bi, v[i+1:], v[i], acc[i+1:])
				}
				acc[i] += s
			}
		}
		for _, acc := range pw {
			clear(acc[k+1:])
		}
		used := 1
		if m >= tridiagGrain && nw > 1 {
			used = nw
			// Row t of the trailing block costs m-t: split at equal work.
			cut := func(c int) int { return m - int(math.Round(float64(m)*math.Sqrt(1-float64(c)/float64(nw)))) }
			parallel.ForWorker(nw, func(_, clo, chi int) {
				for c := clo; c < chi; c++ {
					sweep(pw[c], cut(c), cut(c+1))
				}
			})
		} else {
			sweep(pw[0], 0, m)
		}
		pp := p[k+1:]
		copy(pp, pw[0][k+1:])
		for c := 1; c < used; c++ {
			for i, s := range pw[c][k+1:] {
				pp[i] += s
			}
		}
		// w = tau*Bv - (tau/2)(tau*Bv . v) v, kept in p; (v, w) becomes the pending update.
		for i := range pp {
			pp[i] *= tau
		}
		c := -0.5 * tau * be().Ddot(pp, vv)
		for i := range pp {
			pp[i] += c * vv[i]
		}
		vp, v = v, vp
		wp, p = p, wp
	}
	for i := n - 2; i < n; i++ {
		r := a[i*n+i : (i+1)*n]
		be().Rank2Dot(r, vp[i:], wp[i:], vp[i], wp[i], vp[i:])
	}
	diag[n-2] = a[(n-2)*n+n-2]
	off[n-2] = a[(n-2)*n+n-1]
	diag[n-1] = a[n*n-1]
	return diag, off
}

// norm2 is the Euclidean norm with scaling against overflow.
func norm2(x []float64) float64 {
	var m float64
	for _, v := range x {
		m = math.Max(m, math.Abs(v))
	}
	if m == 0 || math.IsInf(m, 0) || math.IsNaN(m) {
		return m
	}
	var s float64
	for _, v := range x {
		s += (v / m) * (v / m)
	}
	return m * math.Sqrt(s)
}
