package kernels

import "github.com/siam-ssl/siam/parallel"

// This file (float32, despite the dgemm prefix that marks the k-NN/collapse
// additions to the package) exposes the float32 GEMM micro-kernels for products
// that reuse one operand many times — the similarity blocks of a k-NN search,
// queries x keys^T — so that the keys are packed once instead of once per GEMM
// call, and the caller can consume each register tile's block while it is in
// cache.

// PackedKeys is an n x dim row-major matrix of keys packed once into the
// micro-kernel's B-panel layout (PanelWidth keys per panel, depth-major; the last
// panel zero-padded), ready for MulTile.
type PackedKeys struct {
	im     *gemmImpl
	n, dim int
	data   []float32
}

// PackKeys packs the n x dim row-major matrix keys for MulTile, on all cores. It
// allocates about 4*n*dim bytes.
func PackKeys(keys []float32, n, dim int) *PackedKeys {
	if n < 0 || dim < 1 || len(keys) < n*dim {
		panic("kernels: PackKeys: keys shorter than n*dim or dim < 1")
	}
	im := active
	nr := im.nr
	np := (n + nr - 1) / nr
	pk := &PackedKeys{im: im, n: n, dim: dim, data: make([]float32, np*nr*dim)}
	parallel.ForGrain(np, 16, func(lo, hi int) {
		for j := lo; j < hi; j++ {
			packB(im, pk.data[j*nr*dim:], keys, dim, true, j*nr, min(nr, n-j*nr), 0, dim)
		}
	})
	return pk
}

// PanelWidth is how many keys one packed panel holds: MulTile's key ranges start
// on multiples of it, and its output rows are written in whole panels.
func (pk *PackedKeys) PanelWidth() int { return pk.im.nr }

// Len returns the number of keys.
func (pk *PackedKeys) Len() int { return pk.n }

// PackedQueries is an m x dim row-major matrix of queries packed into register
// tiles (A panels) of up to MaxTileRows rows, ready for MulTile.
type PackedQueries struct {
	im     *gemmImpl
	m, dim int
	tiles  []int // rows of tile t
	row0   []int // first row of tile t
	data   []float32
}

// PackQueries packs the m x dim row-major matrix q into register tiles of
// balanced height (at most MaxTileRows), on the calling goroutine.
func PackQueries(q []float32, m, dim int) *PackedQueries {
	if m < 0 || dim < 1 || len(q) < m*dim {
		panic("kernels: PackQueries: q shorter than m*dim or dim < 1")
	}
	im := active
	pq := &PackedQueries{im: im, m: m, dim: dim, data: make([]float32, m*dim)}
	if m == 0 {
		return pq
	}
	pq.tiles = rowTiles(m, im.mrMax, nil)
	i0 := 0
	for _, mr := range pq.tiles {
		pq.row0 = append(pq.row0, i0)
		packA(im, pq.data[i0*dim:], q, dim, false, i0, mr, 0, dim)
		i0 += mr
	}
	return pq
}

// Tiles returns the number of register tiles.
func (pq *PackedQueries) Tiles() int { return len(pq.tiles) }

// Tile returns the first query row of tile t and its number of rows.
func (pq *PackedQueries) Tile(t int) (row0, rows int) { return pq.row0[t], pq.tiles[t] }

// MaxTileRows is the tallest register tile PackQueries makes.
func (pq *PackedQueries) MaxTileRows() int { return pq.im.mrMax }

// MulTile writes the dot products of the queries of tile t with keys [k0, k1):
// c[i*ldc + j] = query[row0+i] . key[k0+j] for i < rows, j < k1-k0, each a single
// float32 FMA chain over the full depth (so a value does not depend on the tile
// or key range it was computed in). k0 must be a multiple of PanelWidth. Whole
// panels are written: columns k1-k0 up to the next multiple of PanelWidth get the
// products with the keys beyond k1 (or with zero padding keys), so ldc and c must
// leave room for them.
func MulTile(pq *PackedQueries, t int, pk *PackedKeys, k0, k1 int, c []float32, ldc int) {
	im := pq.im
	nr := im.nr
	if pk.im != im || pk.dim != pq.dim {
		panic("kernels: MulTile: queries and keys packed differently")
	}
	if k0%nr != 0 || k0 < 0 || k1 > pk.n || k1 < k0 {
		panic("kernels: MulTile: bad key range")
	}
	row0, mr := pq.row0[t], pq.tiles[t]
	w := (k1 - k0 + nr - 1) / nr * nr
	if ldc < w || len(c) < (mr-1)*ldc+w {
		panic("kernels: MulTile: c too short for whole panels")
	}
	dim := pq.dim
	a := pq.data[row0*dim:]
	kern := im.kern[mr]
	for j := k0; j < k1; j += nr {
		kern(dim, &a[0], &pk.data[j*dim], &c[j-k0], ldc, 1, 0)
	}
}
