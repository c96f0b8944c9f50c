package cpu

import (
	"sync"
	"sync/atomic"

	"github.com/siam-ssl/siam/kernels"
	"github.com/siam-ssl/siam/parallel"
)

// This file lowers convolutions to per-image (or per-group-of-images) GEMMs whose
// rows are output channels: out[M, G*P] = A[M, Cin*R*S] x col[Cin*R*S, G*P], where P
// is the number of output pixels of one image and G images sit side by side in the
// column matrix. Workers take whole groups, so every GEMM call is single-threaded
// and the packing buffers of kernels.Sgemm stay in one core's cache. G is 1 for
// large images (the GEMM writes straight into the NCHW output) and grows at 8x8 and
// 4x4 so the GEMM's N dimension stays a few tiles wide and the weights are not
// re-streamed for every 16-pixel image.
//
// Three lowerings share this machinery:
//   - forward: out = W x col per image or group. By default (convImplicit) the
//     column matrix is never materialised: the weights are packed once per call
//     (kernels.PackA) and each GEMM's B panels are packed straight from a
//     zero-bordered (at stride > 1 also phase-split) copy of the image
//     (forwardImplicit, kernels.PackRows). The older lowerings (im2col, and
//     forwardShift's strided views for stride 1) remain behind the knob;
//   - input gradient: a stride-1 convolution's is itself a stride-1 convolution of
//     dY with the flipped, channel-transposed kernel and runs through forward; a
//     strided one's is dcol = W^T x dY (W^T packed once per call) followed by
//     col2im (backwardData);
//   - weight gradient: dW += dY x col^T over images, the images split across
//     workers with per-worker partial sums (backwardWeights); by default its
//     transposed B panels are packed straight from the padded image as well
//     (backwardWeightsImplicit, kernels.PackRowsT).
//
// The implicit lowerings measured +20-50% GFLOP per CPU-second over the column
// matrix and shifted views on the ResNet-18 shapes of conv_bench_test.go (w16 and
// w64, all three passes), the 1x1 stride-2 shortcut about even.
//
// Measured choices (GFLOP per CPU-second, see conv_bench_test.go): the weight
// gradient with col as the transposed B operand beat col as A with dY transposed
// (84-90 vs 64 at 64 channels 32x32, 48 vs 24 at 16 channels); per-tap views for
// the weight gradient lost to the column matrix (47-65 vs 69-85).

// convGroup returns how many images of p output pixels each lowered GEMM takes
// (see ConvPolicy.TargetCols).
func (l *lowering) convGroup(p, n int) int {
	tc := l.pol.TargetCols
	if p >= tc {
		return 1
	}
	g := (tc + p - 1) / p
	// Keep at least one group per worker.
	if per := (n + parallel.Workers() - 1) / parallel.Workers(); g > per {
		g = per
	}
	return max(g, 1)
}

// The per-worker work buffers (column matrices, GEMM staging, padded images,
// weight-gradient partials) live in pools that persist across calls and steps, so
// steady-state convolutions allocate nothing and never fault fresh pages in. There
// is one pool per role: the requests of one role in one call all have the same
// size, so each role's pool settles on about one buffer per worker, each as large as
// the largest call needs.
const (
	bufCol  = iota // column matrices (and their gradients)
	bufOut         // GEMM output staging
	bufPad         // zero-bordered image copies, plane copies
	bufWtap        // per-tap weights
	bufDY          // gathered output gradients
	bufPart        // weight-gradient partial sums
	bufFlip        // flipped, channel-transposed kernels of a stride-1 input gradient
	bufRoles
)

var convPools [bufRoles]bufPool

// convPoolMisses counts pool requests that had to allocate (for tests).
var convPoolMisses atomic.Int64

func poolGet(role, n int) []float32 { return convPools[role].get(n) }

func poolPut(role int, b []float32) { convPools[role].put(b) }

// workBufs takes one buffer of n floats per worker from a role's pool, all before
// the workers start, so the number a call holds at once never depends on how the
// workers happen to overlap. need false gives nil buffers.
func workBufs(role, workers, n int, need bool) [][]float32 {
	bufs := make([][]float32, workers)
	if need {
		for i := range bufs {
			bufs[i] = poolGet(role, n)
		}
	}
	return bufs
}

// putWork hands the buffers of workBufs back.
func putWork(role int, bufs [][]float32) {
	for _, b := range bufs {
		if b != nil {
			poolPut(role, b)
		}
	}
}

type bufPool struct {
	mu   sync.Mutex
	free [][]float32
	big  int // the largest request so far
}

// get returns a buffer of n floats with arbitrary contents: the smallest pooled one
// that fits, or a new one with room for the largest request so far (so the pool
// settles within a step or two).
func (p *bufPool) get(n int) []float32 {
	p.mu.Lock()
	p.big = max(p.big, n)
	best := -1
	for i, b := range p.free {
		if cap(b) >= n && (best < 0 || cap(b) < cap(p.free[best])) {
			best = i
		}
	}
	if best >= 0 {
		b := p.free[best]
		last := len(p.free) - 1
		p.free[best] = p.free[last]
		p.free[last] = nil
		p.free = p.free[:last]
		p.mu.Unlock()
		return b[:n]
	}
	big := p.big
	p.mu.Unlock()
	convPoolMisses.Add(1)
	return make([]float32, n, big)
}

// put hands b back; the pool keeps at most Workers()+1 buffers, dropping the
// smallest, so it converges on a few buffers of the largest size in use.
func (p *bufPool) put(b []float32) {
	if cap(b) == 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.free) <= parallel.Workers() {
		p.free = append(p.free, b)
		return
	}
	small := 0
	for i, f := range p.free {
		if cap(f) < cap(p.free[small]) {
			small = i
		}
	}
	if cap(b) > cap(p.free[small]) {
		p.free[small] = b
	}
}

// convEpilogue is applied to each output row (channel) of a lowered GEMM while the
// row is still in cache: v += shift[m] (nil shift: none), then v += res at the row's
// place in the output (nil res: none; the residual join of a ResNet block), then
// max(v,0) if relu. A per-channel scale (folded batch norm) is folded into the
// weights instead. The order of the additions is that of the separate ops (bias or
// BN shift, then AddReLU), so the fused result is bit-identical to them.
type convEpilogue struct {
	shift []float32
	res   []float32 // same layout as the output
	relu  bool
}

func (e *convEpilogue) none() bool {
	return e == nil || (e.shift == nil && e.res == nil && !e.relu)
}

// apply runs the epilogue of channel m over row, which starts at element off of
// the output, with the vector kernels.
func (e *convEpilogue) apply(m, off int, row []float32) {
	switch {
	case e.res != nil:
		if e.shift != nil {
			addConst(row, e.shift[m])
		}
		r := e.res[off : off+len(row)]
		if e.relu {
			kernels.AddReLU(row, row, r)
		} else {
			kernels.Add(row, row, r)
		}
	case e.relu && e.shift != nil:
		kernels.ScaleShiftReLU(row, row, 1, e.shift[m]) // v*1+shift is exactly v+shift
	case e.shift != nil:
		addConst(row, e.shift[m])
	case e.relu:
		kernels.ReLU(row, row)
	}
}

