package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"
)

// packRowsKernel emits packRows512: dst[i*ldd+j] = src[offs[i]+j] for j < n <= 32
// and i < rows, with masked 16-float moves: it gathers rows at arbitrary offsets
// into a packed GEMM panel (the implicit im2col of a convolution). Two rows per
// iteration so the loads of one overlap the stores of the other.
func packRowsKernel() {
	TEXT("packRows512", NOSPLIT, "func(rows int, src *float32, offs *int, n int, dst *float32, ldd int)")
	Pragma("noescape")
	rows := Load(Param("rows"), GP64())
	src := Load(Param("src"), GP64())
	offs := Load(Param("offs"), GP64())
	n := Load(Param("n"), GP64())
	dst := Load(Param("dst"), GP64())
	ldd := Load(Param("ldd"), GP64())
	m := GP64()
	MOVQ(U64(1), m)
	MOVQ(n, reg.RCX)
	SHLQ(reg.CL, m)
	DECQ(m)
	KMOVW(m.As32(), reg.K1)
	SHRQ(Imm(16), m)
	KMOVW(m.As32(), reg.K2)
	SHLQ(Imm(2), ldd)
	o0, o1 := GP64(), GP64()
	CMPQ(rows, Imm(2))
	JL(LabelRef("tail"))
	Label("loop2")
	MOVQ(Mem{Base: offs}, o0)
	MOVQ(Mem{Base: offs, Disp: 8}, o1)
	VMOVUPS_Z(Mem{Base: src, Index: o0, Scale: 4}, reg.K1, reg.Z0)
	VMOVUPS_Z(Mem{Base: src, Index: o0, Scale: 4, Disp: 64}, reg.K2, reg.Z1)
	VMOVUPS_Z(Mem{Base: src, Index: o1, Scale: 4}, reg.K1, reg.Z2)
	VMOVUPS_Z(Mem{Base: src, Index: o1, Scale: 4, Disp: 64}, reg.K2, reg.Z3)
	VMOVUPS(reg.Z0, reg.K1, Mem{Base: dst})
	VMOVUPS(reg.Z1, reg.K2, Mem{Base: dst, Disp: 64})
	ADDQ(ldd, dst)
	VMOVUPS(reg.Z2, reg.K1, Mem{Base: dst})
	VMOVUPS(reg.Z3, reg.K2, Mem{Base: dst, Disp: 64})
	ADDQ(ldd, dst)
	ADDQ(Imm(16), offs)
	SUBQ(Imm(2), rows)
	CMPQ(rows, Imm(2))
	JGE(LabelRef("loop2"))
	Label("tail")
	TESTQ(rows, rows)
	JZ(LabelRef("done"))
	MOVQ(Mem{Base: offs}, o0)
	VMOVUPS_Z(Mem{Base: src, Index: o0, Scale: 4}, reg.K1, reg.Z0)
	VMOVUPS_Z(Mem{Base: src, Index: o0, Scale: 4, Disp: 64}, reg.K2, reg.Z1)
	VMOVUPS(reg.Z0, reg.K1, Mem{Base: dst})
	VMOVUPS(reg.Z1, reg.K2, Mem{Base: dst, Disp: 64})
	Label("done")
	VZEROUPPER()
	RET()
}

