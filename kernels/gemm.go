package kernels

import (
	"sync"
	"unsafe"

	"github.com/siam-ssl/siam/parallel"
)

//go:generate go run -C internal/asmgen . -out ../../zasm_amd64.s -stubs ../../zasm_amd64_stubs.go -pkg kernels

// kernFn is a packed-panel micro-kernel: for an mr x nr tile,
// C = alpha*(Apanel x Bpanel) + beta*C over k steps, where Apanel is k x mr
// (p-major) and Bpanel is k x nr (p-major). C is not read when beta == 0.
type kernFn func(k int, a, b, c *float32, ldc int, alpha, beta float32)

// gemmImpl is one instruction-set flavour of the blocked GEMM.
type gemmImpl struct {
	name  string
	nr    int      // register-tile width (packed B panel width)
	mrMax int      // tallest register tile
	kern  []kernFn // kern[mr] for mr in 1..mrMax
	// packBFull packs a full nr-wide panel (optional; nil = Go).
	packBN func(kc int, b *float32, ldb int, dst *float32)
	packBT func(kc int, b *float32, ldb int, dst *float32)
	// packA packs an mr-row panel (optional; nil = Go).
	packAN func(kc int, a *float32, lda int, mr int, dst *float32)
	packAT func(kc int, a *float32, lda int, mr int, dst *float32)
}

// Blocking parameters (elements). KC is the depth of one packed block; MC the rows of
// a packed A block (kept in L2); NC the columns of a packed B block.
var (
	gemmKC = 256
	gemmMC = 144
	gemmNC = 512
)

// active is the implementation Sgemm uses; chosen at init from the CPU features.
var active *gemmImpl

// workspace holds one goroutine's packing buffers; pooled so steady-state calls
// do not allocate.
type workspace struct {
	a, b, t []float32
}

var wsPool = sync.Pool{New: func() any { return new(workspace) }}

func grow(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}

func checkArgs(transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	if m < 0 || n < 0 || k < 0 {
		panic("kernels: negative GEMM dimension")
	}
	if m == 0 || n == 0 {
		return
	}
	if ldc < n || len(c) < (m-1)*ldc+n {
		panic("kernels: C too short or ldc < n")
	}
	if k == 0 {
		return
	}
	ar, ac := m, k
	if transA {
		ar, ac = k, m
	}
	if lda < ac || len(a) < (ar-1)*lda+ac {
		panic("kernels: A too short or lda too small")
	}
	br, bc := k, n
	if transB {
		br, bc = n, k
	}
	if ldb < bc || len(b) < (br-1)*ldb+bc {
		panic("kernels: B too short or ldb too small")
	}
}

// scaleC sets C = beta*C (C = 0 when beta == 0, without reading C).
func scaleC(m, n int, beta float32, c []float32, ldc int) {
	for i := 0; i < m; i++ {
		row := c[i*ldc : i*ldc+n]
		if beta == 0 {
			clear(row)
		} else if beta != 1 {
			Scale(beta, row)
		}
	}
}

// Sgemm computes C = alpha*op(A)*op(B) + beta*C on the calling goroutine, row-major,
// op(X) = X or X^T; op(A) is m x k, op(B) is k x n, C is m x n with row stride ldc.
// A is stored m x k (k x m when transA) with row stride lda, B k x n (n x k when
// transB) with row stride ldb. When beta == 0, C is only written (NaNs in C are
// ignored). Use it inside a parallel loop (e.g. one image per worker); use SgemmPar
// for one large product.
func Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	checkArgs(transA, transB, m, n, k, a, lda, b, ldb, c, ldc)
	if m == 0 || n == 0 {
		return
	}
	if k == 0 || alpha == 0 {
		scaleC(m, n, beta, c, ldc)
		return
	}
	ws := wsPool.Get().(*workspace)
	sgemmBlocked(active, ws, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
	wsPool.Put(ws)
}

// rowTiles splits m rows into register tiles of balanced height <= mrMax.
func rowTiles(m, mrMax int, dst []int) []int {
	t := (m + mrMax - 1) / mrMax
	base, extra := m/t, m%t
	dst = dst[:0]
	for i := 0; i < t; i++ {
		if i < extra {
			dst = append(dst, base+1)
		} else {
			dst = append(dst, base)
		}
	}
	return dst
}

