package kernels

import "sync"

// PackedA is op(A) packed once into the micro-kernels' row-panel layout, so that
// many products sharing the left operand (a convolution's weights, multiplied by
// every image's column matrix) pay for the packing once instead of once per call.
// It is read-only after PackA and may be used by several goroutines at once; hand it
// back with Release when done. A PackedA is tied to the GEMM implementation active
// when it was packed.
type PackedA struct {
	im    *gemmImpl
	m, k  int
	tiles []int
	// data holds, for each depth block p0 (multiples of gemmKC), the row tiles of
	// rows [0, m) and depth [p0, p0+kc) tile after tile at data[m*p0:].
	data []float32
	kc   int // the depth block it was packed with
}

var packedAPool = sync.Pool{New: func() any { return new(PackedA) }}

// PackA packs op(A) (m x k; A stored m x k, or k x m when transA, row stride lda)
// for SgemmPackedA and SgemmPackedAFunc. The storage is pooled: steady-state
// PackA/Release pairs allocate nothing.
func PackA(transA bool, m, k int, a []float32, lda int) *PackedA {
	if m < 0 || k < 0 {
		panic("kernels: negative PackA dimension")
	}
	if m > 0 && k > 0 {
		ar, ac := m, k
		if transA {
			ar, ac = k, m
		}
		if lda < ac || len(a) < (ar-1)*lda+ac {
			panic("kernels: A too short or lda too small")
		}
	}
	im := active
	pa := packedAPool.Get().(*PackedA)
	pa.im, pa.m, pa.k, pa.kc = im, m, k, gemmKC
	pa.tiles = rowTiles(max(m, 1), im.mrMax, pa.tiles[:0])
	pa.data = grow(pa.data, m*k)
	if m == 0 || k == 0 {
		return pa
	}
	for p0 := 0; p0 < k; p0 += pa.kc {
		packATiles(im, pa.data[m*p0:], a, lda, transA, pa.tiles, 0, p0, min(pa.kc, k-p0))
	}
	return pa
}

// Release hands the packed storage back to the pool; pa must not be used after.
func (pa *PackedA) Release() {
	if pa != nil {
		pa.im = nil
		packedAPool.Put(pa)
	}
}

// Rows returns m, the rows of op(A).
func (pa *PackedA) Rows() int { return pa.m }

// Depth returns k, the columns of op(A).
func (pa *PackedA) Depth() int { return pa.k }

// PanelWidth returns nr, the width of the B panels a BPacker fills.
func (pa *PackedA) PanelWidth() int { return pa.im.nr }

// BPacker fills dst (kc*nr floats, nr = PanelWidth) with a panel of op(B):
// dst[p*nr+j] = op(B)[p0+p, j0+j] for p < kc and j < nb. Columns nb..nr of a ragged
// last panel are ignored and may be left unwritten. It lets a caller build op(B)
// on the fly (an implicit im2col) instead of materialising it.
type BPacker func(dst []float32, j0, nb, p0, kc int)

// SgemmPackedA computes C = alpha*op(A)*op(B) + beta*C on the calling goroutine
// with op(A) pre-packed by PackA; op(B) is k x n (B stored n x k when transB, row
// stride ldb) and C is m x n with row stride ldc. When beta == 0, C is only written.
func SgemmPackedA(pa *PackedA, transB bool, n int, alpha float32, b []float32, ldb int, beta float32, c []float32, ldc int) {
	m, k := pa.m, pa.k
	checkC(m, n, c, ldc)
	if m == 0 || n == 0 {
		return
	}
	if k > 0 {
		br, bc := k, n
		if transB {
			br, bc = n, k
		}
		if ldb < bc || len(b) < (br-1)*ldb+bc {
			panic("kernels: B too short or ldb too small")
		}
	}
	if k == 0 || alpha == 0 {
		scaleC(m, n, beta, c, ldc)
		return
	}
	ws := wsPool.Get().(*workspace)
	sgemmPacked(pa, ws, n, alpha, nil, b, ldb, transB, beta, c, ldc)
	wsPool.Put(ws)
}

