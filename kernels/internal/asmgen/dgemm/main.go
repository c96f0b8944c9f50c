// Command dgemm generates kernels/zdgemm_amd64.s with avo: the AVX-512 float64
// Gram (SYRK-style) micro-kernels and packing routines used by kernels.Dgram32 /
// kernels.Dgram64, and the float32 threshold filter used by kernels.IndexGreater.
// It writes its own file so that the float32 GEMM assembly (zasm_amd64.s, from
// the parent command) is never touched. Run it through `go generate ./kernels/`.
package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	"github.com/mmcloughlin/avo/operand"
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
	bs := Load(Param("base"), GP32())
	VPBROADCASTD(bs, reg.Z30)
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

// rank2Dot emits drank2dot512: for j < n (a multiple of 8),
// r[j] -= a*w[j] + b*v[j], and returns sum_j r[j]*u[j] of the updated r.
// With a = b = 0 it is a dot product of r and u (r rewritten unchanged).
func rank2Dot() {
	TEXT("drank2dot512", NOSPLIT, "func(n int, r, v, w *float64, a, b float64, u *float64) float64")
	Pragma("noescape")
	n := Load(Param("n"), GP64())
	r := Load(Param("r"), GP64())
	v := Load(Param("v"), GP64())
	w := Load(Param("w"), GP64())
	u := Load(Param("u"), GP64())
	VBROADCASTSD(paramAddr("a"), reg.Z30)
	VBROADCASTSD(paramAddr("b"), reg.Z31)
	acc := []reg.VecPhysical{reg.Z0, reg.Z1, reg.Z2, reg.Z3}
	for _, z := range acc {
		VPXORQ(z, z, z)
	}
	chunk := func(disp, q int) {
		x := zmm[4+q]
		VMOVUPD(Mem{Base: r, Disp: disp}, x)
		VFNMADD231PD(Mem{Base: w, Disp: disp}, reg.Z30, x) // x -= a*w
		VFNMADD231PD(Mem{Base: v, Disp: disp}, reg.Z31, x) // x -= b*v
		VMOVUPD(x, Mem{Base: r, Disp: disp})
		VFMADD231PD(Mem{Base: u, Disp: disp}, x, acc[q])
	}
	adv := func(bytes int) {
		for _, p := range []reg.Register{r, v, w, u} {
			ADDQ(U32(bytes), p)
		}
	}
	Label("loop32")
	CMPQ(n, Imm(32))
	JL(LabelRef("loop8"))
	for q := 0; q < 4; q++ {
		chunk(64*q, q)
	}
	adv(256)
	SUBQ(Imm(32), n)
	JMP(LabelRef("loop32"))
	Label("loop8")
	CMPQ(n, Imm(8))
	JL(LabelRef("done"))
	chunk(0, 0)
	adv(64)
	SUBQ(Imm(8), n)
	JMP(LabelRef("loop8"))
	Label("done")
	hsumPD()
	Store(reg.X0, ReturnIndex(0))
	VZEROUPPER()
	RET()
}