// packRowsTKernel emits packRowsT512 (run 16) and packRowsT512r8 / r4: for
// q < kb, p < 16, j < 32: dst[(16q+p)*32+j] = src[pixOffs[(16q+p)/run] + rowOffs[j] +
// p%run]. It packs a transposed B panel (32 columns of op(B) = 32 rows of an
// implicit column matrix, gathered at arbitrary row offsets; the depth in runs of
// run contiguous floats, 16/run runs per 16-deep block) with the 16x16 in-register
// transposes of packBT512.
func packRowsTKernel() {
	for _, run := range []int{16, 8, 4} {
		name := "packRowsT512"
		if run != 16 {
			name = fmt.Sprintf("packRowsT512r%d", run)
		}
		TEXT(name, NOSPLIT, "func(kb int, src *float32, rowOffs *int, pixOffs *int, dst *float32)")
		Pragma("noescape")
		kb := Load(Param("kb"), GP64())
		src := Load(Param("src"), GP64())
		rowOffs := Load(Param("rowOffs"), GP64())
		pixOffs := Load(Param("pixOffs"), GP64())
		dst := Load(Param("dst"), GP64())
		TESTQ(kb, kb)
		JZ(LabelRef("done"))
		nb := 16 / run
		bases := make([]reg.GPVirtual, nb)
		for k := range bases {
			bases[k] = GP64().(reg.GPVirtual)
		}
		o := GP64()
		r := zmm[:16]
		t := zmm[16:]
		Label("loop")
		for k, b := range bases {
			MOVQ(Mem{Base: pixOffs, Disp: 8 * k}, b)
			SHLQ(Imm(2), b)
			ADDQ(src, b)
		}
		for h := 0; h < 2; h++ {
			for i := 0; i < 16; i++ {
				MOVQ(Mem{Base: rowOffs, Disp: 8 * (16*h + i)}, o)
				switch run {
				case 16:
					VMOVUPS(Mem{Base: bases[0], Index: o, Scale: 4}, r[i])
				case 8:
					VMOVUPS(Mem{Base: bases[0], Index: o, Scale: 4}, r[i].AsY())
					VINSERTF64X4(Imm(1), Mem{Base: bases[1], Index: o, Scale: 4}, r[i], r[i])
				case 4:
					VMOVUPS(Mem{Base: bases[0], Index: o, Scale: 4}, r[i].AsX())
					for k := 1; k < 4; k++ {
						VINSERTF32X4(Imm(uint64(k)), Mem{Base: bases[k], Index: o, Scale: 4}, r[i], r[i])
					}
				}
			}
			for i := 0; i < 8; i++ {
				VUNPCKLPS(r[2*i+1], r[2*i], t[2*i])
				VUNPCKHPS(r[2*i+1], r[2*i], t[2*i+1])
			}
			for g := 0; g < 4; g++ {
				x := 4 * g
				VSHUFPS(Imm(0x44), t[x+2], t[x], r[x])
				VSHUFPS(Imm(0xEE), t[x+2], t[x], r[x+1])
				VSHUFPS(Imm(0x44), t[x+3], t[x+1], r[x+2])
				VSHUFPS(Imm(0xEE), t[x+3], t[x+1], r[x+3])
			}
			for g := 0; g < 2; g++ {
				x := 8 * g
				for i := 0; i < 4; i++ {
					VSHUFF32X4(Imm(0x88), r[x+4+i], r[x+i], t[x+i])
					VSHUFF32X4(Imm(0xDD), r[x+4+i], r[x+i], t[x+4+i])
				}
			}
			for i := 0; i < 8; i++ {
				VSHUFF32X4(Imm(0x88), t[8+i], t[i], r[i])
				VSHUFF32X4(Imm(0xDD), t[8+i], t[i], r[8+i])
			}
			for i := 0; i < 16; i++ {
				VMOVUPS(r[i], Mem{Base: dst, Disp: 128*i + 64*h})
			}
		}
		ADDQ(Imm(uint64(8*nb)), pixOffs)
		ADDQ(U32(2048), dst)
		DECQ(kb)
		JNZ(LabelRef("loop"))
		Label("done")
		VZEROUPPER()
		RET()
	}
}