// applyCopy writes dst = epilogue(src) for channel m, dst starting at element off
// of the output.
func (e *convEpilogue) applyCopy(m, off int, dst, src []float32) {
	copy(dst, src)
	if !e.none() {
		e.apply(m, off, dst)
	}
}

// convOnes is a block of ones for addConst.
var convOnes = func() []float32 {
	o := make([]float32, 256)
	for i := range o {
		o[i] = 1
	}
	return o
}()

// addConst adds c to every element of x (as axpy with a vector of ones, so it runs
// on the vector kernel).
func addConst(x []float32, c float32) {
	if c == 0 {
		return
	}
	for len(x) > 0 {
		n := min(len(x), len(convOnes))
		kernels.Axpy(c, convOnes[:n], x[:n])
		x = x[n:]
	}
}

// lowering describes one lowered convolution: src [n, cin, hin, win] convolved with
// an r x s kernel at the given stride and padding gives [n, m, ho, wo].
type lowering struct {
	n, cin, hin, win int
	r, s, stride     int
	padH, padW       int
	ho, wo           int
	pol              *ConvPolicy // the lowering choices (never nil once made by Backend)
}

func (l *lowering) kdim() int { return l.cin * l.r * l.s }
func (l *lowering) pix() int  { return l.ho * l.wo }

// identity reports whether the column matrix of one image is the image itself.
func (l *lowering) identity() bool {
	return l.r == 1 && l.s == 1 && l.stride == 1 && l.padH == 0 && l.padW == 0
}

// im2col writes the column matrix of one image img [cin, hin, win] into col, row
// (c*r+ky)*s+kx, columns [0, ho*wo) of a matrix with row stride ld; padding reads
// as zero. Strided convolutions first copy each input plane into planeBuf (hin*win
// floats; nil at stride 1): the strided reads skip rows, which defeats the hardware
// prefetcher and left a 1x1 stride-2 convolution waiting on memory, while one
// sequential copy streams (measured 28 -> 50 GFLOP/cpu-s).
func (l *lowering) im2col(img, col []float32, ld int, planeBuf []float32) {
	ho, wo, st := l.ho, l.wo, l.stride
	hin, win := l.hin, l.win
	for c := 0; c < l.cin; c++ {
		plane := img[c*hin*win : (c+1)*hin*win]
		if st > 1 {
			copy(planeBuf, plane)
			plane = planeBuf[:len(plane)]
		}
		for ky := 0; ky < l.r; ky++ {
			for kx := 0; kx < l.s; kx++ {
				row := ((c*l.r+ky)*l.s + kx) * ld
				dst := col[row : row+ho*wo]
				ix0 := kx - l.padW
				// Output columns whose input column lies inside the image.
				oxLo, oxHi := 0, wo
				if ix0 < 0 {
					oxLo = (-ix0 + st - 1) / st
				}
				if last := win - 1 - ix0; last < 0 {
					oxHi = 0
				} else if h := last/st + 1; h < oxHi {
					oxHi = h
				}
				oxLo = min(oxLo, wo)
				oxHi = max(oxHi, oxLo)
				if st == 1 && wo == win {
					l.im2colShift(plane, dst, ky, ix0, oxLo, oxHi)
					continue
				}
				for oy := 0; oy < ho; oy++ {
					d := dst[oy*wo : oy*wo+wo]
					iy := oy*st + ky - l.padH
					if iy < 0 || iy >= hin {
						clear(d)
						continue
					}
					srow := plane[iy*win : iy*win+win]
					clear(d[:oxLo])
					switch {
					case st == 1:
						copy(d[oxLo:oxHi], srow[oxLo+ix0:oxHi+ix0])
					case st == 2 && oxHi > oxLo:
						gather2(d[oxLo:oxHi], srow[oxLo*2+ix0:(oxHi-1)*2+ix0+1])
					default:
						for ox := oxLo; ox < oxHi; ox++ {
							d[ox] = srow[ox*st+ix0]
						}
					}
					clear(d[oxHi:])
				}
			}
		}
	}
}

// gather2 sets d[i] = s[2*i] (len(s) == 2*len(d)-1), unrolled so the bounds checks
// are paid once per four elements: the stride-2 im2col row.
func gather2(d, s []float32) {
	i := 0
	for ; i+4 <= len(d); i += 4 {
		s4 := s[2*i : 2*i+7 : 2*i+7]
		d4 := d[i : i+4 : i+4]
		d4[0], d4[1], d4[2], d4[3] = s4[0], s4[2], s4[4], s4[6]
	}
	for ; i < len(d); i++ {
		d[i] = s[2*i]
	}
}

// scatterAdd2 adds d[2*i] += s[i] (len(d) == 2*len(s)-1): the stride-2 col2im row.
func scatterAdd2(d, s []float32) {
	i := 0
	for ; i+4 <= len(s); i += 4 {
		d4 := d[2*i : 2*i+7 : 2*i+7]
		s4 := s[i : i+4 : i+4]
		d4[0] += s4[0]
		d4[2] += s4[1]
		d4[4] += s4[2]
		d4[6] += s4[3]
	}
	for ; i < len(s); i++ {
		d[2*i] += s[i]
	}
}

// im2colShift fills one column-matrix row dst [ho*wo] of a stride-1 convolution
// whose output is as wide as its input ("same" width): the row is then the input
// plane shifted by a constant offset, so one long copy does the work, followed by
// zeroing the rows and edge columns that fall in the padding.
func (l *lowering) im2colShift(plane, dst []float32, ky, ix0, oxLo, oxHi int) {
	wo, hin := l.wo, l.hin
	iy0 := ky - l.padH
	oyLo := min(max(0, -iy0), l.ho)
	oyHi := max(min(l.ho, hin-iy0), oyLo)
	start, end := oyLo*wo, oyHi*wo
	off := iy0*wo + ix0
	if start < end {
		s0, s1 := start+off, end+off
		a, z := start, end
		if s0 < 0 {
			a -= s0
			s0 = 0
		}
		if lim := hin * wo; s1 > lim {
			z -= s1 - lim
			s1 = lim
		}
		if a < z {
			copy(dst[a:z], plane[s0:s1])
		}
	}
	clear(dst[:start])
	clear(dst[end:])
	if oxLo == 0 && oxHi == wo {
		return
	}
	for oy := oyLo; oy < oyHi; oy++ {
		d := dst[oy*wo : oy*wo+wo]
		clear(d[:oxLo])
		clear(d[oxHi:])
	}
}