// SgemmPackedAFunc is SgemmPackedA with op(B) (k x n) produced panel by panel by
// pack, each panel packed once per call right before the micro-kernels use it.
func SgemmPackedAFunc(pa *PackedA, n int, alpha float32, pack BPacker, beta float32, c []float32, ldc int) {
	m, k := pa.m, pa.k
	checkC(m, n, c, ldc)
	if m == 0 || n == 0 {
		return
	}
	if k == 0 || alpha == 0 {
		scaleC(m, n, beta, c, ldc)
		return
	}
	ws := wsPool.Get().(*workspace)
	sgemmPacked(pa, ws, n, alpha, pack, nil, 0, false, beta, c, ldc)
	wsPool.Put(ws)
}

func checkC(m, n int, c []float32, ldc int) {
	if n < 0 {
		panic("kernels: negative GEMM dimension")
	}
	if m > 0 && n > 0 && (ldc < n || len(c) < (m-1)*ldc+n) {
		panic("kernels: C too short or ldc < n")
	}
}

// sgemmPacked is the blocked GEMM over a pre-packed A (k > 0, alpha != 0). Rows
// fitting one MC block sweep each B panel right after it is packed into L1-sized
// scratch; taller A packs a kc x NC block of B (kept in L2) and sweeps it with MC
// row chunks of A. Either way each B element is packed once per call.
//
// B panels come from fn when it is non-nil, else from the stored matrix b (kept
// as separate parameters so that fn does not escape: b reaches indirect calls).
func sgemmPacked(pa *PackedA, ws *workspace, n int, alpha float32, fn BPacker, b []float32, ldb int, transB bool, beta float32, c []float32, ldc int) {
	im := pa.im
	m, k, KC := pa.m, pa.k, pa.kc
	nr, MC, NC := im.nr, max(gemmMC, im.mrMax), gemmNC
	NC = (NC + nr - 1) / nr * nr
	kcMax := min(k, KC)
	ws.t = grow(ws.t, im.mrMax*nr)
	tiles := pa.tiles
	if m <= MC {
		ws.b = grow(ws.b, kcMax*nr)
		for jc := 0; jc < n; jc += NC {
			jcEnd := min(n, jc+NC)
			for p0 := 0; p0 < k; p0 += KC {
				kc := min(KC, k-p0)
				bet := beta
				if p0 > 0 {
					bet = 1
				}
				ap := pa.data[m*p0:]
				for j0 := jc; j0 < jcEnd; j0 += nr {
					nb := min(nr, jcEnd-j0)
					if fn != nil {
						fn(ws.b[:kc*nr], j0, nb, p0, kc)
					} else {
						packB(im, ws.b, b, ldb, transB, j0, nb, p0, kc)
					}
					off, i0 := 0, 0
					for _, mr := range tiles {
						runTile(im, ws, kc, mr, nb, ap[off:], ws.b, alpha, bet, c, ldc, i0, j0)
						off += mr * kc
						i0 += mr
					}
				}
			}
		}
		return
	}
	ncMax := min(NC, (n+nr-1)/nr*nr)
	ws.b = grow(ws.b, kcMax*ncMax)
	for j0 := 0; j0 < n; j0 += NC {
		nc := min(NC, n-j0)
		for p0 := 0; p0 < k; p0 += KC {
			kc := min(KC, k-p0)
			bet := beta
			if p0 > 0 {
				bet = 1
			}
			for jj := 0; jj < nc; jj += nr {
				if fn != nil {
					fn(ws.b[jj*kc:(jj+nr)*kc], j0+jj, min(nr, nc-jj), p0, kc)
				} else {
					packB(im, ws.b[jj*kc:], b, ldb, transB, j0+jj, min(nr, nc-jj), p0, kc)
				}
			}
			ap := pa.data[m*p0:]
			// Row chunks of about MC rows, on tile boundaries.
			t0, off0, i00 := 0, 0, 0
			for t0 < len(tiles) {
				t1, rows := t0, 0
				for t1 < len(tiles) && (rows == 0 || rows+tiles[t1] <= MC) {
					rows += tiles[t1]
					t1++
				}
				for jj := 0; jj < nc; jj += nr {
					nb := min(nr, nc-jj)
					bp := ws.b[jj*kc:]
					off, i0 := off0, i00
					for _, mr := range tiles[t0:t1] {
						runTile(im, ws, kc, mr, nb, ap[off:], bp, alpha, bet, c, ldc, i0, j0+jj)
						off += mr * kc
						i0 += mr
					}
				}
				off0 += rows * kc
				i00 += rows
				t0 = t1
			}
		}
	}
}

