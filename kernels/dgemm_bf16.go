package kernels

import (
	"math"

	"github.com/siam-ssl/siam/parallel"
)

//go:generate go run -C internal/asmgen ./bf16 -out ../../zdgemm_bf16_amd64.s -stubs ../../zdgemm_bf16_amd64_stubs.go -pkg kernels

// bfloat16 screening for k-NN. Zen 4's VDPBF16PS does 32 multiply-adds per 512-bit
// instruction at the rate of a 16-lane float32 FMA, so similarity blocks computed
// from bfloat16 copies of queries and keys cost half the float32 GEMM. They are
// only approximate: a caller uses them to discard keys that provably cannot beat
// its threshold (BF16ErrorBound) and recomputes the survivors exactly.

const (
	bf16NR = 32 // keys per packed panel
	bf16MR = 12 // tallest query tile
)

// BF16Fast reports whether MulTile16 runs the AVX512-BF16 assembly (otherwise it
// is a portable Go loop with the same results, far slower than float32 MulTile).
func BF16Fast() bool { return hasBF16 }

// BF16ErrorBound returns c such that a MulTile16 value s~ and the exact dot product
// s of the same float32 rows satisfy |s~ - s| <= c*||q||*||k|| for depth dim: the
// bfloat16 rounding of both operands (round to nearest even, relative error 2^-8
// each, so 2^-7 + 2^-16 per product, summed against sum|q_i k_i| <= ||q|| ||k||)
// plus the float32 accumulation over dim products (dim * 2^-24 relative to the
// same sum), with a 1% margin and an absolute allowance for flushed denormals.
func BF16ErrorBound(dim int) float64 {
	u := math.Ldexp(1, -8)
	return 1.01 * ((2*u+u*u)*(1+float64(dim+2)*math.Ldexp(1, -24)) + float64(dim+2)*math.Ldexp(1, -24))
}

// BF16AccumulationBound returns g such that a float32 dot product of depth dim,
// computed in any order (a MulTile16 lane, kernels.Dot, a GEMM), is within
// g*sum|x_i y_i| of the exact real value of the same float32 products:
// (dim+2)*2^-24 with a 1% margin.
func BF16AccumulationBound(dim int) float64 { return 1.01 * float64(dim+2) * math.Ldexp(1, -24) }

// BF16Norms returns, in float64, the Euclidean norms of x, of its bfloat16
// rounding x~ (as MulTile16 sees it) and of the rounding error x~ - x. They give a
// much tighter screening margin than BF16ErrorBound: for the exact real products,
//
//	|q~.k~ - q.k| = |(q~-q).k~ + q.(k~-k)| <= ||q~-q||*||k~|| + ||q||*||k~-k||,
//
// and each float32 evaluation adds at most BF16AccumulationBound(dim) times
// ||q~||*||k~|| (the screen) or ||q||*||k|| (an exact float32 dot product).
func BF16Norms(x []float32) (norm, rounded, err float64) {
	for _, v := range x {
		f := float64(v)
		r := float64(fromBF16(toBF16(v)))
		norm += f * f
		rounded += r * r
		err += (r - f) * (r - f)
	}
	return math.Sqrt(norm), math.Sqrt(rounded), math.Sqrt(err)
}

// toBF16 rounds f to bfloat16 (nearest even), returned in the low 16 bits.
func toBF16(f float32) uint32 {
	b := math.Float32bits(f)
	if f != f { // NaN stays NaN
		return b>>16 | 0x40
	}
	return (b + 0x7FFF + (b>>16)&1) >> 16
}

// fromBF16 widens a bfloat16 to float32.
func fromBF16(h uint32) float32 { return math.Float32frombits(h << 16) }

// pairBF16 packs x[p] and x[p+1] (0 beyond len(x)) as one 32-bit lane: the low
// half is the even depth, as VDPBF16PS pairs them.
func pairBF16(x []float32, p int) uint32 {
	lo := toBF16(x[p])
	var hi uint32
	if p+1 < len(x) {
		hi = toBF16(x[p+1])
	}
	return lo | hi<<16
}

// PackedKeys16 is an n x dim key matrix rounded to bfloat16 and packed in 32-key
// panels of depth pairs for MulTile16.
type PackedKeys16 struct {
	n, dim, kp int
	data       []uint32
}