// col2im adds the column-matrix gradient col (row stride ld) of one image back into
// its image gradient img [cin, hin, win]: the adjoint of im2col. At stride 2 the
// rows of kernel columns kx and kx+1 land on alternate elements of the same input
// row: when their runs interleave they are added with one kernels.Interleave2Add
// (each element still receives its additions in the same order).
func (l *lowering) col2im(col []float32, ld int, img []float32) {
	ho, wo, st := l.ho, l.wo, l.stride
	hin, win := l.hin, l.win
	for c := 0; c < l.cin; c++ {
		plane := img[c*hin*win : (c+1)*hin*win]
		for ky := 0; ky < l.r; ky++ {
			for kx := 0; kx < l.s; kx++ {
				row := ((c*l.r+ky)*l.s + kx) * ld
				src := col[row : row+ho*wo]
				ix0 := kx - l.padW
				oxLo, oxHi := l.outCols(kx)
				if st == 2 && kx+1 < l.s {
					lo1, hi1 := l.outCols(kx + 1)
					a0, a1 := ix0+2*oxLo, ix0+1+2*lo1
					// Phase f starts first; its source row, column and run length.
					sf, ss := src, col[row+ld:row+ld+ho*wo]
					lf, ls, nf, ns := oxLo, lo1, oxHi-oxLo, hi1-lo1
					start := a0
					if a0 == a1+1 {
						sf, ss = ss, sf
						lf, ls, nf, ns = ls, lf, ns, nf
						start = a1
					}
					if (a1 == a0+1 || a0 == a1+1) && ns > 0 && (nf == ns || nf == ns+1) &&
						start >= 0 && start+nf+ns <= win {
						for oy := 0; oy < ho; oy++ {
							iy := oy*st + ky - l.padH
							if iy < 0 || iy >= hin {
								continue
							}
							d := plane[iy*win+start : iy*win+start+nf+ns]
							kernels.Interleave2Add(d, sf[oy*wo+lf:oy*wo+lf+nf], ss[oy*wo+ls:oy*wo+ls+ns])
						}
						kx++
						continue
					}
				}
				for oy := 0; oy < ho; oy++ {
					iy := oy*st + ky - l.padH
					if iy < 0 || iy >= hin {
						continue
					}
					s := src[oy*wo : oy*wo+wo]
					drow := plane[iy*win : iy*win+win]
					switch {
					case st == 1:
						d := drow[oxLo+ix0 : oxHi+ix0]
						kernels.Add(d, d, s[oxLo:oxHi])
					case st == 2 && oxHi > oxLo:
						scatterAdd2(drow[oxLo*2+ix0:(oxHi-1)*2+ix0+1], s[oxLo:oxHi])
					default:
						for ox := oxLo; ox < oxHi; ox++ {
							drow[ox*st+ix0] += s[ox]
						}
					}
				}
			}
		}
	}
}

// outCols returns the range [oxLo, oxHi) of the output columns whose input column
// ox*stride+kx-padW lies inside the image, for kernel column kx.
func (l *lowering) outCols(kx int) (oxLo, oxHi int) {
	st, wo, ix0 := l.stride, l.wo, kx-l.padW
	oxLo, oxHi = 0, wo
	if ix0 < 0 {
		oxLo = (-ix0 + st - 1) / st
	}
	if last := l.win - 1 - ix0; last < 0 {
		oxHi = 0
	} else if h := last/st + 1; h < oxHi {
		oxHi = h
	}
	oxLo = min(oxLo, wo)
	oxHi = max(oxHi, oxLo)
	return oxLo, oxHi
}

// forward computes dst [n, m, ho, wo] from src with the weight matrix a [m, kdim]:
// written through the epilogue ep (may be nil), or added to dst when accumulate is
// set (ep must then be nil).
func (l *lowering) forward(src, a []float32, m int, dst []float32, accumulate bool, ep *convEpilogue) {
	p, kd := l.pix(), l.kdim()
	inSz := l.cin * l.hin * l.win
	outSz := m * p
	g := l.convGroup(p, l.n)
	if l.pol.Implicit && !(g == 1 && l.identity()) {
		l.forwardImplicit(src, a, m, dst, accumulate, ep)
		return
	}
	if g == 1 && l.shiftable() {
		l.forwardShift(src, a, m, dst, accumulate, ep)
		return
	}
	groups := (l.n + g - 1) / g
	nw := min(parallel.Workers(), groups)
	colBufs := workBufs(bufCol, nw, kd*g*p, g > 1 || !l.identity())
	defer putWork(bufCol, colBufs)
	tmps := workBufs(bufOut, nw, m*g*p, g > 1)
	defer putWork(bufOut, tmps)
	planes := workBufs(bufPad, nw, l.hin*l.win, l.stride > 1)
	defer putWork(bufPad, planes)
	parallel.ForWorker(groups, func(w, lo, hi int) {
		col, tmp, planeBuf := colBufs[w], tmps[w], planes[w]
		for gi := lo; gi < hi; gi++ {
			n0 := gi * g
			gn := min(g, l.n-n0)
			cols := gn * p
			if g == 1 {
				img := src[n0*inSz : (n0+1)*inSz]
				b := img
				if col != nil {
					l.im2col(img, col, p, planeBuf)
					b = col
				}
				out := dst[n0*outSz : (n0+1)*outSz]
				beta := float32(0)
				if accumulate {
					beta = 1
				}
				kernels.Sgemm(false, false, m, p, kd, 1, a, kd, b, p, beta, out, p)
				if !accumulate && !ep.none() {
					for mi := 0; mi < m; mi++ {
						ep.apply(mi, n0*outSz+mi*p, out[mi*p:(mi+1)*p])
					}
				}
				continue
			}
			for j := 0; j < gn; j++ {
				img := src[(n0+j)*inSz : (n0+j+1)*inSz]
				l.im2col(img, col[j*p:], cols, planeBuf)
			}
			kernels.Sgemm(false, false, m, cols, kd, 1, a, kd, col, cols, 0, tmp, cols)
			for j := 0; j < gn; j++ {
				out := dst[(n0+j)*outSz : (n0+j+1)*outSz]
				for mi := 0; mi < m; mi++ {
					t := tmp[mi*cols+j*p : mi*cols+j*p+p]
					o := out[mi*p : (mi+1)*p]
					if accumulate {
						kernels.Add(o, o, t)
					} else {
						ep.applyCopy(mi, (n0+j)*outSz+mi*p, o, t)
					}
				}
			}
		}
	})
}