// packANKernels emits packAN512x<mr> for mr = 1..16: dst[p*mr+i] = a[i*lda+p] for
// i < mr, p < kc, kc a multiple of 16 (A not transposed, an mr-row panel): each
// 16-deep block of the mr rows is loaded whole (the missing rows zeroed),
// transposed 16x16 in registers, and stored as 16 masked mr-float rows.
func packANKernels() {
	for mr := 1; mr <= 16; mr++ {
		TEXT(fmt.Sprintf("packAN512x%d", mr), NOSPLIT, "func(kc int, a *float32, lda int, dst *float32)")
		Pragma("noescape")
		kc := Load(Param("kc"), GP64())
		a := Load(Param("a"), GP64())
		lda := Load(Param("lda"), GP64()).(reg.GPVirtual)
		dst := Load(Param("dst"), GP64())
		SHLQ(Imm(2), lda)
		SHRQ(Imm(4), kc)
		JZ(LabelRef("done"))
		m := GP64()
		MOVQ(U64((uint64(1)<<mr)-1), m)
		KMOVW(m.As32(), reg.K1)
		r := zmm[:16]
		t := zmm[16:]
		for i := mr; i < 16; i++ {
			VPXORD(r[i], r[i], r[i])
		}
		row := GP64()
		Label("loop")
		MOVQ(a, row)
		for i := 0; i < mr; i++ {
			VMOVUPS(Mem{Base: row}, r[i])
			if i < mr-1 {
				ADDQ(lda, row)
			}
		}
		for i := 0; i < 8; i++ {
			VUNPCKLPS(r[2*i+1], r[2*i], t[2*i])
			VUNPCKHPS(r[2*i+1], r[2*i], t[2*i+1])
		}
		for g := 0; g < 4; g++ {
			x := 4 * g
			VSHUFPS(Imm(0x44), t[x+2], t[x], r[x])
			VSHUFPS(Imm(0xEE), t[x+2], t[x], r[x+1])
			VSHUFPS(Imm(0x44), t[x+3], t[x+1], r[x+2])
			VSHUFPS(Imm(0xEE), t[x+3], t[x+1], r[x+3])
		}
		for g := 0; g < 2; g++ {
			x := 8 * g
			for i := 0; i < 4; i++ {
				VSHUFF32X4(Imm(0x88), r[x+4+i], r[x+i], t[x+i])
				VSHUFF32X4(Imm(0xDD), r[x+4+i], r[x+i], t[x+4+i])
			}
		}
		for i := 0; i < 8; i++ {
			VSHUFF32X4(Imm(0x88), t[8+i], t[i], r[i])
			VSHUFF32X4(Imm(0xDD), t[8+i], t[i], r[8+i])
		}
		for p := 0; p < 16; p++ {
			VMOVUPS(r[p], reg.K1, Mem{Base: dst, Disp: 4 * mr * p})
		}
		// The rows >= mr were overwritten by the transpose: zero them again.
		for i := mr; i < 16; i++ {
			VPXORD(r[i], r[i], r[i])
		}
		ADDQ(Imm(64), a)
		ADDQ(U32(64*mr), dst)
		DECQ(kc)
		JNZ(LabelRef("loop"))
		Label("done")
		VZEROUPPER()
		RET()
	}
}

// packRowsSegKernels emits packRowsSeg512r<run> for run = 16, 8, 4: for i < rows,
// k < 32/run, j < run: dst[i*32+k*run+j] = src[segOffs[k]+offs[i]+j]. It packs
// whole 32-wide B panels whose columns come in 32/run runs (output rows of small
// images, for the implicit im2col), one panel row per iteration with 16-float
// register moves assembled from the runs, instead of one masked call per run.
func packRowsSegKernels() {
	for _, run := range []int{16, 8, 4} {
		TEXT(fmt.Sprintf("packRowsSeg512r%d", run), NOSPLIT, "func(rows int, src *float32, offs *int, segOffs *int, dst *float32)")
		Pragma("noescape")
		rows := Load(Param("rows"), GP64())
		src := Load(Param("src"), GP64())
		offs := Load(Param("offs"), GP64())
		segOffs := Load(Param("segOffs"), GP64())
		dst := Load(Param("dst"), GP64())
		nseg := 32 / run
		bases := make([]reg.GPVirtual, nseg)
		for k := range bases {
			bases[k] = GP64().(reg.GPVirtual)
			MOVQ(Mem{Base: segOffs, Disp: 8 * k}, bases[k])
			SHLQ(Imm(2), bases[k])
			ADDQ(src, bases[k])
		}
		o := GP64()
		TESTQ(rows, rows)
		JZ(LabelRef("done"))
		Label("loop")
		MOVQ(Mem{Base: offs}, o)
		per := nseg / 2 // runs per 16-float half
		for h := 0; h < 2; h++ {
			z := zmm[h]
			b := bases[h*per:]
			switch run {
			case 16:
				VMOVUPS(Mem{Base: b[0], Index: o, Scale: 4}, z)
			case 8:
				VMOVUPS(Mem{Base: b[0], Index: o, Scale: 4}, z.AsY())
				VINSERTF64X4(Imm(1), Mem{Base: b[1], Index: o, Scale: 4}, z, z)
			case 4:
				VMOVUPS(Mem{Base: b[0], Index: o, Scale: 4}, z.AsX())
				for k := 1; k < 4; k++ {
					VINSERTF32X4(Imm(uint64(k)), Mem{Base: b[k], Index: o, Scale: 4}, z, z)
				}
			}
		}
		VMOVUPS(zmm[0], Mem{Base: dst})
		VMOVUPS(zmm[1], Mem{Base: dst, Disp: 64})
		ADDQ(Imm(8), offs)
		ADDQ(Imm(128), dst)
		DECQ(rows)
		JNZ(LabelRef("loop"))
		Label("done")
		VZEROUPPER()
		RET()
	}
	deinterleaveKernel()
	interleaveAddKernel()
}

