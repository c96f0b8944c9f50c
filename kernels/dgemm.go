package kernels

import (
	"sync"
	"unsafe"
)

//go:generate go run -C internal/asmgen ./dgemm -out ../../zdgemm_amd64.s -stubs ../../zdgemm_amd64_stubs.go -pkg kernels

// dgramKC is the depth (rows of X) of one packed float64 slab: 128 rows x 512
// columns x 8 bytes = 512 KiB, half of a Zen 4 L2, so every micro-kernel call
// streams its 8-wide A panel from L2 while its B panels (24 KiB) sit in L1.
var dgramKC = 128

// dgramWS is one call's float64 workspace: the packed slab and the padded dp x dp
// accumulator.
type dgramWS struct{ p, c []float64 }

var dgramPool = sync.Pool{New: func() any { return new(dgramWS) }}

func growF64(s []float64, n int) []float64 {
	if cap(s) < n {
		return make([]float64, n)
	}
	return s[:n]
}

// Dgram32 adds to the upper triangle (j >= i) of the d x d row-major float64
// matrix c (row stride ldc) the Gram matrix Y^T Y of the rows x d matrix
//
//	Y[r][j] = scale[r]*float64(x[r*ldx+j]) - shift[j],
//
// with every product and sum in float64 (a float64 SYRK on the centred rows,
// converted on the fly; nothing of size rows x d is allocated). scale may be nil
// (all ones) and shift nil (all zeros). Entries of c below the diagonal are not
// touched. It runs on the calling goroutine: split the rows over workers, each
// with its own accumulator, to use several cores (package collapse does).
//
// On amd64 with AVX-512 the packing and an 8x24 float64 micro-kernel are
// assembly (about 55 GFLOP/s per core on Zen 4, which runs one 512-bit FMA per
// cycle); elsewhere a portable Go kernel computes the same sums.
func Dgram32(rows, d int, x []float32, ldx int, scale, shift []float64, c []float64, ldc int) {
	dgram(rows, d, x, ldx, scale, shift, c, ldc)
}

// Dgram64 is Dgram32 for float64 input.
func Dgram64(rows, d int, x []float64, ldx int, scale, shift []float64, c []float64, ldc int) {
	dgram(rows, d, x, ldx, scale, shift, c, ldc)
}

func dgram[T float32 | float64](rows, d int, x []T, ldx int, scale, shift []float64, c []float64, ldc int) {
	switch {
	case rows < 0 || d < 0:
		panic("kernels: negative Dgram dimension")
	case rows == 0 || d == 0:
		return
	case ldx < d || len(x) < (rows-1)*ldx+d:
		panic("kernels: Dgram x too short or ldx < d")
	case ldc < d || len(c) < (d-1)*ldc+d:
		panic("kernels: Dgram c too short or ldc < d")
	case scale != nil && len(scale) < rows:
		panic("kernels: Dgram scale shorter than rows")
	case shift != nil && len(shift) < d:
		panic("kernels: Dgram shift shorter than d")
	}
	if shift == nil {
		shift = make([]float64, d)
	}
	dgramRun(rows, d, c, ldc, func(r0, kr, ps int, pk []float64) {
		var sc []float64
		if scale != nil {
			sc = scale[r0 : r0+kr]
		}
		dgramPack(kr, d, x[r0*ldx:], ldx, sc, shift, pk, ps)
	}, func(r0 int) (unsafe.Pointer, int, int) {
		var z T
		sz := int(unsafe.Sizeof(z))
		return unsafe.Pointer(&x[r0*ldx]), ldx * sz, d * sz
	})
}

// dgramRun is the slab loop shared by the Dgram functions: for each slab of up to
// dgramKC rows it calls pack(r0, kr, ps, pk) to fill the packed panels (panel q at
// pk[q*ps:], ps = 8*kr), runs the micro-kernels over the upper triangle of a
// padded accumulator, and finally adds that triangle into c.
//
// next, if not nil, is the memory of the rows of the slab starting at row r0 (kr
// rows, row stride ldxBytes bytes, rowBytes used): while a slab's micro-kernels run,
// the next slab's rows are prefetched into L2 a few at a time, so that packing
// reads them from cache instead of waiting on DRAM.
func dgramRun(rows, d int, c []float64, ldc int, pack func(r0, kr, ps int, pk []float64), next func(r0 int) (p unsafe.Pointer, ldxBytes, rowBytes int)) {
	dp := (d + 7) &^ 7
	nq := dp / 8
	kc := dgramKC
	ws := dgramPool.Get().(*dgramWS)
	defer dgramPool.Put(ws)
	ws.c = growF64(ws.c, dp*dp)
	clear(ws.c)
	ws.p = growF64(ws.p, dp*min(kc, rows))
	acc, pk := ws.c, ws.p
	for r0 := 0; r0 < rows; r0 += kc {
		kr := min(kc, rows-r0)
		ps := kr * 8
		pack(r0, kr, ps, pk)
		// Prefetch plan for the next slab: its rows spread over the column blocks.
		var pre unsafe.Pointer
		var preLd, preLines, preRow, preRows int
		if r1 := r0 + kr; next != nil && hasVec512 && r1 < rows {
			var rowBytes int
			pre, preLd, rowBytes = next(r1)
			preLines = (rowBytes + 63) / 64
			preRows = min(kc, rows-r1)
		}
		nblk := (nq + 2) / 3
		// Column blocks of 24 (three panels); row tiles of 8 strictly above the
		// block run the full 8x24 kernel, the three tiles that meet the diagonal
		// start at their own panel (8x24, 8x16, 8x8), so only the 8x8 diagonal
		// blocks do any work below the diagonal (1.6% extra at d = 512).
		for jq := 0; jq < nq; jq += 3 {
			nv := min(3, nq-jq)
			for iq := 0; iq < jq; iq++ {
				dgramKern(nv, kr, pk[iq*ps:], pk[jq*ps:], ps, acc[iq*8*dp+jq*8:], dp)
			}
			for iq := jq; iq < jq+nv; iq++ {
				dgramKern(jq+nv-iq, kr, pk[iq*ps:], pk[iq*ps:], ps, acc[iq*8*dp+iq*8:], dp)
			}
			if pre != nil {
				for end := (jq/3 + 1) * preRows / nblk; preRow < end; preRow++ {
					dprefetch((*byte)(unsafe.Add(pre, preRow*preLd)), preLines)
				}
			}
		}
	}
	for i := 0; i < d; i++ {
		dst, src := c[i*ldc+i:i*ldc+d], acc[i*dp+i:i*dp+d]
		for j, v := range src {
			dst[j] += v
		}
	}
}