// shiftable reports whether forwardShift suits this convolution: stride 1, not a
// plain 1x1, and padded rows at most 1/16 wider than output rows (the wasted
// columns), or 1/8 with at most 64 input channels, where the column matrix it saves
// costs most relative to the GEMM. For 3x3 "same" convolutions that is 32x32, and
// 16x16 up to 64 channels (measured: +10-20% at 16 and 32 channels, +8% at 64
// channels 32x32, neutral at 128 channels 16x16). Below 16 input channels (the
// stem) the per-tap GEMMs are too shallow: 30% slower than the column matrix.
func (l *lowering) shiftable() bool {
	if l.pol.Shift == 0 || l.stride != 1 || l.identity() {
		return false
	}
	if l.pol.Shift == 2 {
		return true
	}
	wp := l.win + 2*l.padW
	return l.cin >= 16 && (wp*16 <= l.wo*17 || (wp*8 <= l.wo*9 && l.cin <= 64))
}

// forwardShift is forward for stride-1 convolutions without a column matrix. Each
// image is copied once into a zero-bordered buffer xp [cin, Hp, Wp]; then for each
// kernel tap (ky,kx) the matrix X_tap[c, q] = xp[c, q + ky*Wp + kx] is a plain
// strided view of xp (row stride Hp*Wp), and the output over "wide" rows of Wp
// columns is the sum over taps of W_tap[m, cin] x X_tap[cin, Ho*Wp]: R*S GEMMs
// accumulating into one staging buffer, whose first Wo columns of each row are the
// result (the others read across the row end and are dropped). This replaces
// writing and re-reading a 9x larger column matrix by a 1x copy; the GEMM packs the
// views directly.
func (l *lowering) forwardShift(src, a []float32, m int, dst []float32, accumulate bool, ep *convEpilogue) {
	p, kd, rs := l.pix(), l.kdim(), l.r*l.s
	cin, hin, win := l.cin, l.hin, l.win
	hp, wp := hin+2*l.padH, win+2*l.padW
	plane := hp * wp
	nw := l.ho * wp // wide output columns
	inSz := cin * hin * win
	outSz := m * p
	// Per-tap weights: wr[t][mi][c] = a[mi][c*rs+t].
	wr := poolGet(bufWtap, rs*m*cin)
	defer poolPut(bufWtap, wr)
	for mi := 0; mi < m; mi++ {
		for c := 0; c < cin; c++ {
			for t, v := range a[mi*kd+c*rs : mi*kd+(c+1)*rs] {
				wr[(t*m+mi)*cin+c] = v
			}
		}
	}
	// The tail of S-1 floats is read only by the dropped columns of the last
	// channel.
	workers := min(parallel.Workers(), l.n)
	xps := workBufs(bufPad, workers, cin*plane+l.s-1, true)
	defer putWork(bufPad, xps)
	tmps := workBufs(bufOut, workers, m*nw, true)
	defer putWork(bufOut, tmps)
	parallel.ForWorker(l.n, func(w, lo, hi int) {
		xp, tmp := xps[w], tmps[w]
		clear(xp) // borders stay zero: only interiors are written below
		for n := lo; n < hi; n++ {
			img := src[n*inSz : (n+1)*inSz]
			for c := 0; c < cin; c++ {
				for y := 0; y < hin; y++ {
					o := c*plane + (y+l.padH)*wp + l.padW
					copy(xp[o:o+win], img[(c*hin+y)*win:(c*hin+y+1)*win])
				}
			}
			for t := 0; t < rs; t++ {
				off := (t/l.s)*wp + t%l.s
				beta := float32(1)
				if t == 0 {
					beta = 0
				}
				kernels.Sgemm(false, false, m, nw, cin, 1, wr[t*m*cin:], cin, xp[off:], plane, beta, tmp, nw)
			}
			out := dst[n*outSz : (n+1)*outSz]
			for mi := 0; mi < m; mi++ {
				for oy := 0; oy < l.ho; oy++ {
					t := tmp[mi*nw+oy*wp : mi*nw+oy*wp+l.wo]
					o := out[mi*p+oy*l.wo : mi*p+(oy+1)*l.wo]
					if accumulate {
						kernels.Add(o, o, t)
					} else {
						ep.applyCopy(mi, n*outSz+mi*p+oy*l.wo, o, t)
					}
				}
			}
		}
	})
}

// backwardData adds to gsrc [n, cin, hin, win] the gradient of the lowered
// convolution through the column matrix: dcol = A^T x dY, then col2im. a is the
// weight matrix A [m, kdim]; A^T is packed once per call (kernels.PackA) and shared
// by the workers. Used for strided convolutions; stride-1 ones run as a transposed
// convolution through forward instead. When fresh is set gsrc holds garbage and is
// cleared image by image just before its scatter, while it is in cache.
func (l *lowering) backwardData(dy, a []float32, m int, gsrc []float32, fresh bool) {
	p, kd := l.pix(), l.kdim()
	pa := kernels.PackA(true, kd, m, a, kd)
	defer pa.Release()
	inSz := l.cin * l.hin * l.win
	outSz := m * p
	g := l.convGroup(p, l.n)
	groups := (l.n + g - 1) / g
	nw := min(parallel.Workers(), groups)
	dcols := workBufs(bufCol, nw, kd*g*p, true)
	defer putWork(bufCol, dcols)
	dygs := workBufs(bufDY, nw, m*g*p, g > 1)
	defer putWork(bufDY, dygs)
	parallel.ForWorker(groups, func(w, lo, hi int) {
		dcol, dyg := dcols[w], dygs[w]
		for gi := lo; gi < hi; gi++ {
			n0 := gi * g
			gn := min(g, l.n-n0)
			cols := gn * p
			b := dy[n0*outSz:]
			if g > 1 {
				for j := 0; j < gn; j++ {
					img := dy[(n0+j)*outSz : (n0+j+1)*outSz]
					for mi := 0; mi < m; mi++ {
						copy(dyg[mi*cols+j*p:mi*cols+j*p+p], img[mi*p:(mi+1)*p])
					}
				}
				b = dyg
			}
			kernels.SgemmPackedA(pa, false, cols, 1, b, cols, 0, dcol, cols)
			for j := 0; j < gn; j++ {
				img := gsrc[(n0+j)*inSz : (n0+j+1)*inSz]
				if fresh {
					clear(img)
				}
				l.col2im(dcol[j*p:], cols, img)
			}
		}
	})
}