// rank2Symv emits drank2symv512: for j < n (a multiple of 8),
// x = r[j] - (a*wp[j] + b*vp[j]); r[j] = x; p[j] += vi*x; and returns
// sum_j x*v[j]: one row of a deferred symmetric rank-2 update fused with that
// row's share of a symmetric matrix-vector product on upper-triangle storage.
func rank2Symv() {
	TEXT("drank2symv512", NOSPLIT, "func(n, head int, r, vp, wp *float64, a, b float64, v *float64, vi float64, p *float64) float64")
	Pragma("noescape")
	n := Load(Param("n"), GP64())
	head := Load(Param("head"), GP64())
	r := Load(Param("r"), GP64())
	vp := Load(Param("vp"), GP64())
	wp := Load(Param("wp"), GP64())
	v := Load(Param("v"), GP64())
	pp := Load(Param("p"), GP64())
	VBROADCASTSD(paramAddr("a"), reg.Z29)
	VBROADCASTSD(paramAddr("b"), reg.Z30)
	VBROADCASTSD(paramAddr("vi"), reg.Z31)
	acc := []reg.VecPhysical{reg.Z0, reg.Z1, reg.Z2, reg.Z3}
	for _, z := range acc {
		VPXORQ(z, z, z)
	}
	chunk := func(disp, q int) {
		x, y := zmm[4+q], zmm[8+q]
		VMOVUPD(Mem{Base: r, Disp: disp}, x)
		VMOVUPD(Mem{Base: pp, Disp: disp}, y)
		VFNMADD231PD(Mem{Base: wp, Disp: disp}, reg.Z29, x) // x -= a*wp
		VFNMADD231PD(Mem{Base: vp, Disp: disp}, reg.Z30, x) // x -= b*vp
		VMOVUPD(x, Mem{Base: r, Disp: disp})
		VFMADD231PD(Mem{Base: v, Disp: disp}, x, acc[q])
		VFMADD231PD(x, reg.Z31, y) // p += vi*x
		VMOVUPD(y, Mem{Base: pp, Disp: disp})
	}
	adv := func(bytes int) {
		for _, p := range []reg.Register{r, vp, wp, v, pp} {
			ADDQ(U32(bytes), p)
		}
	}
	// Head: the first `head` (< 8) elements as one zero-masked chunk, so that the
	// main loop runs on 64-byte aligned rows (split lines cost ~2x on Zen 4).
	TESTQ(head, head)
	JZ(LabelRef("loop32"))
	{
		m := GP64()
		MOVQ(U64(1), m)
		MOVQ(head, reg.RCX)
		SHLQ(reg.CL, m)
		DECQ(m)
		KMOVW(m.As32(), reg.K1)
		x, y := reg.Z4, reg.Z8
		VMOVUPD_Z(Mem{Base: r}, reg.K1, x)
		VMOVUPD_Z(Mem{Base: pp}, reg.K1, y)
		VMOVUPD_Z(Mem{Base: wp}, reg.K1, reg.Z12)
		VMOVUPD_Z(Mem{Base: vp}, reg.K1, reg.Z13)
		VMOVUPD_Z(Mem{Base: v}, reg.K1, reg.Z14)
		VFNMADD231PD(reg.Z12, reg.Z29, x)
		VFNMADD231PD(reg.Z13, reg.Z30, x)
		VMOVUPD(x, reg.K1, Mem{Base: r})
		VFMADD231PD(reg.Z14, x, acc[0])
		VFMADD231PD(x, reg.Z31, y)
		VMOVUPD(y, reg.K1, Mem{Base: pp})
		SUBQ(head, n)
		SHLQ(Imm(3), head)
		for _, p := range []reg.Register{r, vp, wp, v, pp} {
			ADDQ(head, p)
		}
	}
	Label("loop32")
	CMPQ(n, Imm(32))
	JL(LabelRef("loop8"))
	for q := 0; q < 4; q++ {
		chunk(64*q, q)
	}
	adv(256)
	SUBQ(Imm(32), n)
	JMP(LabelRef("loop32"))
	Label("loop8")
	CMPQ(n, Imm(8))
	JL(LabelRef("done"))
	chunk(0, 0)
	adv(64)
	SUBQ(Imm(8), n)
	JMP(LabelRef("loop8"))
	Label("done")
	hsumPD()
	Store(reg.X0, ReturnIndex(0))
	VZEROUPPER()
	RET()
}

// hsumPD leaves the sum of the eight lanes of Z0..Z3 in X0.
func hsumPD() {
	VADDPD(reg.Z1, reg.Z0, reg.Z0)
	VADDPD(reg.Z3, reg.Z2, reg.Z2)
	VADDPD(reg.Z2, reg.Z0, reg.Z0)
	VEXTRACTF64X4(Imm(1), reg.Z0, reg.Y1)
	VADDPD(reg.Y1, reg.Y0, reg.Y0)
	VEXTRACTF128(Imm(1), reg.Y0, reg.X1)
	VADDPD(reg.X1, reg.X0, reg.X0)
	VPERMILPD(Imm(1), reg.X0, reg.X1)
	VADDSD(reg.X1, reg.X0, reg.X0)
}