// deinterleaveKernel emits deinterleave512: even[i] = src[2i], odd[i] = src[2i+1]
// for 2i < n, 2i+1 < n: 32 floats per iteration with two VPERMT2PS (index tables
// 0,2,..,30 and 1,3,..,31), the last n%32 with masked loads and stores. It splits
// a row of a stride-2 convolution's input into its two column phases.
func deinterleaveKernel() {
	tbl := GLOBL("deint2idx", RODATA|NOPTR)
	for i := 0; i < 32; i++ { // 0, 2, .., 30, then 1, 3, .., 31
		DATA(4*i, U32(2*(i%16)+i/16))
	}
	TEXT("deinterleave512", NOSPLIT, "func(n int, src, even, odd *float32)")
	Pragma("noescape")
	n := Load(Param("n"), GP64())
	src := Load(Param("src"), GP64())
	even := Load(Param("even"), GP64())
	odd := Load(Param("odd"), GP64())
	VMOVDQU32(tbl, reg.Z30)
	VMOVDQU32(tbl.Offset(64), reg.Z31)
	CMPQ(n, Imm(32))
	JL(LabelRef("tail"))
	Label("loop")
	VMOVUPS(Mem{Base: src}, reg.Z0)
	VMOVAPS(reg.Z0, reg.Z1)
	VPERMT2PS(Mem{Base: src, Disp: 64}, reg.Z30, reg.Z0)
	VPERMT2PS(Mem{Base: src, Disp: 64}, reg.Z31, reg.Z1)
	VMOVUPS(reg.Z0, Mem{Base: even})
	VMOVUPS(reg.Z1, Mem{Base: odd})
	ADDQ(Imm(128), src)
	ADDQ(Imm(64), even)
	ADDQ(Imm(64), odd)
	SUBQ(Imm(32), n)
	CMPQ(n, Imm(32))
	JGE(LabelRef("loop"))
	Label("tail")
	TESTQ(n, n)
	JZ(LabelRef("done"))
	m := GP64()
	MOVQ(n, reg.RCX)
	MOVQ(U64(1), m)
	SHLQ(reg.CL, m)
	DECQ(m)
	KMOVW(m.As32(), reg.K1)
	SHRQ(Imm(16), m)
	KMOVW(m.As32(), reg.K2)
	INCQ(reg.RCX)
	SHRQ(Imm(1), reg.RCX)
	MOVQ(U64(1), m)
	SHLQ(reg.CL, m)
	DECQ(m)
	KMOVW(m.As32(), reg.K3)
	MOVQ(n, reg.RCX)
	SHRQ(Imm(1), reg.RCX)
	MOVQ(U64(1), m)
	SHLQ(reg.CL, m)
	DECQ(m)
	KMOVW(m.As32(), reg.K4)
	VMOVUPS_Z(Mem{Base: src}, reg.K1, reg.Z0)
	VMOVUPS_Z(Mem{Base: src, Disp: 64}, reg.K2, reg.Z2)
	VMOVAPS(reg.Z0, reg.Z1)
	VPERMT2PS(reg.Z2, reg.Z30, reg.Z0)
	VPERMT2PS(reg.Z2, reg.Z31, reg.Z1)
	VMOVUPS(reg.Z0, reg.K3, Mem{Base: even})
	VMOVUPS(reg.Z1, reg.K4, Mem{Base: odd})
	Label("done")
	VZEROUPPER()
	RET()
}