// backwardWeights adds to gw [m, kdim] the weight gradient sum_n dY_n x col_n^T and,
// when gb is non-nil, to gb [m] the bias gradient sum over n and pixels of dY. The
// images (the GEMM's inner dimension) are split across workers: worker 0 adds
// straight into gw, every other worker sums into a private pooled partial that is
// added in at the end. The column matrix is the transposed operand (the GEMM packs
// it with gathers), which measured faster than transposing dY instead and packing
// the column matrix as the GEMM's A.
func (l *lowering) backwardWeights(src, dy []float32, m int, gw, gb []float32) {
	p, kd := l.pix(), l.kdim()
	inSz := l.cin * l.hin * l.win
	outSz := m * p
	g := l.convGroup(p, l.n)
	if run, rw := l.pixelRun(); l.pol.Implicit && run > 0 && !(g == 1 && l.identity()) {
		l.backwardWeightsImplicit(src, dy, m, gw, gb, run, rw)
		return
	}
	groups := (l.n + g - 1) / g
	nw := min(parallel.Workers(), groups)
	// The column matrix is the GEMM's N side, packed in 32-wide panels; a ragged
	// last panel takes a slow path, so small kdim (the stem's 27, width 16's 144)
	// is padded with zero rows up to whole panels when that adds at most a quarter.
	kdp := (kd + 31) &^ 31
	if (kdp-kd)*4 > kdp {
		kdp = kd
	}
	// Worker 0 adds into gw itself unless the columns are padded.
	parts := make([][]float32, nw)
	for w := range parts {
		if w > 0 || kdp != kd {
			parts[w] = poolGet(bufPart, m*kdp)
		}
	}
	defer putWork(bufPart, parts)
	var bparts [][]float64
	if gb != nil {
		bparts = make([][]float64, nw)
	}
	colBufs := workBufs(bufCol, nw, kdp*g*p, g > 1 || !l.identity() || kdp != kd)
	defer putWork(bufCol, colBufs)
	dygs := workBufs(bufDY, nw, m*g*p, g > 1)
	defer putWork(bufDY, dygs)
	planes := workBufs(bufPad, nw, l.hin*l.win, l.stride > 1)
	defer putWork(bufPad, planes)
	parallel.ForWorker(groups, func(w, lo, hi int) {
		planeBuf := planes[w]
		c, beta := gw, float32(1)
		if parts[w] != nil {
			c, beta = parts[w], 0
		}
		var bp []float64
		if gb != nil {
			bp = make([]float64, m)
			bparts[w] = bp
		}
		col, dyg := colBufs[w], dygs[w]
		if col != nil {
			clear(col[kd*g*p:]) // padding rows; a short last group reads only their front
		}
		for gi := lo; gi < hi; gi++ {
			n0 := gi * g
			gn := min(g, l.n-n0)
			cols := gn * p
			bm := src[n0*inSz:]
			if col != nil {
				if cols != g*p && kdp != kd {
					clear(col[kd*cols : kdp*cols]) // padding rows at this group's stride
				}
				for j := 0; j < gn; j++ {
					l.im2col(src[(n0+j)*inSz:(n0+j+1)*inSz], col[j*p:], cols, planeBuf)
				}
				bm = col
			}
			am := dy[n0*outSz:]
			if g > 1 {
				for j := 0; j < gn; j++ {
					img := dy[(n0+j)*outSz : (n0+j+1)*outSz]
					for mi := 0; mi < m; mi++ {
						copy(dyg[mi*cols+j*p:mi*cols+j*p+p], img[mi*p:(mi+1)*p])
					}
				}
				am = dyg
			}
			if bp != nil {
				for mi := 0; mi < m; mi++ {
					bp[mi] += float64(kernels.Sum(am[mi*cols : (mi+1)*cols]))
				}
			}
			kernels.Sgemm(false, true, m, kdp, cols, 1, am, cols, bm, cols, beta, c, kdp)
			beta = 1
		}
	})
	if nw > 1 || kdp != kd {
		parallel.ForGrain(m, max(1, (1<<14)/kd), func(lo, hi int) {
			for _, part := range parts {
				if part == nil {
					continue
				}
				if kdp == kd {
					d := gw[lo*kd : hi*kd]
					kernels.Add(d, d, part[lo*kd:hi*kd])
					continue
				}
				for mi := lo; mi < hi; mi++ {
					d := gw[mi*kd : (mi+1)*kd]
					kernels.Add(d, d, part[mi*kdp:mi*kdp+kd])
				}
			}
		})
	}
	for _, bp := range bparts {
		for mi, v := range bp {
			gb[mi] += float32(v)
		}
	}
}

// intPool holds the row-offset tables of forwardImplicit.
var intPool = sync.Pool{New: func() any { return new([]int) }}

// forwardImplicit is forward for stride-1 convolutions without a column matrix.
// The weights are packed once per call (kernels.PackA) and shared by all workers;
// each image is copied once into a zero-bordered buffer xp [cin, Hp, Wp] (per group
// of images), and each GEMM's B panels are packed straight from xp by a padPacker:
// row (c,ky,kx) of the column matrix over an output row is the contiguous run
// xp[c, oy+ky, ox+kx ...], so a panel row is one or a few fixed-size copies with no
// edge handling, and the column matrix is never written to memory and re-read.
// Images are grouped as in forward; a single image's GEMM writes straight into its
// NCHW output. Output widths that are not a multiple of 4 (14 and 7, of 28x28
// inputs) are computed over wider rows (wideRow), whose extra columns are dropped:
// 1/7 more GEMM work buys whole 16- or 8-runs per panel (one PackRowsSeg instead
// of three or five masked PackRows): +5-30% GFLOP per CPU-second at 14x14 and 7x7.
func (l *lowering) forwardImplicit(src, a []float32, m int, dst []float32, accumulate bool, ep *convEpilogue) {
	p, kd := l.pix(), l.kdim()
	inSz := l.cin * l.hin * l.win
	outSz := m * p
	g := l.convGroup(p, l.n)
	groups := (l.n + g - 1) / g
	nw := min(parallel.Workers(), groups)
	pa := kernels.PackA(false, m, kd, a, kd)
	defer pa.Release()
	pl := l.padLayout()
	defer pl.release()
	offp := intPool.Get().(*[]int)
	defer intPool.Put(offp)
	if cap(*offp) < kd {
		*offp = make([]int, kd)
	}
	rows := kernels.NewRowOffsets(l.rowOffsets(&pl, (*offp)[:kd]))
	// Output rows are computed rw wide (wideRow); the columns past wo read on into
	// the next padded row and are dropped.
	rw := l.wideRow()
	pwi := l.ho * rw
	// narrow holds the wide row offsets oy*rw, for dropping the extra columns with
	// one kernels.PackRows per channel.
	var narrow kernels.RowOffsets
	if rw != l.wo {
		nb := intPool.Get().(*[]int)
		defer intPool.Put(nb)
		if cap(*nb) < l.ho {
			*nb = make([]int, l.ho)
		}
		offs := (*nb)[:l.ho]
		for oy := range offs {
			offs[oy] = oy * rw
		}
		narrow = kernels.NewRowOffsets(offs)
	}
	tmps := workBufs(bufOut, nw, m*g*pwi, g > 1 || rw != l.wo)
	defer putWork(bufOut, tmps)
	imgSz := pl.imgSz
	xpLen := max(g*imgSz, (g-1)*imgSz+(l.ho-1)*pl.pw+rw+rows.Max())
	xps := workBufs(bufPad, nw, xpLen, true)
	defer putWork(bufPad, xps)
	planes := workBufs(bufCol, nw, l.hin*l.win, l.stride > 1)
	defer putWork(bufCol, planes)
	parallel.ForWorker(groups, func(w, lo, hi int) {
		tmp, xp := tmps[w], xps[w]
		clear(xp) // borders stay zero: only interiors are written below
		pk := padPacker{ho: l.ho, xp: xp, rows: &rows, nr: pa.PanelWidth(), imgSz: imgSz, wp: pl.pw, rw: rw}
		pack := pk.pack
		for gi := lo; gi < hi; gi++ {
			n0 := gi * g
			gn := min(g, l.n-n0)
			cols := gn * pwi
			for j := 0; j < gn; j++ {
				l.fillPadded(&pl, src[(n0+j)*inSz:(n0+j+1)*inSz], xp[j*imgSz:(j+1)*imgSz], planes[w])
			}
			if g == 1 && rw == l.wo {
				out := dst[n0*outSz : (n0+1)*outSz]
				beta := float32(0)
				if accumulate {
					beta = 1
				}
				kernels.SgemmPackedAFunc(pa, p, 1, pack, beta, out, p)
				if !accumulate && !ep.none() {
					for mi := 0; mi < m; mi++ {
						ep.apply(mi, n0*outSz+mi*p, out[mi*p:(mi+1)*p])
					}
				}
				continue
			}
			kernels.SgemmPackedAFunc(pa, cols, 1, pack, 0, tmp, cols)
			for j := 0; j < gn; j++ {
				out := dst[(n0+j)*outSz : (n0+j+1)*outSz]
				for mi := 0; mi < m; mi++ {
					t := tmp[mi*cols+j*pwi : mi*cols+(j+1)*pwi]
					o := out[mi*p : (mi+1)*p]
					switch {
					case accumulate && rw == l.wo:
						kernels.Add(o, o, t)
					case rw == l.wo:
						ep.applyCopy(mi, (n0+j)*outSz+mi*p, o, t)
					default:
						if accumulate {
							l.addNarrow(o, t, rw)
							break
						}
						kernels.PackRows(o, l.wo, t, 0, &narrow, 0, l.ho, l.wo)
						if !ep.none() {
							ep.apply(mi, (n0+j)*outSz+mi*p, o)
						}
					}
				}
			}
		}
	})
}