// PackKeys16 rounds the n x dim row-major keys to bfloat16 and packs them for
// MulTile16, on all cores (2*n*dim bytes).
func PackKeys16(keys []float32, n, dim int) *PackedKeys16 {
	if n < 0 || dim < 1 || len(keys) < n*dim {
		panic("kernels: PackKeys16: keys shorter than n*dim or dim < 1")
	}
	kp := (dim + 1) / 2
	np := (n + bf16NR - 1) / bf16NR
	pk := &PackedKeys16{n: n, dim: dim, kp: kp, data: make([]uint32, np*bf16NR*kp)}
	parallel.ForGrain(np, 16, func(lo, hi int) {
		for j := lo; j < hi; j++ {
			panel := pk.data[j*bf16NR*kp : (j+1)*bf16NR*kp]
			for jj := 0; jj < bf16NR && j*bf16NR+jj < n; jj++ {
				row := keys[(j*bf16NR+jj)*dim : (j*bf16NR+jj+1)*dim]
				for pp := 0; pp < kp; pp++ {
					panel[pp*bf16NR+jj] = pairBF16(row, 2*pp)
				}
			}
		}
	})
	return pk
}

// PanelWidth is how many keys one packed panel holds (32): MulTile16's key ranges
// start on multiples of it and its output rows are written in whole panels.
func (pk *PackedKeys16) PanelWidth() int { return bf16NR }

// PackedQueries16 is an m x dim query matrix rounded to bfloat16 and packed in
// register tiles of balanced height (at most 12) for MulTile16.
type PackedQueries16 struct {
	m, dim, kp int
	tiles      []int
	row0       []int
	data       []uint32
}

// PackQueries16 rounds the m x dim row-major queries to bfloat16 and packs them
// into register tiles, on the calling goroutine.
func PackQueries16(q []float32, m, dim int) *PackedQueries16 {
	if m < 0 || dim < 1 || len(q) < m*dim {
		panic("kernels: PackQueries16: q shorter than m*dim or dim < 1")
	}
	kp := (dim + 1) / 2
	pq := &PackedQueries16{m: m, dim: dim, kp: kp, data: make([]uint32, m*kp)}
	if m == 0 {
		return pq
	}
	pq.tiles = rowTiles(m, bf16MR, nil)
	i0 := 0
	for _, mr := range pq.tiles {
		pq.row0 = append(pq.row0, i0)
		t := pq.data[i0*kp : (i0+mr)*kp]
		for i := 0; i < mr; i++ {
			row := q[(i0+i)*dim : (i0+i+1)*dim]
			for pp := 0; pp < kp; pp++ {
				t[pp*mr+i] = pairBF16(row, 2*pp)
			}
		}
		i0 += mr
	}
	return pq
}

// Tiles returns the number of register tiles.
func (pq *PackedQueries16) Tiles() int { return len(pq.tiles) }

// Tile returns the first query row of tile t and its number of rows.
func (pq *PackedQueries16) Tile(t int) (row0, rows int) { return pq.row0[t], pq.tiles[t] }

// MaxTileRows is the tallest register tile PackQueries16 makes (12).
func (pq *PackedQueries16) MaxTileRows() int { return bf16MR }

// MulTile16 writes the bfloat16 dot products of the queries of tile t with keys
// [k0, k1): c[i*ldc + j] ~ query[row0+i] . key[k0+j], within BF16ErrorBound of the
// exact value (see there). k0 must be a multiple of 32; whole 32-key panels are
// written (columns up to the next multiple of 32 get the products with the keys
// beyond k1 or with zero padding), so ldc and c must leave room for them.
func MulTile16(pq *PackedQueries16, t int, pk *PackedKeys16, k0, k1 int, c []float32, ldc int) {
	if pk.dim != pq.dim {
		panic("kernels: MulTile16: queries and keys of different depth")
	}
	if k0%bf16NR != 0 || k0 < 0 || k1 > pk.n || k1 < k0 {
		panic("kernels: MulTile16: bad key range")
	}
	row0, mr := pq.row0[t], pq.tiles[t]
	w := (k1 - k0 + bf16NR - 1) / bf16NR * bf16NR
	if ldc < w || len(c) < (mr-1)*ldc+w {
		panic("kernels: MulTile16: c too short for whole panels")
	}
	kp := pq.kp
	a := pq.data[row0*kp : (row0+mr)*kp]
	for j := k0; j < k1; j += bf16NR {
		b := pk.data[j*kp : (j+bf16NR)*kp]
		if hasBF16 {
			bf16Kern[mr](kp, &a[0], &b[0], &c[j-k0], ldc)
			continue
		}
		bf16KernGo(mr, kp, a, b, c[j-k0:], ldc)
	}
}

// bf16KernGo is the portable screening kernel: the same products (exact in
// float32) and the same per-lane accumulation order as VDPBF16PS.
func bf16KernGo(mr, kp int, a, b []uint32, c []float32, ldc int) {
	for i := 0; i < mr; i++ {
		row := c[i*ldc : i*ldc+bf16NR]
		for j := range row {
			var acc float32
			for pp := 0; pp < kp; pp++ {
				x, y := a[pp*mr+i], b[pp*bf16NR+j]
				acc += fromBF16(x>>16) * fromBF16(y>>16)
				acc += fromBF16(x&0xFFFF) * fromBF16(y&0xFFFF)
			}
			row[j] = acc
		}
	}
}
