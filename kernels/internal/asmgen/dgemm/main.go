// Command dgemm generates kernels/zdgemm_amd64.s with avo: the AVX-512 float64
// Gram (SYRK-style) micro-kernels and packing routines used by kernels.Dgram32 /
// kernels.Dgram64, and the float32 threshold filter used by kernels.IndexGreater.
// It writes its own file so that the float32 GEMM assembly (zasm_amd64.s, from
// the parent command) is never touched. Run it through `go generate ./kernels/`.
package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"
)

var zmm = []reg.VecPhysical{
	reg.Z0, reg.Z1, reg.Z2, reg.Z3, reg.Z4, reg.Z5, reg.Z6, reg.Z7,
	reg.Z8, reg.Z9, reg.Z10, reg.Z11, reg.Z12, reg.Z13, reg.Z14, reg.Z15,
	reg.Z16, reg.Z17, reg.Z18, reg.Z19, reg.Z20, reg.Z21, reg.Z22, reg.Z23,
	reg.Z24, reg.Z25, reg.Z26, reg.Z27, reg.Z28, reg.Z29, reg.Z30, reg.Z31,
}

func paramAddr(name string) Mem {
	b, err := Param(name).Resolve()
	if err != nil {
		panic(err)
	}
	return b.Addr
}

// gramKernel emits dgramKern8xN (N = 8*nv): for p < k,
// acc[i][j] += a[p*8+i] * B_j[p], where B_j is the 8-wide packed panel at
// b + j*bs (bs in elements), then C[i*ldc + 8j + 0..7] += acc[i][j].
func gramKernel(nv int) {
	const mr = 8
	TEXT(fmt.Sprintf("dgramKern8x%d", 8*nv), NOSPLIT, "func(k int, a, b *float64, bs int, c *float64, ldc int)")
	Pragma("noescape")
	k := Load(Param("k"), GP64())
	a := Load(Param("a"), GP64())
	b := Load(Param("b"), GP64())
	bs := Load(Param("bs"), GP64())
	SHLQ(Imm(3), bs)
	acc := zmm[:mr*nv]
	bv := zmm[24 : 24+nv]
	t := []reg.VecPhysical{zmm[28], zmm[29], zmm[30], zmm[31]}
	for _, r := range acc {
		VPXORQ(r, r, r)
	}
	bmem := func(j, disp int) Mem {
		switch j {
		case 0:
			return Mem{Base: b, Disp: disp}
		case 1:
			return Mem{Base: b, Index: bs, Scale: 1, Disp: disp}
		default:
			return Mem{Base: b, Index: bs, Scale: 2, Disp: disp}
		}
	}
	step := func(u int) {
		for j := 0; j < nv; j++ {
			VMOVUPD(bmem(j, 64*u), bv[j])
		}
		for i := 0; i < mr; i++ {
			ti := t[i%len(t)]
			VBROADCASTSD(Mem{Base: a, Disp: 8 * (u*mr + i)}, ti)
			for j := 0; j < nv; j++ {
				VFMADD231PD(bv[j], ti, acc[i*nv+j])
			}
		}
	}
	const unroll = 4
	n4 := GP64()
	MOVQ(k, n4)
	SHRQ(Imm(2), n4)
	JZ(LabelRef("tail"))
	Label("loop4")
	for u := 0; u < unroll; u++ {
		step(u)
	}
	ADDQ(U32(8*unroll*mr), a)
	ADDQ(U32(64*unroll), b)
	DECQ(n4)
	JNZ(LabelRef("loop4"))
	Label("tail")
	ANDQ(Imm(3), k)
	JZ(LabelRef("store"))
	Label("loop1")
	step(0)
	ADDQ(U32(8*mr), a)
	ADDQ(U32(64), b)
	DECQ(k)
	JNZ(LabelRef("loop1"))

	Label("store")
	c := Load(Param("c"), GP64())
	ldc := Load(Param("ldc"), GP64())
	SHLQ(Imm(3), ldc)
	for i := 0; i < mr; i++ {
		for j := 0; j < nv; j++ {
			VADDPD(Mem{Base: c, Disp: 64 * j}, acc[i*nv+j], acc[i*nv+j])
			VMOVUPD(acc[i*nv+j], Mem{Base: c, Disp: 64 * j})
		}
		if i+1 < mr {
			ADDQ(ldc, c)
		}
	}
	VZEROUPPER()
	RET()
}