// wideRow returns the width forwardImplicit computes each output row at: wo
// itself, or for widths that are not a multiple of 4 (14 and 7, of 28x28 inputs)
// wo rounded up to 16 or 8 when that wastes at most 1/7, so the B panels are
// whole runs of 16 or 8 (one kernels.PackRowsSeg) instead of ragged ones.
func (l *lowering) wideRow() int {
	if !l.pol.WideFwd || l.wo%4 == 0 {
		return l.wo
	}
	for _, r := range []int{8, 16} {
		if rw := (l.wo + r - 1) / r * r; rw*7 <= l.wo*8 {
			return rw
		}
	}
	return l.wo
}

// addNarrow adds to the ho rows of wo floats of a channel o [ho*wo] the first wo
// floats of the wide rows of t [ho*rw].
func (l *lowering) addNarrow(o, t []float32, rw int) {
	wo := l.wo
	for oy := 0; oy < l.ho; oy++ {
		d := o[oy*wo : (oy+1)*wo]
		kernels.Add(d, d, t[oy*rw:oy*rw+wo])
	}
}

// padLayout describes the zero-bordered copy of one image [cin, hin, win] that the
// implicit lowering packs from. At stride st it is split into st*st phase planes per
// channel, phase (a, b) holding the padded pixels (i*st+a, j*st+b), so that every
// kernel tap reads a contiguous run of its phase plane along an output row; at
// stride 1 there is one phase, the padded plane itself.
type padLayout struct {
	st, ph, pw int
	pplane     int    // ph*pw, one phase plane
	cplane     int    // st*st*pplane, one channel
	imgSz      int    // cin*cplane
	used       uint64 // bit a*st+b: phase (a, b) is read by some tap (bits >= 64: all)
	// inRows holds the input row offsets y*win (stride 1), for copying each
	// channel's rows into the padded plane with one kernels.PackRows.
	inRows kernels.RowOffsets
	inBuf  *[]int
}

// release hands back the pooled row table.
func (pl *padLayout) release() {
	if pl.inBuf != nil {
		intPool.Put(pl.inBuf)
		pl.inBuf = nil
	}
}

func (l *lowering) padLayout() padLayout {
	st := l.stride
	hp, wp := l.hin+2*l.padH, l.win+2*l.padW
	pl := padLayout{st: st, ph: (hp + st - 1) / st, pw: (wp + st - 1) / st}
	pl.pplane = pl.ph * pl.pw
	pl.cplane = st * st * pl.pplane
	pl.imgSz = l.cin * pl.cplane
	if st == 1 && l.win <= 32 {
		pl.inBuf = intPool.Get().(*[]int)
		if cap(*pl.inBuf) < l.hin {
			*pl.inBuf = make([]int, l.hin)
		}
		offs := (*pl.inBuf)[:l.hin]
		for y := range offs {
			offs[y] = y * l.win
		}
		pl.inRows = kernels.NewRowOffsets(offs)
	}
	if st > 1 {
		for ky := 0; ky < l.r; ky++ {
			for kx := 0; kx < l.s; kx++ {
				if i := (ky%st)*st + kx%st; i < 64 {
					pl.used |= 1 << i
				}
			}
		}
	}
	return pl
}

// rowOffsets fills dst [kdim] with the offset in the padded image of each
// column-matrix row (c, ky, kx) for output pixel (0, 0); pixel (oy, ox) adds
// oy*pw+ox.
func (l *lowering) rowOffsets(pl *padLayout, dst []int) []int {
	st := pl.st
	for c := 0; c < l.cin; c++ {
		for ky := 0; ky < l.r; ky++ {
			for kx := 0; kx < l.s; kx++ {
				dst[(c*l.r+ky)*l.s+kx] = c*pl.cplane + ((ky%st)*st+kx%st)*pl.pplane + (ky/st)*pl.pw + kx/st
			}
		}
	}
	return dst
}