// dgramPack writes rows x d of Y (see Dgram32) into 8-wide panels:
// dst[q*ps + r*8 + l] = Y[r][8q+l], zero for columns d..dp.
func dgramPack[T float32 | float64](rows, d int, x []T, ldx int, scale, shift, dst []float64, ps int) {
	if hasVec512 && d%8 == 0 {
		one := 1.0
		sp, ss := &one, 0
		if scale != nil {
			sp, ss = &scale[0], 1
		}
		switch xx := any(x).(type) {
		case []float32:
			dgramPack32(rows, d/8, &xx[0], ldx, sp, ss, &shift[0], &dst[0], ps)
			return
		case []float64:
			dgramPack64(rows, d/8, &xx[0], ldx, sp, ss, &shift[0], &dst[0], ps)
			return
		}
	}
	dp := (d + 7) &^ 7
	for r := 0; r < rows; r++ {
		s := 1.0
		if scale != nil {
			s = scale[r]
		}
		row := x[r*ldx : r*ldx+d]
		for j, v := range row {
			dst[(j>>3)*ps+r*8+j&7] = float64(v)*s - shift[j]
		}
		for j := d; j < dp; j++ {
			dst[(j>>3)*ps+r*8+j&7] = 0
		}
	}
}

// dgramKern runs the 8 x 8nv micro-kernel: for p < k,
// C[i][8j+l] += a[p*8+i] * b[j*bs + p*8 + l], C with row stride ldc.
func dgramKern(nv, k int, a, b []float64, bs int, c []float64, ldc int) {
	if hasVec512 {
		switch nv {
		case 1:
			dgramKern8x8(k, &a[0], &b[0], bs, &c[0], ldc)
		case 2:
			dgramKern8x16(k, &a[0], &b[0], bs, &c[0], ldc)
		default:
			dgramKern8x24(k, &a[0], &b[0], bs, &c[0], ldc)
		}
		return
	}
	dgramKernGo(nv, k, a, b, bs, c, ldc)
}

// dgramKernGo is the portable micro-kernel: 8 x 8nv accumulators, 4 x 8 at a time.
func dgramKernGo(nv, k int, a, b []float64, bs int, c []float64, ldc int) {
	for j := 0; j < nv; j++ {
		bp := b[j*bs : j*bs+k*8]
		for i0 := 0; i0 < 8; i0 += 4 {
			var acc [4][8]float64
			for p := 0; p < k; p++ {
				bb := (*[8]float64)(bp[p*8 : p*8+8])
				aa := (*[4]float64)(a[p*8+i0 : p*8+i0+4])
				for i := range 4 {
					av, r := aa[i], &acc[i]
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
			for i := range 4 {
				row := c[(i0+i)*ldc+8*j : (i0+i)*ldc+8*j+8]
				for l, v := range acc[i] {
					row[l] += v
				}
			}
		}
	}
}

// IndexGreater writes base+j for every j with x[j] > thr, in increasing j, to idx
// and returns how many it wrote. idx must have room for len(x)+16 entries (the
// AVX-512 path stores whole 16-lane vectors). NaN never passes. It is the
// vectorised filter behind a streaming top-k: with a good threshold almost every
// 64-value group costs four compares and one branch.
func IndexGreater(x []float32, thr float32, base int32, idx []int32) int {
	if len(idx) < len(x)+16 {
		panic("kernels: IndexGreater idx shorter than len(x)+16")
	}
	n := 0
	if hasVec512 {
		n16 := len(x) &^ 15
		if n16 > 0 {
			n = filterGT512(n16, &x[0], thr, base, &idx[0])
		}
		x16 := x[n16:]
		for j, v := range x16 {
			if v > thr {
				idx[n] = base + int32(n16+j)
				n++
			}
		}
		return n
	}
	for j, v := range x {
		if v > thr {
			idx[n] = base + int32(j)
			n++
		}
	}
	return n
}
