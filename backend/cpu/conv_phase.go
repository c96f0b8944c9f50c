package cpu

import (
	"github.com/siam-ssl/siam/kernels"
	"github.com/siam-ssl/siam/parallel"
)

// convPhase is one of the four phases (a, b) of the input gradient of a stride-2
// convolution: the input pixels (2j+a, 2i+b), j < hp, i < wp. Only the kernel taps
// ky = a+padH (mod 2), kx = b+padW (mod 2) reach them, each from output pixel
// (j+dyY, i+dyX) with dyY = (a+padH-ky)/2, dyX = (b+padW-kx)/2, so the phase is a
// stride-1 correlation of dY with the sub-kernel of those taps: one GEMM
// [cin, m*taps] x [m*taps, hp*wp] whose B panels are packed straight from a
// zero-bordered copy of dY (as forwardImplicit packs them from the input).
type convPhase struct {
	hp, wp int
	rw     int // output rows computed rw >= wp wide (phaseRow); the extra columns are dropped
	ky, kx []int
	pa     *kernels.PackedA // [cin, m*len(ky)*len(kx)] sub-kernel, transposed
	rows   kernels.RowOffsets
	offs   *[]int
}

// phaseShift returns dyY for input phase a and tap k (a+pad-k must be even).
func phaseShift(a, pad, k int) int { return (a + pad - k) / 2 }

// phaseTaps lists the taps k < r whose input pixels lie in phase a.
func phaseTaps(a, pad, r int) []int {
	var t []int
	for k := 0; k < r; k++ {
		if (a+pad-k)&1 == 0 {
			t = append(t, k)
		}
	}
	return t
}