// packA packs rows [i0, i0+mr) and depth [p0, p0+kc) of op(A) into dst (p-major, mr wide).
func packA(im *gemmImpl, dst, a []float32, lda int, transA bool, i0, mr, p0, kc int) {
	if !transA {
		if im.packAN != nil {
			im.packAN(kc, &a[i0*lda+p0], lda, mr, &dst[0])
			return
		}
		for i := 0; i < mr; i++ {
			row := a[(i0+i)*lda+p0 : (i0+i)*lda+p0+kc]
			for p, v := range row {
				dst[p*mr+i] = v
			}
		}
		return
	}
	if im.packAT != nil {
		im.packAT(kc, &a[p0*lda+i0], lda, mr, &dst[0])
		return
	}
	for p := 0; p < kc; p++ {
		copy(dst[p*mr:p*mr+mr], a[(p0+p)*lda+i0:(p0+p)*lda+i0+mr])
	}
}

// packATiles packs consecutive row tiles starting at row i0 for depth block
// [p0, p0+kc) into dst, tile after tile.
func packATiles(im *gemmImpl, dst, a []float32, lda int, transA bool, tiles []int, i0, p0, kc int) {
	off := 0
	for _, mr := range tiles {
		packA(im, dst[off:], a, lda, transA, i0, mr, p0, kc)
		off += mr * kc
		i0 += mr
	}
}

// packB packs columns [j0, j0+nb) and depth [p0, p0+kc) of op(B) into dst as a
// kc x nr panel, zero-padding columns nb..nr.
func packB(im *gemmImpl, dst, b []float32, ldb int, transB bool, j0, nb, p0, kc int) {
	nr := im.nr
	if !transB {
		if nb == nr && im.packBN != nil {
			im.packBN(kc, &b[p0*ldb+j0], ldb, &dst[0])
			return
		}
		for p := 0; p < kc; p++ {
			d := dst[p*nr : p*nr+nr]
			copy(d, b[(p0+p)*ldb+j0:(p0+p)*ldb+j0+nb])
			clear(d[nb:])
		}
		return
	}
	if nb == nr && im.packBT != nil {
		// The assembly handles whole groups of 16 depth steps.
		k16 := kc &^ 15
		if k16 > 0 {
			im.packBT(k16, &b[j0*ldb+p0], ldb, &dst[0])
		}
		if k16 == kc {
			return
		}
		for j := 0; j < nb; j++ {
			row := b[(j0+j)*ldb+p0+k16 : (j0+j)*ldb+p0+kc]
			for p, v := range row {
				dst[(k16+p)*nr+j] = v
			}
		}
		return
	}
	if nb < nr {
		for p := 0; p < kc; p++ {
			clear(dst[p*nr+nb : p*nr+nr])
		}
	}
	for j := 0; j < nb; j++ {
		row := b[(j0+j)*ldb+p0 : (j0+j)*ldb+p0+kc]
		for p, v := range row {
			dst[p*nr+j] = v
		}
	}
}

// runTile applies the micro-kernel to one mr x nb tile of C at (i0, j0).
func runTile(im *gemmImpl, ws *workspace, kc, mr, nb int, ap, bp []float32, alpha, beta float32, c []float32, ldc, i0, j0 int) {
	if nb == im.nr {
		im.kern[mr](kc, &ap[0], &bp[0], &c[i0*ldc+j0], ldc, alpha, beta)
		return
	}
	nr := im.nr
	t := ws.t
	im.kern[mr](kc, &ap[0], &bp[0], &t[0], nr, 1, 0)
	for i := 0; i < mr; i++ {
		row := c[(i0+i)*ldc+j0 : (i0+i)*ldc+j0+nb]
		tr := t[i*nr : i*nr+nb]
		if beta == 0 {
			for j, v := range tr {
				row[j] = alpha * v
			}
		} else {
			for j, v := range tr {
				row[j] = alpha*v + beta*row[j]
			}
		}
	}
}