// fillPadded writes image img [cin, hin, win] into its padded layout xp. At stride 1
// only the interior is written (the caller clears xp once; borders stay zero); at
// larger strides every element of the used phase planes is written, from a copy of
// each input plane in planeBuf (hin*win floats): as in im2col, reading the image
// itself at a stride defeats the prefetcher.
func (l *lowering) fillPadded(pl *padLayout, img, xp, planeBuf []float32) {
	hin, win := l.hin, l.win
	if pl.st == 1 {
		wp := pl.pw
		if pl.inRows.Len() == hin {
			for c := 0; c < l.cin; c++ {
				o := c*pl.cplane + l.padH*wp + l.padW
				kernels.PackRows(xp[o:], wp, img, c*hin*win, &pl.inRows, 0, hin, win)
			}
			return
		}
		for c := 0; c < l.cin; c++ {
			for y := 0; y < hin; y++ {
				o := c*pl.cplane + (y+l.padH)*wp + l.padW
				copy(xp[o:o+win], img[(c*hin+y)*win:(c*hin+y+1)*win])
			}
		}
		return
	}
	st, pw := pl.st, pl.pw
	// At stride 2 the two column phases of a row split one contiguous run of the
	// source row when their runs interleave (starts one apart, the first no
	// shorter and at most one longer): one kernels.Deinterleave2 then fills both.
	split := false
	var f, s0, n0, n1 int // first phase, its source start, run lengths
	if st == 2 {
		lo0, hi0 := l.phaseCols(pw, 0)
		lo1, hi1 := l.phaseCols(pw, 1)
		a0, a1 := lo0*2-l.padW, lo1*2+1-l.padW
		c0, c1 := hi0-lo0, hi1-lo1
		if a1 == a0+1 {
			f, s0, n0, n1 = 0, a0, c0, c1
		} else if a0 == a1+1 {
			f, s0, n0, n1 = 1, a1, c1, c0
		}
		split = s0 >= 0 && n1 > 0 && (n0 == n1 || n0 == n1+1) && s0+n0+n1 <= win
	}
	for c := 0; c < l.cin; c++ {
		plane := planeBuf[:hin*win]
		copy(plane, img[c*hin*win:(c+1)*hin*win])
		for a := 0; a < st; a++ {
			if split && pl.used&(3<<(2*a)) == 3<<(2*a) {
				bf := c*pl.cplane + (a*st+f)*pl.pplane
				bs := c*pl.cplane + (a*st+1-f)*pl.pplane
				jf, _ := l.phaseCols(pw, f)
				js, _ := l.phaseCols(pw, 1-f)
				for i := 0; i < pl.ph; i++ {
					df := xp[bf+i*pw : bf+(i+1)*pw]
					ds := xp[bs+i*pw : bs+(i+1)*pw]
					y := i*st + a - l.padH
					if y < 0 || y >= hin {
						clear(df)
						clear(ds)
						continue
					}
					clear(df[:jf])
					clear(ds[:js])
					kernels.Deinterleave2(df[jf:jf+n0], ds[js:js+n1], plane[y*win+s0:y*win+s0+n0+n1])
					clear(df[jf+n0:])
					clear(ds[js+n1:])
				}
				continue
			}
			for b := 0; b < st; b++ {
				if i := a*st + b; i < 64 && pl.used&(1<<i) == 0 {
					continue
				}
				base := c*pl.cplane + (a*st+b)*pl.pplane
				x0 := b - l.padW
				jlo, jhi := l.phaseCols(pw, b)
				for i := 0; i < pl.ph; i++ {
					d := xp[base+i*pw : base+(i+1)*pw]
					y := i*st + a - l.padH
					if y < 0 || y >= hin {
						clear(d)
						continue
					}
					srow := plane[y*win : (y+1)*win]
					clear(d[:jlo])
					switch {
					case jhi == jlo:
					case st == 2:
						gather2(d[jlo:jhi], srow[x0+2*jlo:x0+2*(jhi-1)+1])
					default:
						for j := jlo; j < jhi; j++ {
							d[j] = srow[x0+j*st]
						}
					}
					clear(d[jhi:])
				}
			}
		}
	}
}

// phaseCols returns the range [jlo, jhi) of the columns j < pw of column phase b
// of a strided padded layout that lie inside the image: 0 <= j*stride+b-padW < win.
func (l *lowering) phaseCols(pw, b int) (jlo, jhi int) {
	st, x0 := l.stride, b-l.padW
	jlo, jhi = 0, pw
	if x0 < 0 {
		jlo = min((-x0+st-1)/st, pw)
	}
	if last := l.win - 1 - x0; last < 0 {
		jhi = jlo
	} else {
		jhi = max(min(jhi, last/st+1), jlo)
	}
	return jlo, jhi
}

// padPacker packs panels of the column matrix of a stride-1 convolution straight
// from zero-bordered images xp (consecutive, imgSz floats each): the
// kernels.BPacker of forwardImplicit. Output rows are taken rw wide (wideRow);
// column q is wide pixel q%P of image q/P (P = ho*rw); row r reads xp at rows[r]
// (its channel plane and kernel tap) plus the pixel's offset; each run of a panel
// row within one output row is a kernels.PackRows.
type padPacker struct {
	ho    int // output rows per image
	xp    []float32
	rows  *kernels.RowOffsets
	nr    int
	imgSz int
	wp    int
	rw    int // output row width computed (wideRow)
}

// padSeg is a run of panel columns lying in one output row of one image.
type padSeg struct {
	off  int // xp offset of its first pixel (tap 0 of channel 0)
	n, d int // length, first panel column
}

func (pk *padPacker) pack(dst []float32, j0, nb, p0, kc int) {
	nr := pk.nr
	wo := pk.rw
	p := pk.ho * wo
	var segBuf [64]padSeg
	segs := segBuf[:0]
	for q, d := j0, 0; d < nb; {
		img, qq := q/p, q%p
		oy, ox := qq/wo, qq%wo
		n := min(wo-ox, nb-d)
		segs = append(segs, padSeg{off: img*pk.imgSz + oy*pk.wp + ox, n: n, d: d})
		q += n
		d += n
	}
	// A full panel of equal runs of 16, 8 or 4 (output rows of 16x16, 8x8, 4x4
	// images) goes through one PackRowsSeg.
	if run := segs[0].n; nr == 32 && nb == 32 && len(segs) > 1 && len(segs)*run == 32 && run >= 4 {
		var offBuf [8]int
		so := offBuf[:len(segs)]
		for k, sg := range segs {
			if sg.n != run {
				so = nil
				break
			}
			so[k] = sg.off
		}
		if so != nil {
			kernels.PackRowsSeg(dst, pk.xp, pk.rows, p0, kc, so, run)
			return
		}
	}
	for _, sg := range segs {
		kernels.PackRows(dst[sg.d:], nr, pk.xp, sg.off, pk.rows, p0, kc, sg.n)
	}
}

// pixelRun returns how backwardWeightsImplicit walks the output pixels: each
// output row of wo pixels is read as a "wide" row of rw >= wo pixels (in runs of
// run = 16, 8 or 4 contiguous pixels of one padded row), the rw-wo extra pixels
// getting zero dY. rw is wo itself where run divides it, else wo rounded up to a
// multiple of 4 when that wastes at most a third (output widths 14 and 7 of
// 28x28 inputs: 16 and 8); run 0 where neither applies.
func (l *lowering) pixelRun() (run, rw int) {
	for _, r := range []int{16, 8, 4} {
		if l.wo%r == 0 {
			return r, l.wo
		}
	}
	rw = (l.wo + 3) &^ 3
	if rw*3 > l.wo*4 {
		return 0, 0
	}
	for _, r := range []int{16, 8, 4} {
		if rw%r == 0 {
			return r, rw
		}
	}
	return 0, 0
}

