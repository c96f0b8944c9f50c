package kernels

import "unsafe"

// Drank2Dot applies a symmetric rank-2 row update and a dot product in one sweep:
// r[j] -= a*w[j] + b*v[j] for every j < len(r), then it returns sum_j r[j]*u[j] of
// the updated r. v, w and u must be at least as long as r. With a = b = 0 it is a
// dot product of r and u. It is the fused inner loop of a Householder
// tridiagonalisation on full row-major storage (apply reflection k to a row and
// multiply the row by reflector k+1 while the row is in registers); AVX-512 on
// amd64, portable Go elsewhere.
func Drank2Dot(r, v, w []float64, a, b float64, u []float64) float64 {
	n := len(r)
	v, w, u = v[:n], w[:n], u[:n]
	var s float64
	j := 0
	if hasVec512 && n >= 8 {
		j = n &^ 7
		s = drank2dot512(j, &r[0], &v[0], &w[0], a, b, &u[0])
	}
	var s0, s1 float64
	for ; j+2 <= n; j += 2 {
		x0 := r[j] - (a*w[j] + b*v[j])
		x1 := r[j+1] - (a*w[j+1] + b*v[j+1])
		r[j], r[j+1] = x0, x1
		s0 += x0 * u[j]
		s1 += x1 * u[j+1]
	}
	for ; j < n; j++ {
		x := r[j] - (a*w[j] + b*v[j])
		r[j] = x
		s0 += x * u[j]
	}
	return s + (s0 + s1)
}

// Ddot returns sum_i x[i]*y[i] in float64 (y at least as long as x).
func Ddot(x, y []float64) float64 {
	n := len(x)
	y = y[:n]
	if hasVec512 && n >= 8 {
		j := n &^ 7
		// a = b = 0: drank2dot512 rewrites x unchanged and returns the dot product.
		s := drank2dot512(j, &x[0], &y[0], &y[0], 0, 0, &y[0])
		for ; j < n; j++ {
			s += x[j] * y[j]
		}
		return s
	}
	var s0, s1, s2, s3 float64
	i := 0
	for ; i+4 <= n; i += 4 {
		s0 += x[i] * y[i]
		s1 += x[i+1] * y[i+1]
		s2 += x[i+2] * y[i+2]
		s3 += x[i+3] * y[i+3]
	}
	for ; i < n; i++ {
		s0 += x[i] * y[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// Drank2Symv is one row of a deferred symmetric rank-2 update fused with that
// row's part of a symmetric matrix-vector product on upper-triangle storage: for
// every j < len(r), x = r[j] - (a*wp[j] + b*vp[j]) is stored back into r[j] and
// added, times vi, into p[j]; the return value is sum_j x*v[j]. vp, wp, v and p
// must be at least as long as r. AVX-512 on amd64, portable Go elsewhere.
func Drank2Symv(r, vp, wp []float64, a, b float64, v []float64, vi float64, p []float64) float64 {
	n := len(r)
	vp, wp, v, p = vp[:n], wp[:n], v[:n], p[:n]
	var s float64
	j := 0
	if hasVec512 && n >= 8 {
		// Peel the elements before r's first 64-byte boundary into a masked head.
		head := int(-uintptr(unsafe.Pointer(&r[0]))/8) & 7
		j = head + (n-head)&^7
		s = drank2symv512(j, head, &r[0], &vp[0], &wp[0], a, b, &v[0], vi, &p[0])
	}
	var s0, s1 float64
	for ; j+2 <= n; j += 2 {
		x0 := r[j] - (a*wp[j] + b*vp[j])
		x1 := r[j+1] - (a*wp[j+1] + b*vp[j+1])
		r[j], r[j+1] = x0, x1
		p[j] += vi * x0
		p[j+1] += vi * x1
		s0 += x0 * v[j]
		s1 += x1 * v[j+1]
	}
	for ; j < n; j++ {
		x := r[j] - (a*wp[j] + b*vp[j])
		r[j] = x
		p[j] += vi * x
		s0 += x * v[j]
	}
	return s + (s0 + s1)
}

// PrefetchL1 hints the CPU to load x into the L1 cache (no effect without the
// amd64 assembly): issue it for a row a few iterations ahead in a gather loop
// (for instance the keys a k-NN rescoring will read next) so that its DRAM
// latency overlaps the current work.
func PrefetchL1(x []float32) {
	if len(x) > 0 {
		dprefetch0((*byte)(unsafe.Pointer(&x[0])), (len(x)*4+63)/64)
	}
}