// interleaveAddKernel emits interleaveAdd512: dst[2i] += even[i], dst[2i+1] +=
// odd[i] for 2i < n, 2i+1 < n (the adjoint of deinterleave512): 32 floats per
// iteration, two VPERMT2PS zipping 16 even and 16 odd floats, the last n%32 with
// masked moves. It adds the column-matrix rows of two adjacent kernel columns of a
// stride-2 convolution back into one input row (col2im).
func interleaveAddKernel() {
	tbl := GLOBL("ileave2idx", RODATA|NOPTR)
	for i := 0; i < 32; i++ { // lo: 0, 16, 1, 17, .., 7, 23; hi: 8, 24, .., 15, 31
		DATA(4*i, U32(i%32/2+16*(i%2)))
	}
	TEXT("interleaveAdd512", NOSPLIT, "func(n int, dst, even, odd *float32)")
	Pragma("noescape")
	n := Load(Param("n"), GP64())
	dst := Load(Param("dst"), GP64())
	even := Load(Param("even"), GP64())
	odd := Load(Param("odd"), GP64())
	VMOVDQU32(tbl, reg.Z30)
	VMOVDQU32(tbl.Offset(64), reg.Z31)
	CMPQ(n, Imm(32))
	JL(LabelRef("tail"))
	Label("loop")
	VMOVUPS(Mem{Base: even}, reg.Z0)
	VMOVAPS(reg.Z0, reg.Z1)
	VPERMT2PS(Mem{Base: odd}, reg.Z30, reg.Z0)
	VPERMT2PS(Mem{Base: odd}, reg.Z31, reg.Z1)
	VADDPS(Mem{Base: dst}, reg.Z0, reg.Z0)
	VADDPS(Mem{Base: dst, Disp: 64}, reg.Z1, reg.Z1)
	VMOVUPS(reg.Z0, Mem{Base: dst})
	VMOVUPS(reg.Z1, Mem{Base: dst, Disp: 64})
	ADDQ(Imm(128), dst)
	ADDQ(Imm(64), even)
	ADDQ(Imm(64), odd)
	SUBQ(Imm(32), n)
	CMPQ(n, Imm(32))
	JGE(LabelRef("loop"))
	Label("tail")
	TESTQ(n, n)
	JZ(LabelRef("done"))
	m := GP64()
	MOVQ(n, reg.RCX)
	MOVQ(U64(1), m)
	SHLQ(reg.CL, m)
	DECQ(m)
	KMOVW(m.As32(), reg.K1)
	SHRQ(Imm(16), m)
	KMOVW(m.As32(), reg.K2)
	INCQ(reg.RCX)
	SHRQ(Imm(1), reg.RCX)
	MOVQ(U64(1), m)
	SHLQ(reg.CL, m)
	DECQ(m)
	KMOVW(m.As32(), reg.K3)
	MOVQ(n, reg.RCX)
	SHRQ(Imm(1), reg.RCX)
	MOVQ(U64(1), m)
	SHLQ(reg.CL, m)
	DECQ(m)
	KMOVW(m.As32(), reg.K4)
	VMOVUPS_Z(Mem{Base: even}, reg.K3, reg.Z0)
	VMOVUPS_Z(Mem{Base: odd}, reg.K4, reg.Z2)
	VMOVAPS(reg.Z0, reg.Z1)
	VPERMT2PS(reg.Z2, reg.Z30, reg.Z0)
	VPERMT2PS(reg.Z2, reg.Z31, reg.Z1)
	VMOVUPS_Z(Mem{Base: dst}, reg.K1, reg.Z2)
	VMOVUPS_Z(Mem{Base: dst, Disp: 64}, reg.K2, reg.Z3)
	VADDPS(reg.Z2, reg.Z0, reg.Z0)
	VADDPS(reg.Z3, reg.Z1, reg.Z1)
	VMOVUPS(reg.Z0, reg.K1, Mem{Base: dst})
	VMOVUPS(reg.Z1, reg.K2, Mem{Base: dst, Disp: 64})
	Label("done")
	VZEROUPPER()
	RET()
}