// backwardWeightsImplicit is backwardWeights without a column matrix: each image
// (or group of images, as in backwardWeights) is copied into its padded layout (as
// in forwardImplicit) and the transposed B panels of dW += dY x col^T are packed
// straight from it by kernels.PackRowsT: 16x16 in-register transposes of 32
// column-matrix rows over 16 pixels, taken in runs of run pixels of one output row.
//
// The GEMM's depth runs over "wide" pixels (pixelRun): ho rows of rw per image,
// the group's total rounded up to whole 16-pixel blocks. A wide pixel past the end
// of its output row, or past the group's images, reads whatever finite value lies
// there in the padded buffer (the next padded row, a zeroed tail; the buffer is
// cleared once, then only ever holds image values) and meets a zero column of dY,
// so it adds exactly 0.
func (l *lowering) backwardWeightsImplicit(src, dy []float32, m int, gw, gb []float32, run, rw int) {
	p, kd := l.pix(), l.kdim()
	inSz := l.cin * l.hin * l.win
	outSz := m * p
	g := l.convGroup(p, l.n)
	groups := (l.n + g - 1) / g
	nw := min(parallel.Workers(), groups)
	pl := l.padLayout()
	defer pl.release()
	pwi := l.ho * rw // wide pixels per image
	// The wide columns of a group of gn images.
	wideCols := func(gn int) int { return (gn*pwi + 15) &^ 15 }
	// dY is used in place only where its layout is the wide one already.
	direct := g == 1 && rw == l.wo && p%16 == 0
	// Row offsets, padded to whole 32-row panels with copies of the last row.
	kd32 := (kd + 31) &^ 31
	offp := intPool.Get().(*[]int)
	defer intPool.Put(offp)
	nRuns := wideCols(g) / run
	if cap(*offp) < kd32+nRuns {
		*offp = make([]int, kd32+nRuns)
	}
	rowOff := l.rowOffsets(&pl, (*offp)[:kd32])
	for i := kd; i < kd32; i++ {
		rowOff[i] = rowOff[kd-1]
	}
	rows := kernels.NewRowOffsets(rowOff)
	// Offsets of the runs of wide pixels of a group, in its padded images; the
	// runs past the group's images (zero dY) read its start.
	runs := (*offp)[kd32 : kd32+nRuns]
	for b := range runs {
		runs[b] = 0
		if q := b * run; q < g*pwi {
			img, q := q/pwi, q%pwi
			runs[b] = img*pl.imgSz + (q/rw)*pl.pw + q%rw
		}
	}
	// The padded buffer, with room for the reads of the last wide row.
	xpLen := max(g*pl.imgSz, (g-1)*pl.imgSz+(l.ho-1)*pl.pw+rw+rows.Max())
	parts := make([][]float32, nw)
	for w := 1; w < nw; w++ {
		parts[w] = poolGet(bufPart, m*kd)
	}
	defer putWork(bufPart, parts)
	var bparts [][]float64
	if gb != nil {
		bparts = make([][]float64, nw)
	}
	xps := workBufs(bufPad, nw, xpLen, true)
	defer putWork(bufPad, xps)
	planes := workBufs(bufCol, nw, l.hin*l.win, l.stride > 1)
	defer putWork(bufCol, planes)
	dygs := workBufs(bufDY, nw, m*wideCols(g), !direct)
	defer putWork(bufDY, dygs)
	nr := kernels.PanelWidth()
	parallel.ForWorker(groups, func(w, lo, hi int) {
		xp, dyg := xps[w], dygs[w]
		clear(xp)
		c, beta := gw, float32(1)
		if parts[w] != nil {
			c, beta = parts[w], 0
		}
		var bp []float64
		if gb != nil {
			bp = make([]float64, m)
			bparts[w] = bp
		}
		pack := func(dst []float32, j0, nb, p0, kc int) {
			kernels.PackRowsT(dst, nr, xp, &rows, j0, nb, runs[p0/run:], run, kc)
		}
		for gi := lo; gi < hi; gi++ {
			n0 := gi * g
			gn := min(g, l.n-n0)
			for j := 0; j < gn; j++ {
				l.fillPadded(&pl, src[(n0+j)*inSz:(n0+j+1)*inSz], xp[j*pl.imgSz:(j+1)*pl.imgSz], planes[w])
			}
			if gn < g {
				// The last, short group: the slots of the missing images (read by
				// zero-dY pixels) must not hold stale images.
				clear(xp[gn*pl.imgSz:])
			}
			am, cols := dy[n0*outSz:(n0+1)*outSz], p
			if !direct {
				cols = wideCols(gn)
				l.gatherWide(dyg[:m*cols], cols, dy[n0*outSz:(n0+gn)*outSz], m, gn, rw)
				am = dyg[:m*cols]
			}
			if bp != nil {
				for mi := 0; mi < m; mi++ {
					bp[mi] += float64(kernels.Sum(am[mi*cols : (mi+1)*cols]))
				}
			}
			kernels.SgemmPackB(false, m, kd, cols, 1, am, cols, pack, beta, c, kd)
			beta = 1
		}
	})
	if nw > 1 {
		parallel.ForGrain(m, max(1, (1<<14)/kd), func(lo, hi int) {
			for _, part := range parts[1:] {
				d := gw[lo*kd : hi*kd]
				kernels.Add(d, d, part[lo*kd:hi*kd])
			}
		})
	}
	for _, bp := range bparts {
		for mi, v := range bp {
			gb[mi] += float32(v)
		}
	}
}

// gatherWide writes the output gradients dy [gn, m, ho, wo] of a group of images
// into dst [m, cols] (row stride cols) in the wide layout of
// backwardWeightsImplicit: row mi holds image j's output row oy at columns
// j*ho*rw + oy*rw, each followed by rw-wo zeros, and zeros after the last image.
func (l *lowering) gatherWide(dst []float32, cols int, dy []float32, m, gn, rw int) {
	ho, wo := l.ho, l.wo
	p := ho * wo
	pwi := ho * rw
	for mi := 0; mi < m; mi++ {
		row := dst[mi*cols : (mi+1)*cols]
		for j := 0; j < gn; j++ {
			s := dy[(j*m+mi)*p : (j*m+mi+1)*p]
			d := row[j*pwi : (j+1)*pwi]
			if rw == wo {
				copy(d, s)
				continue
			}
			for oy := 0; oy < ho; oy++ {
				dr := d[oy*rw : (oy+1)*rw]
				copy(dr, s[oy*wo:(oy+1)*wo])
				clear(dr[wo:])
			}
		}
		clear(row[gn*pwi:])
	}
}
