// Copyright 2026 The siam authors. Use of this source code is governed by
// the BSD-style licence in LICENSE.

package jpeg

import "math"

// zigOf maps a natural-order coefficient index to its zig-zag index (the
// inverse of unzig), to find a coefficient's quantiser.
var zigOf = func() (z [blockSize]int) {
	for i, n := range unzig {
		z[n] = i
	}
	return z
}()

// scaledBasis[m][x*m+u] is C(u)/2 * cos((2x+1)u*pi/(2m)) for an m-point
// reduced IDCT (C(0) = 1/sqrt 2, else 1), m = 1, 2, 4.
var scaledBasis = func() (t [5][]float32) {
	for _, m := range []int{1, 2, 4} {
		t[m] = make([]float32, m*m)
		for x := 0; x < m; x++ {
			for u := 0; u < m; u++ {
				c := 1.0
				if u == 0 {
					c = 1 / math.Sqrt2
				}
				t[m][x*m+u] = float32(c / 2 * math.Cos(float64(2*x+1)*float64(u)*math.Pi/float64(2*m)))
			}
		}
	}
	return t
}()

// idctScaled writes the m x m reduced inverse DCT (m = 1, 2 or 4) of block
// b, whose coefficients are in natural order and not yet dequantised (qt is
// in zig-zag order), level-shifted by +128 and clipped, to dst. Only the
// m x m low-frequency coefficients are used: the result samples the block's
// band-limited reconstruction at the centres of its m x m cells, which is
// libjpeg's scaled decoding (f(x,y) = 1/4 sum C(u)C(v) F(v,u) cos cos on
// the coarse grid). b is left unchanged.
func idctScaled(b *block, qt *block, m int, dst []byte, stride int) {
	if m == 1 {
		v := float32(b[0]*qt[0])/8 + 128.5
		dst[0] = clip(v)
		return
	}
	t := scaledBasis[m]
	var f, tmp [16]float32
	for v := 0; v < m; v++ {
		for u := 0; u < m; u++ {
			n := v*8 + u
			f[v*m+u] = float32(b[n] * qt[zigOf[n]])
		}
	}
	// Rows: tmp[v][x] = sum_u F[v][u] T[x][u].
	for v := 0; v < m; v++ {
		for x := 0; x < m; x++ {
			var s float32
			for u := 0; u < m; u++ {
				s += f[v*m+u] * t[x*m+u]
			}
			tmp[v*m+x] = s
		}
	}
	// Columns: out[y][x] = sum_v T[y][v] tmp[v][x].
	for y := 0; y < m; y++ {
		row := dst[y*stride : y*stride+m]
		for x := range row {
			var s float32
			for v := 0; v < m; v++ {
				s += t[y*m+v] * tmp[v*m+x]
			}
			row[x] = clip(s + 128.5)
		}
	}
}

// clip rounds down a value already offset by +0.5 into [0, 255].
func clip(v float32) uint8 {
	if v <= 0 {
		return 0
	}
	if v >= 255 {
		return 255
	}
	return uint8(v)
}