// RowOffsets is a validated table of row offsets for PackRows: its smallest and
// largest entries are recorded once, so each PackRows call checks its bounds in
// constant time.
type RowOffsets struct {
	offs   []int
	lo, hi int
}

// NewRowOffsets wraps offs (not copied; it must not change while in use).
func NewRowOffsets(offs []int) RowOffsets {
	t := RowOffsets{offs: offs}
	if len(offs) > 0 {
		t.lo, t.hi = offs[0], offs[0]
		for _, o := range offs {
			t.lo = min(t.lo, o)
			t.hi = max(t.hi, o)
		}
	}
	return t
}

// Len returns the number of rows in the table.
func (t *RowOffsets) Len() int { return len(t.offs) }

// Max returns the largest offset in the table (0 when empty).
func (t *RowOffsets) Max() int { return t.hi }

// PackRows gathers rows: dst[i*ldd+j] = src[off+t[r0+i]+j] for i < rows, j < n.
// With the B panel width as ldd (PackedA.PanelWidth) and n <= ldd it fills n
// columns of a BPacker panel from rows at arbitrary offsets: an implicit im2col.
// It uses masked AVX-512 moves where available (n <= 32).
func PackRows(dst []float32, ldd int, src []float32, off int, t *RowOffsets, r0, rows, n int) {
	if rows <= 0 || n <= 0 {
		return
	}
	if r0 < 0 || r0+rows > len(t.offs) || n > ldd || len(dst) < (rows-1)*ldd+n ||
		off+t.lo < 0 || off+t.hi+n > len(src) {
		panic("kernels: PackRows out of range")
	}
	offs := t.offs[r0 : r0+rows]
	if hasVec512 && n <= 32 {
		packRows512(rows, &src[off], &offs[0], n, &dst[0], ldd)
		return
	}
	for i, o := range offs {
		copy(dst[i*ldd:i*ldd+n], src[off+o:off+o+n])
	}
}