// gramPackStats emits dgramPackStats32: dgramPack32 fused with the per-row norm
// and per-column statistics of package collapse. For each of rows rows (d = 8*d8):
// ss = sum_j x[j]^2 (float64), inv = 1/max(sqrt(ss), 1e-12), s = inv when
// normalize != 0 else 1 (kept in rs[2r], rs[2r+1]); then for every column j:
// y = x[j]*s - shift[j] (one FMA rounding) goes to the packed panel (as
// dgramPack32), sums[j] += y, sums[d+j] += z and sums[2d+j] += z*z with
// z = x[j]*inv. The second pass walks panel by panel (column-major over the slab):
// the packed stores are sequential and the column sums stay in registers; walking
// row by row instead scatters every store 8 KiB apart and measured 3x slower.
func gramPackStats() {
	TEXT("dgramPackStats32", NOSPLIT, "func(rows, d8 int, x *float32, ldx int, normalize int, shift *float64, dst *float64, ps int, sums *float64, rs *float64)")
	Pragma("noescape")
	rows := Load(Param("rows"), GP64())
	d8 := Load(Param("d8"), GP64())
	x := Load(Param("x"), GP64())
	ldx := Load(Param("ldx"), GP64())
	norm := Load(Param("normalize"), GP64())
	shift := Load(Param("shift"), GP64())
	dst := Load(Param("dst"), GP64())
	sums := Load(Param("sums"), GP64())
	rs := Load(Param("rs"), GP64())
	SHLQ(Imm(2), ldx)
	dB := GP64()
	MOVQ(d8, dB)
	SHLQ(Imm(6), dB) // d*8 bytes
	t := GP64()
	MOVQ(U64(0x3d719799812dea11), t) // 1e-12
	VMOVQ(t, reg.X28)
	MOVQ(U64(0x3ff0000000000000), t) // 1.0
	VMOVQ(t, reg.X27)
	TESTQ(rows, rows)
	JZ(LabelRef("done"))
	xr, q, p, rp := GP64(), GP64(), GP64(), GP64()
	// Pass 1: row norms and scales.
	MOVQ(x, xr)
	MOVQ(rs, rp)
	MOVQ(rows, p)
	Label("row")
	VPXORQ(reg.Z8, reg.Z8, reg.Z8)
	VPXORQ(reg.Z9, reg.Z9, reg.Z9)
	row := GP64()
	MOVQ(xr, row)
	MOVQ(d8, q)
	Label("sq")
	VCVTPS2PD(Mem{Base: row}, reg.Z0)
	VFMADD231PD(reg.Z0, reg.Z0, reg.Z8)
	ADDQ(Imm(32), row)
	DECQ(q)
	JZ(LabelRef("sqdone"))
	VCVTPS2PD(Mem{Base: row}, reg.Z1)
	VFMADD231PD(reg.Z1, reg.Z1, reg.Z9)
	ADDQ(Imm(32), row)
	DECQ(q)
	JNZ(LabelRef("sq"))
	Label("sqdone")
	VADDPD(reg.Z9, reg.Z8, reg.Z8)
	VEXTRACTF64X4(Imm(1), reg.Z8, reg.Y9)
	VADDPD(reg.Y9, reg.Y8, reg.Y8)
	VEXTRACTF128(Imm(1), reg.Y8, reg.X9)
	VADDPD(reg.X9, reg.X8, reg.X8)
	VPERMILPD(Imm(1), reg.X8, reg.X9)
	VADDSD(reg.X9, reg.X8, reg.X8)
	VSQRTSD(reg.X8, reg.X8, reg.X8)
	VMAXSD(reg.X28, reg.X8, reg.X8) // max(norm, 1e-12)
	VDIVSD(reg.X8, reg.X27, reg.X8) // inv = 1/norm
	VMOVSD(reg.X8, Mem{Base: rp, Disp: 8})
	TESTQ(norm, norm)
	JZ(LabelRef("unscaled"))
	VMOVSD(reg.X8, Mem{Base: rp})
	JMP(LabelRef("scaled"))
	Label("unscaled")
	VMOVSD(reg.X27, Mem{Base: rp})
	Label("scaled")
	ADDQ(ldx, xr)
	ADDQ(Imm(16), rp)
	DECQ(p)
	JNZ(LabelRef("row"))
	// Pass 2: panel by panel. Panels are contiguous (ps = 8*rows), so the store
	// pointer just runs on from one panel into the next.
	dr := GP64()
	MOVQ(dst, dr)
	MOVQ(d8, q)
	Label("panel")
	VMOVUPD(Mem{Base: shift}, reg.Z1)
	VPXORQ(reg.Z10, reg.Z10, reg.Z10)
	VPXORQ(reg.Z11, reg.Z11, reg.Z11)
	VPXORQ(reg.Z12, reg.Z12, reg.Z12)
	MOVQ(x, xr)
	MOVQ(rs, rp)
	MOVQ(rows, p)
	Label("prow")
	VCVTPS2PD(Mem{Base: xr}, reg.Z0)
	VBROADCASTSD(Mem{Base: rp}, reg.Z2)
	VBROADCASTSD(Mem{Base: rp, Disp: 8}, reg.Z3)
	VMULPD(reg.Z3, reg.Z0, reg.Z5)      // z = x*inv
	VFMSUB213PD(reg.Z1, reg.Z2, reg.Z0) // y = s*x - shift
	VMOVUPD(reg.Z0, Mem{Base: dr})
	VADDPD(reg.Z0, reg.Z10, reg.Z10)
	VADDPD(reg.Z5, reg.Z11, reg.Z11)
	VFMADD231PD(reg.Z5, reg.Z5, reg.Z12)
	ADDQ(ldx, xr)
	ADDQ(Imm(16), rp)
	ADDQ(Imm(64), dr)
	DECQ(p)
	JNZ(LabelRef("prow"))
	VADDPD(Mem{Base: sums}, reg.Z10, reg.Z10)
	VMOVUPD(reg.Z10, Mem{Base: sums})
	VADDPD(Mem{Base: sums, Index: dB, Scale: 1}, reg.Z11, reg.Z11)
	VMOVUPD(reg.Z11, Mem{Base: sums, Index: dB, Scale: 1})
	VADDPD(Mem{Base: sums, Index: dB, Scale: 2}, reg.Z12, reg.Z12)
	VMOVUPD(reg.Z12, Mem{Base: sums, Index: dB, Scale: 2})
	ADDQ(Imm(32), x)
	ADDQ(Imm(64), shift)
	ADDQ(Imm(64), sums)
	DECQ(q)
	JNZ(LabelRef("panel"))
	Label("done")
	VZEROUPPER()
	RET()
}

// prefetch emits dprefetch (PREFETCHT1: into L2, so the next slab of rows streams
// in while the FMAs run) and dprefetch0 (PREFETCHT0: into L1, for rows of a gather
// loop a few iterations ahead) over n consecutive 64-byte lines from p.
func prefetch() {
	prefetchOne("dprefetch", PREFETCHT1)
	prefetchOne("dprefetch0", PREFETCHT0)
}

func prefetchOne(name string, ins func(operand.Op)) {
	TEXT(name, NOSPLIT, "func(p *byte, n int)")
	Pragma("noescape")
	p := Load(Param("p"), GP64())
	n := Load(Param("n"), GP64())
	TESTQ(n, n)
	JLE(LabelRef("done"))
	Label("loop")
	ins(Mem{Base: p})
	ADDQ(Imm(64), p)
	DECQ(n)
	JNZ(LabelRef("loop"))
	Label("done")
	RET()
}

func main() {
	ConstraintExpr("amd64,!purego")
	for nv := 1; nv <= 3; nv++ {
		gramKernel(nv)
	}
	gramPack(true)
	gramPack(false)
	gramPackStats()
	filterGT()
	rank2Dot()
	rank2Symv()
	prefetch()
	Generate()
}
