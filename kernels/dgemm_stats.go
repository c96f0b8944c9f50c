package kernels

import (
	"math"
	"unsafe"
)

// DgramStats holds the per-column sums that Dgram32Stats accumulates next to the
// Gram matrix; each slice has (at least) d entries and is added into.
type DgramStats struct {
	// Sum accumulates sum_r Y[r][j], the column sums of the shifted rows.
	Sum []float64
	// S1 and S2 accumulate sum_r z and sum_r z^2 with z = x[r][j]/||x[r]||, the
	// first two moments of the L2-normalised rows (norm clamped to 1e-12).
	S1, S2 []float64
}

// Dgram32Stats is Dgram32 fused with one statistics pass, so that a feature matrix
// is read from memory once: for every row r it computes ||x[r]|| in float64 and
// inv = 1/max(||x[r]||, 1e-12), takes scale s = inv when normalize (else 1), adds
// the Gram matrix of Y[r][j] = s*x[r][j] - shift[j] into the upper triangle of c
// (as Dgram32) and adds Y and the moments of the normalised row into st. shift
// must have d entries (a cheap estimate of the column mean keeps the later
// centring correction c -= Sum Sum^T / rows well conditioned). A NaN or Inf
// anywhere in x shows up as a NaN in st.S1 (and c); the caller checks.
func Dgram32Stats(rows, d int, x []float32, ldx int, normalize bool, shift []float64, c []float64, ldc int, st *DgramStats) {
	switch {
	case rows < 0 || d < 0:
		panic("kernels: negative Dgram dimension")
	case rows == 0 || d == 0:
		return
	case ldx < d || len(x) < (rows-1)*ldx+d:
		panic("kernels: Dgram x too short or ldx < d")
	case ldc < d || len(c) < (d-1)*ldc+d:
		panic("kernels: Dgram c too short or ldc < d")
	case len(shift) < d || len(st.Sum) < d || len(st.S1) < d || len(st.S2) < d:
		panic("kernels: Dgram32Stats shift or statistics shorter than d")
	}
	if !hasVec512 || d%8 != 0 {
		// Portable: a statistics pass that yields the scales, then Dgram32.
		var scale []float64
		if normalize {
			scale = make([]float64, rows)
		}
		for r := 0; r < rows; r++ {
			row := x[r*ldx : r*ldx+d]
			var ss float64
			for _, v := range row {
				ss += float64(v) * float64(v)
			}
			inv := 1 / math.Max(math.Sqrt(ss), 1e-12)
			s := 1.0
			if normalize {
				scale[r], s = inv, inv
			}
			for j, v := range row {
				f := float64(v)
				z := f * inv
				st.Sum[j] += f*s - shift[j]
				st.S1[j] += z
				st.S2[j] += z * z
			}
		}
		Dgram32(rows, d, x, ldx, scale, shift, c, ldc)
		return
	}
	nrm := 0
	if normalize {
		nrm = 1
	}
	sums := make([]float64, 3*d)
	rs := make([]float64, 2*min(rows, dgramKC)) // per-row scale and 1/norm of a slab
	dgramRun(rows, d, c, ldc, func(r0, kr, ps int, pk []float64) {
		dgramPackStats32(kr, d/8, &x[r0*ldx], ldx, nrm, &shift[0], &pk[0], ps, &sums[0], &rs[0])
	}, func(r0 int) (unsafe.Pointer, int, int) {
		return unsafe.Pointer(&x[r0*ldx]), 4 * ldx, 4 * d
	})
	for j := 0; j < d; j++ {
		st.Sum[j] += sums[j]
		st.S1[j] += sums[d+j]
		st.S2[j] += sums[2*d+j]
	}
}