// gramPack emits dgramPack32 / dgramPack64: for p < rows and q < d8 (d = 8*d8),
// dst[q*ps + p*8 + l] = x[p*ldx + 8q + l] * scale[p*sstride] - shift[8q + l]
// (one FMA rounding). sstride is 0 or 1 (elements); ps and ldx in elements.
func gramPack(f32 bool) {
	name, xt := "dgramPack64", "*float64"
	if f32 {
		name, xt = "dgramPack32", "*float32"
	}
	TEXT(name, NOSPLIT, "func(rows, d8 int, x "+xt+", ldx int, scale *float64, sstride int, shift *float64, dst *float64, ps int)")
	Pragma("noescape")
	rows := Load(Param("rows"), GP64())
	d8 := Load(Param("d8"), GP64())
	x := Load(Param("x"), GP64())
	ldx := Load(Param("ldx"), GP64())
	sc := Load(Param("scale"), GP64())
	ss := Load(Param("sstride"), GP64())
	shift := Load(Param("shift"), GP64())
	dst := Load(Param("dst"), GP64())
	ps := Load(Param("ps"), GP64())
	esz := 8
	if f32 {
		esz = 4
	}
	if f32 {
		SHLQ(Imm(2), ldx)
	} else {
		SHLQ(Imm(3), ldx)
	}
	SHLQ(Imm(3), ss)
	SHLQ(Imm(3), ps)
	TESTQ(rows, rows)
	JZ(LabelRef("done"))
	xr, sh, dr, q := GP64(), GP64(), GP64(), GP64()
	Label("row")
	VBROADCASTSD(Mem{Base: sc}, reg.Z31)
	MOVQ(x, xr)
	MOVQ(shift, sh)
	MOVQ(dst, dr)
	MOVQ(d8, q)
	Label("col")
	if f32 {
		VCVTPS2PD(Mem{Base: xr}, reg.Z0)
	} else {
		VMOVUPD(Mem{Base: xr}, reg.Z0)
	}
	VMOVUPD(Mem{Base: sh}, reg.Z1)
	VFMSUB231PD(reg.Z31, reg.Z0, reg.Z1) // z1 = z0*s - z1
	VMOVUPD(reg.Z1, Mem{Base: dr})
	ADDQ(Imm(uint64(8*esz)), xr)
	ADDQ(Imm(64), sh)
	ADDQ(ps, dr)
	DECQ(q)
	JNZ(LabelRef("col"))
	ADDQ(ldx, x)
	ADDQ(ss, sc)
	ADDQ(Imm(64), dst)
	DECQ(rows)
	JNZ(LabelRef("row"))
	Label("done")
	VZEROUPPER()
	RET()
}

// filterGT emits filterGT512: writes base+j for every j < n with x[j] > thr (in
// increasing j) to idx and returns how many; n a multiple of 16. idx must have
// room for n+16 entries (whole vectors are stored).
func filterGT() {
	TEXT("filterGT512", NOSPLIT, "func(n int, x *float32, thr float32, base int32, idx *int32) int")
	Pragma("noescape")
	n := Load(Param("n"), GP64())
	x := Load(Param("x"), GP64())
	idx := Load(Param("idx"), GP64())
	out := GP64()
	MOVQ(idx, out)
	VBROADCASTSS(paramAddr("thr"), reg.Z31)
	VPBROADCASTD(paramAddr("base"), reg.Z30)
	// Z29 = 0..15 + base, Z28 = 16s.
	iota := GP32()
	MOVL(U32(16), iota)
	VPBROADCASTD(iota, reg.Z28)
	// Build 0..15 by prefix: use VPMOVZXBD from a constant.
	c := GLOBL("iota16", RODATA|NOPTR)
	for i := 0; i < 16; i++ {
		DATA(i, U8(i))
	}
	VPMOVZXBD(c, reg.Z29)
	VPADDD(reg.Z30, reg.Z29, reg.Z29)
	SHRQ(Imm(4), n)
	JZ(LabelRef("done"))
	cnt := GP64()
	Label("loop4")
	CMPQ(n, Imm(4))
	JL(LabelRef("loop1"))
	// Four vectors: one combined test for the common no-hit case.
	VCMPPS(Imm(0x11), Mem{Base: x}, reg.Z31, reg.K1) // LT_OQ: thr < x (Go operand order), false for NaN
	VCMPPS(Imm(0x11), Mem{Base: x, Disp: 64}, reg.Z31, reg.K2)
	VCMPPS(Imm(0x11), Mem{Base: x, Disp: 128}, reg.Z31, reg.K3)
	VCMPPS(Imm(0x11), Mem{Base: x, Disp: 192}, reg.Z31, reg.K4)
	KORW(reg.K1, reg.K2, reg.K5)
	KORW(reg.K3, reg.K4, reg.K6)
	KORTESTW(reg.K5, reg.K6)
	JZ(LabelRef("skip4"))
	for u, k := range []reg.OpmaskPhysical{reg.K1, reg.K2, reg.K3, reg.K4} {
		if u > 0 {
			VPADDD(reg.Z28, reg.Z29, reg.Z29)
		}
		VPCOMPRESSD_Z(reg.Z29, k, reg.Z0)
		VMOVDQU32(reg.Z0, Mem{Base: out})
		KMOVW(k, cnt.As32())
		POPCNTL(cnt.As32(), cnt.As32())
		LEAQ(Mem{Base: out, Index: cnt, Scale: 4}, out)
	}
	VPADDD(reg.Z28, reg.Z29, reg.Z29)
	JMP(LabelRef("next4"))
	Label("skip4")
	for u := 0; u < 4; u++ {
		VPADDD(reg.Z28, reg.Z29, reg.Z29)
	}
	Label("next4")
	ADDQ(U32(256), x)
	SUBQ(Imm(4), n)
	JMP(LabelRef("loop4"))
	Label("loop1")
	TESTQ(n, n)
	JZ(LabelRef("done"))
	VCMPPS(Imm(0x11), Mem{Base: x}, reg.Z31, reg.K1)
	VPCOMPRESSD_Z(reg.Z29, reg.K1, reg.Z0)
	VMOVDQU32(reg.Z0, Mem{Base: out})
	KMOVW(reg.K1, cnt.As32())
	POPCNTL(cnt.As32(), cnt.As32())
	LEAQ(Mem{Base: out, Index: cnt, Scale: 4}, out)
	VPADDD(reg.Z28, reg.Z29, reg.Z29)
	ADDQ(Imm(64), x)
	DECQ(n)
	JMP(LabelRef("loop1"))
	Label("done")
	SUBQ(idx, out)
	SHRQ(Imm(2), out)
	Store(out, ReturnIndex(0))
	VZEROUPPER()
	RET()
}

func main() {
	ConstraintExpr("amd64,!purego")
	for nv := 1; nv <= 3; nv++ {
		gramKernel(nv)
	}
	gramPack(true)
	gramPack(false)
	filterGT()
	Generate()
}