// backwardDataPhased is backwardData for stride-2 convolutions (with kernels larger
// than 1x1: a 1x1 kernel reaches one phase only, and the column route is as fast)
// without a column matrix: dY of each image (or group of small images, as in forward) is copied once
// into a zero-bordered buffer, the four phase GEMMs of convPhase write the group's
// gradient phases into per-worker staging, and each input-gradient row is written
// (fresh) or added to with one kernels.Interleave2Add of its two column phases, while
// the staging is still in cache. This replaces writing and re-reading the column
// gradient, 2.25 times the input gradient for 3x3 kernels, and scattering it.
func (l *lowering) backwardDataPhased(dy, wm []float32, m int, gsrc []float32, fresh bool) {
	kd := l.kdim()
	cin, hin, win := l.cin, l.hin, l.win
	inSz := cin * hin * win
	outSz := m * l.ho * l.wo
	var ph [2][2]convPhase
	// The zero border of the dY copy: top/left so that every shift dyY, dyX >= -pt,
	// -pl lands inside, bottom/right so that every phase pixel's last tap does.
	pt, pl, hd, wd := 0, 0, l.ho, l.wo
	maxK := 0
	for a := range 2 {
		for b := range 2 {
			p := &ph[a][b]
			p.hp, p.wp = (hin-a+1)/2, (win-b+1)/2
			p.rw = l.phaseRow(p.wp)
			p.ky, p.kx = phaseTaps(a, l.padH, l.r), phaseTaps(b, l.padW, l.s)
			maxK = max(maxK, m*len(p.ky)*len(p.kx))
			for _, k := range p.ky {
				pt = max(pt, -phaseShift(a, l.padH, k))
			}
			for _, k := range p.kx {
				pl = max(pl, -phaseShift(b, l.padW, k))
			}
		}
	}
	for a := range 2 {
		for b := range 2 {
			p := &ph[a][b]
			for _, k := range p.ky {
				hd = max(hd, p.hp+phaseShift(a, l.padH, k))
			}
			for _, k := range p.kx {
				wd = max(wd, p.wp+phaseShift(b, l.padW, k))
			}
		}
	}
	hd, wd = hd+pt, wd+pl
	dplane := hd * wd
	dImg := m * dplane
	// A wide row's extra columns read on into the next row of the dY copy, and past
	// the last image's end by at most this much.
	slack := 0
	for a := range 2 {
		for b := range 2 {
			slack = max(slack, ph[a][b].rw-ph[a][b].wp)
		}
	}

	// Sub-kernels, packed once per call and shared by the workers, and the row
	// offsets of their B panels in the dY copy: row (mi, ty, tx) reads channel mi
	// shifted by (dyY, dyX).
	tmpW := poolGet(bufWtap, cin*maxK)
	for a := range 2 {
		for b := range 2 {
			p := &ph[a][b]
			nt := len(p.ky) * len(p.kx)
			k := m * nt
			if k == 0 {
				continue
			}
			wsub := tmpW[:cin*k]
			p.offs = intPool.Get().(*[]int)
			if cap(*p.offs) < k {
				*p.offs = make([]int, k)
			}
			offs := (*p.offs)[:k]
			for mi := 0; mi < m; mi++ {
				for ty, ky := range p.ky {
					for tx, kx := range p.kx {
						col := (mi*len(p.ky)+ty)*len(p.kx) + tx
						offs[col] = mi*dplane + (phaseShift(a, l.padH, ky)+pt)*wd + phaseShift(b, l.padW, kx) + pl
						for c := 0; c < cin; c++ {
							wsub[c*k+col] = wm[mi*kd+(c*l.r+ky)*l.s+kx]
						}
					}
				}
			}
			p.rows = kernels.NewRowOffsets(offs)
			p.pa = kernels.PackA(false, cin, k, wsub, k)
		}
	}
	poolPut(bufWtap, tmpW)
	defer func() {
		for a := range 2 {
			for b := range 2 {
				if p := &ph[a][b]; p.pa != nil {
					p.pa.Release()
					intPool.Put(p.offs)
				}
			}
		}
	}()

	p00 := ph[0][0].hp * ph[0][0].rw // the largest phase
	g := l.convGroup(p00, l.n)
	groups := (l.n + g - 1) / g
	nw := min(parallel.Workers(), groups)
	// Staging: the four phases of a group, cin x (gn*hp*wp) each.
	var stOff [2][2]int
	stSz := 0
	for a := range 2 {
		for b := range 2 {
			stOff[a][b] = stSz
			stSz += cin * g * ph[a][b].hp * ph[a][b].rw
		}
	}
	stages := workBufs(bufOut, nw, stSz, true)
	defer putWork(bufOut, stages)
	dyps := workBufs(bufPad, nw, g*dImg+slack, true)
	// Rows of one dY channel, for copying them into the bordered copy with one
	// kernels.PackRows.
	rowp := intPool.Get().(*[]int)
	defer intPool.Put(rowp)
	if cap(*rowp) < l.ho {
		*rowp = make([]int, l.ho)
	}
	for oy := range l.ho {
		(*rowp)[oy] = oy * l.wo
	}
	dyRows := kernels.NewRowOffsets((*rowp)[:l.ho])
	defer putWork(bufPad, dyps)
	var zeros []float32 // the value of a phase no tap reaches
	for a := range 2 {
		for b := range 2 {
			if ph[a][b].pa == nil {
				zeros = make([]float32, (win+1)/2)
			}
		}
	}
	nr := kernels.PanelWidth()
	parallel.ForWorker(groups, func(w, lo, hi int) {
		stage, dyp := stages[w], dyps[w]
		clear(dyp) // borders stay zero: only interiors are written below
		for gi := lo; gi < hi; gi++ {
			n0 := gi * g
			gn := min(g, l.n-n0)
			for j := 0; j < gn; j++ {
				src := dy[(n0+j)*outSz : (n0+j+1)*outSz]
				dst := dyp[j*dImg : (j+1)*dImg]
				for mi := 0; mi < m; mi++ {
					kernels.PackRows(dst[mi*dplane+pt*wd+pl:], wd, src, mi*l.ho*l.wo, &dyRows, 0, l.ho, l.wo)
				}
			}
			for a := range 2 {
				for b := range 2 {
					p := &ph[a][b]
					if p.pa == nil {
						continue
					}
					cols := gn * p.hp * p.rw
					pk := padPacker{ho: p.hp, xp: dyp, rows: &p.rows, nr: nr, imgSz: dImg, wp: wd, rw: p.rw}
					kernels.SgemmPackedAFunc(p.pa, cols, 1, pk.pack, 0, stage[stOff[a][b]:], cols)
				}
			}
			for j := 0; j < gn; j++ {
				img := gsrc[(n0+j)*inSz : (n0+j+1)*inSz]
				for c := 0; c < cin; c++ {
					plane := img[c*hin*win : (c+1)*hin*win]
					for a := range 2 {
						pe, po := &ph[a][0], &ph[a][1]
						if pe.pa == nil && po.pa == nil {
							if fresh {
								for jj := 0; jj < pe.hp; jj++ {
									iy := 2*jj + a
									clear(plane[iy*win : (iy+1)*win])
								}
							}
							continue
						}
						// Phase (a, b) of image j, channel c, starts at base[b] in the staging.
						var base [2]int
						for b, p := range [2]*convPhase{pe, po} {
							pp := p.hp * p.rw
							base[b] = stOff[a][b] + c*gn*pp + j*pp
						}
						for jj := 0; jj < pe.hp; jj++ {
							iy := 2*jj + a
							row := plane[iy*win : (iy+1)*win]
							var even, odd []float32
							if pe.pa != nil {
								even = stage[base[0]+jj*pe.rw : base[0]+jj*pe.rw+pe.wp]
							} else {
								even = zeros[:pe.wp]
							}
							if po.pa != nil {
								odd = stage[base[1]+jj*po.rw : base[1]+jj*po.rw+po.wp]
							} else {
								odd = zeros[:po.wp]
							}
							if fresh {
								clear(row)
							}
							kernels.Interleave2Add(row, even, odd)
						}
					}
				}
			}
		}
	})
}

// phaseRow returns the width a phase GEMM computes each output row at: wp itself
// when it is a multiple of 4, else wp rounded up to one (14 -> 16 and 7 -> 8, of
// 28x28 inputs; 3 -> 4), so that the B panels are whole runs of 16, 8 or 4 (one
// kernels.PackRowsSeg) instead of ragged ones, as forwardImplicit's wideRow.
func (l *lowering) phaseRow(wp int) int {
	if !l.pol.WideFwd || wp%4 == 0 {
		return wp
	}
	return (wp + 3) &^ 3
}