// sgemmBlocked is the single-goroutine blocked GEMM (k > 0, alpha != 0).
func sgemmBlocked(im *gemmImpl, ws *workspace, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	nr, KC, MC, NC := im.nr, gemmKC, gemmMC, gemmNC
	if MC < im.mrMax {
		MC = im.mrMax
	}
	NC = (NC + nr - 1) / nr * nr
	kcMax := min(k, KC)
	var tilesBuf [256]int
	ws.t = grow(ws.t, im.mrMax*nr)

	if m <= MC {
		// One A block: pack all of op(A) once (depth block by depth block), then for
		// each NC-wide column block (keeping that block of C in L2 across depth
		// blocks) pack each B panel into L1-sized scratch right before the register
		// tiles sweep it.
		// When op(A) is too big to keep packed (deep k), it is packed per depth
		// block inside a single column block instead.
		tiles := rowTiles(m, im.mrMax, tilesBuf[:0])
		fullA := m*k <= 1<<19
		ncStep := NC
		if fullA {
			ws.a = grow(ws.a, m*k)
			for p0 := 0; p0 < k; p0 += KC {
				packATiles(im, ws.a[m*p0:], a, lda, transA, tiles, 0, p0, min(KC, k-p0))
			}
		} else {
			ws.a = grow(ws.a, m*kcMax)
			ncStep = n
		}
		ws.b = grow(ws.b, kcMax*nr)
		for jc := 0; jc < n; jc += ncStep {
			jcEnd := min(n, jc+ncStep)
			for p0 := 0; p0 < k; p0 += KC {
				kc := min(KC, k-p0)
				bet := beta
				if p0 > 0 {
					bet = 1
				}
				aBase := m * p0
				if !fullA {
					aBase = 0
					packATiles(im, ws.a, a, lda, transA, tiles, 0, p0, kc)
				}
				for j0 := jc; j0 < jcEnd; j0 += nr {
					nb := min(nr, jcEnd-j0)
					packB(im, ws.b, b, ldb, transB, j0, nb, p0, kc)
					off, i0 := aBase, 0
					for _, mr := range tiles {
						runTile(im, ws, kc, mr, nb, ws.a[off:], ws.b, alpha, bet, c, ldc, i0, j0)
						off += mr * kc
						i0 += mr
					}
				}
			}
		}
		return
	}

	ncMax := min(NC, (n+nr-1)/nr*nr)
	ws.a = grow(ws.a, MC*kcMax)
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
				packB(im, ws.b[jj*kc:], b, ldb, transB, j0+jj, min(nr, nc-jj), p0, kc)
			}
			for ic := 0; ic < m; ic += MC {
				mc := min(MC, m-ic)
				tiles := rowTiles(mc, im.mrMax, tilesBuf[:0])
				packATiles(im, ws.a, a, lda, transA, tiles, ic, p0, kc)
				for jj := 0; jj < nc; jj += nr {
					nb := min(nr, nc-jj)
					bp := ws.b[jj*kc:]
					off, i0 := 0, ic
					for _, mr := range tiles {
						runTile(im, ws, kc, mr, nb, ws.a[off:], bp, alpha, bet, c, ldc, i0, j0+jj)
						off += mr * kc
						i0 += mr
					}
				}
			}
		}
	}
}

// partialPool holds K-split partial-sum buffers for SgemmPar.
var partialPool = sync.Pool{New: func() any { return new([]float32) }}