// PackRowsT packs a transposed panel from rows at arbitrary offsets:
// dst[p*nr+j] = src[t[r0+j] + runs[p/run] + p%run] for j < nb <= nr, p < kc, with
// len(runs) >= ceil(kc/run). Read as a BPacker panel it is op(B) = X^T for the
// matrix X whose row r0+j starts at t[r0+j] and whose columns come in runs of run
// contiguous floats starting at the offsets in runs (the weight gradient of a
// convolution: X its implicit column matrix, the depth its output pixels). The
// AVX-512 path (nr == 32, run 16, 8 or 4, kc a multiple of 16, 32 table rows from r0)
// transposes 16x16 blocks in registers; columns nb..nr of its panel then hold
// copies of real rows (ignored by the GEMM).
func PackRowsT(dst []float32, nr int, src []float32, t *RowOffsets, r0, nb int, runs []int, run, kc int) {
	if nb <= 0 || kc <= 0 {
		return
	}
	nRuns := (kc + run - 1) / run
	if run <= 0 || nb > nr || r0 < 0 || r0+nb > len(t.offs) || len(runs) < nRuns || len(dst) < (kc-1)*nr+nb {
		panic("kernels: PackRowsT out of range")
	}
	rlo, rhi := runs[0], runs[0]
	for _, o := range runs[:nRuns] {
		rlo, rhi = min(rlo, o), max(rhi, o)
	}
	if rlo+t.lo < 0 || rhi+t.hi+run > len(src) {
		panic("kernels: PackRowsT out of range")
	}
	if hasVec512 && nr == 32 && kc%16 == 0 && r0+32 <= len(t.offs) {
		switch run {
		case 16:
			packRowsT512(kc/16, &src[0], &t.offs[r0], &runs[0], &dst[0])
			return
		case 8:
			packRowsT512r8(kc/16, &src[0], &t.offs[r0], &runs[0], &dst[0])
			return
		case 4:
			packRowsT512r4(kc/16, &src[0], &t.offs[r0], &runs[0], &dst[0])
			return
		}
	}
	for j, o := range t.offs[r0 : r0+nb] {
		for p := 0; p < kc; p++ {
			dst[p*nr+j] = src[o+runs[p/run]+p%run]
		}
	}
}

// SgemmPackB computes C = alpha*op(A)*op(B) + beta*C on the calling goroutine with
// op(A) (m x k; A stored k x m when transA, row stride lda) packed per call and
// op(B) (k x n) produced panel by panel by pack (see SgemmPackedAFunc).
func SgemmPackB(transA bool, m, n, k int, alpha float32, a []float32, lda int, pack BPacker, beta float32, c []float32, ldc int) {
	checkC(m, n, c, ldc)
	if m == 0 || n == 0 {
		return
	}
	if k == 0 || alpha == 0 {
		scaleC(m, n, beta, c, ldc)
		return
	}
	pa := PackA(transA, m, k, a, lda)
	SgemmPackedAFunc(pa, n, alpha, pack, beta, c, ldc)
	pa.Release()
}

// PanelWidth returns nr, the width of the B panels a BPacker fills for the GEMM
// implementation now active.
func PanelWidth() int { return active.nr }

// PackRowsSeg packs whole 32-wide panels whose columns come in equal runs:
// dst[i*32+k*run+j] = src[segs[k]+t[r0+i]+j] for i < rows, k < 32/run (len(segs)),
// j < run, run 16, 8 or 4. It is PackRows for all the runs of a panel at once (an
// implicit im2col over small images, where one panel spans several output rows),
// one panel row per step on AVX-512.
func PackRowsSeg(dst []float32, src []float32, t *RowOffsets, r0, rows int, segs []int, run int) {
	if rows <= 0 {
		return
	}
	if (run != 16 && run != 8 && run != 4) || len(segs) != 32/run || r0 < 0 || r0+rows > len(t.offs) || len(dst) < rows*32 {
		panic("kernels: PackRowsSeg out of range")
	}
	slo, shi := segs[0], segs[0]
	for _, o := range segs {
		slo, shi = min(slo, o), max(shi, o)
	}
	if slo+t.lo < 0 || shi+t.hi+run > len(src) {
		panic("kernels: PackRowsSeg out of range")
	}
	offs := t.offs[r0 : r0+rows]
	if hasVec512 {
		switch run {
		case 16:
			packRowsSeg512r16(rows, &src[0], &offs[0], &segs[0], &dst[0])
		case 8:
			packRowsSeg512r8(rows, &src[0], &offs[0], &segs[0], &dst[0])
		default:
			packRowsSeg512r4(rows, &src[0], &offs[0], &segs[0], &dst[0])
		}
		return
	}
	for i, o := range offs {
		row := dst[i*32 : i*32+32]
		for k, so := range segs {
			copy(row[k*run:(k+1)*run], src[so+o:so+o+run])
		}
	}
}