// SgemmPar is Sgemm split across all cores (parallel.Workers()). Normal shapes are
// split along N (or M when N is narrow); shapes with a small m x n and a deep k
// (e.g. the weight gradient of a convolution, M64 N576 K131072) are split along K,
// each worker summing into its own buffer, then reduced into C.
func SgemmPar(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	checkArgs(transA, transB, m, n, k, a, lda, b, ldb, c, ldc)
	if m == 0 || n == 0 {
		return
	}
	w := parallel.Workers()
	if k == 0 || alpha == 0 {
		parallel.For(m, func(lo, hi int) { scaleC(hi-lo, n, beta, c[lo*ldc:], ldc) })
		return
	}
	flops := 2 * float64(m) * float64(n) * float64(k)
	if w <= 1 || flops < 4e6 {
		Sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	im := active
	nr := im.nr
	panels := (n + nr - 1) / nr
	// Deep, small products: split K.
	if m*n <= 512*1024 && k >= 8*max(m, n) && k >= 2*gemmKC*w {
		sgemmSplitK(w, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	if panels >= 2*w || m < 2*w*im.mrMax {
		chunks := min(w, panels)
		parallel.For(chunks, func(lo, hi int) {
			for t := lo; t < hi; t++ {
				j0 := t * panels / chunks * nr
				j1 := min(n, (t+1)*panels/chunks*nr)
				if j1 <= j0 {
					continue
				}
				bOff := j0
				if transB {
					bOff = j0 * ldb
				}
				Sgemm(transA, transB, m, j1-j0, k, alpha, a, lda, b[bOff:], ldb, beta, c[j0:], ldc)
			}
		})
		return
	}
	chunks := w
	parallel.For(chunks, func(lo, hi int) {
		for t := lo; t < hi; t++ {
			i0 := t * m / chunks
			i1 := (t + 1) * m / chunks
			if i1 <= i0 {
				continue
			}
			aOff := i0 * lda
			if transA {
				aOff = i0
			}
			Sgemm(transA, transB, i1-i0, n, k, alpha, a[aOff:], lda, b, ldb, beta, c[i0*ldc:], ldc)
		}
	})
}

// sgemmSplitK runs SgemmPar's K split: worker 0 accumulates into C (with beta),
// the others into pooled m x n partial buffers that are then added into C.
func sgemmSplitK(w int, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	parts := make([]*[]float32, w)
	for i := 1; i < w; i++ {
		p := partialPool.Get().(*[]float32)
		*p = grow(*p, m*n)
		parts[i] = p
	}
	parallel.For(w, func(lo, hi int) {
		for t := lo; t < hi; t++ {
			// Split K on KC boundaries so every worker runs full depth blocks.
			blocks := (k + gemmKC - 1) / gemmKC
			p0 := min(k, t*blocks/w*gemmKC)
			p1 := min(k, (t+1)*blocks/w*gemmKC)
			aOff := p0
			if transA {
				aOff = p0 * lda
			}
			bOff := p0 * ldb
			if transB {
				bOff = p0
			}
			if t == 0 {
				if p1 == p0 {
					scaleC(m, n, beta, c, ldc)
					continue
				}
				Sgemm(transA, transB, m, n, p1-p0, alpha, a[aOff:], lda, b[bOff:], ldb, beta, c, ldc)
				continue
			}
			part := *parts[t]
			if p1 == p0 {
				clear(part)
				continue
			}
			Sgemm(transA, transB, m, n, p1-p0, alpha, a[aOff:], lda, b[bOff:], ldb, 0, part, n)
		}
	})
	parallel.For(m, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			row := c[i*ldc : i*ldc+n]
			for t := 1; t < w; t++ {
				Add(row, row, (*parts[t])[i*n:i*n+n])
			}
		}
	})
	for i := 1; i < w; i++ {
		partialPool.Put(parts[i])
	}
}

// goKern is the portable micro-kernel (tiles up to 4 x 8), used on other
// architectures, under the purego tag, and on amd64 without AVX2/FMA.
func goKern(mr int) kernFn {
	return func(k int, ap, bp, cp *float32, ldc int, alpha, beta float32) {
		const nr = 8
		a := unsafe.Slice(ap, k*mr)
		b := unsafe.Slice(bp, k*nr)
		var acc [4][nr]float32
		for p := 0; p < k; p++ {
			bb := (*[nr]float32)(b[p*nr : p*nr+nr])
			for i := 0; i < mr; i++ {
				av := a[p*mr+i]
				r := &acc[i]
				r[0] += av * bb[0]
				r[1] += av * bb[1]
				r[2] += av * bb[2]
				r[3] += av * bb[3]
				r[4] += av * bb[4]
				r[5] += av * bb[5]
				r[6] += av * bb[6]
				r[7] += av * bb[7]
			}
		}
		c := unsafe.Slice(cp, (mr-1)*ldc+nr)
		for i := 0; i < mr; i++ {
			row := c[i*ldc : i*ldc+nr]
			if beta == 0 {
				for j := range row {
					row[j] = alpha * acc[i][j]
				}
			} else {
				for j := range row {
					row[j] = alpha*acc[i][j] + beta*row[j]
				}
			}
		}
	}
}

var goImpl = &gemmImpl{
	name:  "go",
	nr:    8,
	mrMax: 4,
	kern:  []kernFn{nil, goKern(1), goKern(2), goKern(3), goKern(4)},
}
