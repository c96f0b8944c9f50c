package main

import (
	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"
)

// vecLoop emits a loop over n (a multiple of 16) floats: blocks of 64 floats while
// possible, then blocks of 16. body(off, u) handles vector u at byte offset off from
// the current pointers; advance moves all pointers by the given byte count.
func vecLoop(n reg.GPVirtual, body func(disp, u int), advance func(bytes int)) {
	Label("loop64")
	CMPQ(n, Imm(64))
	JL(LabelRef("loop16"))
	for u := 0; u < 4; u++ {
		body(64*u, u)
	}
	advance(256)
	SUBQ(Imm(64), n)
	JMP(LabelRef("loop64"))
	Label("loop16")
	CMPQ(n, Imm(16))
	JL(LabelRef("done"))
	body(0, 0)
	advance(64)
	SUBQ(Imm(16), n)
	JMP(LabelRef("loop16"))
	Label("done")
}

func hsum(z reg.VecPhysical, x reg.VecPhysical, y reg.VecPhysical, t reg.VecPhysical) {
	// z is a zmm register; x / y its xmm / ymm aliases; t a scratch zmm.
	_ = y
	VEXTRACTF64X4(Imm(1), z, t.AsY())
	VADDPS(t.AsY(), z.AsY(), y)
	VEXTRACTF128(Imm(1), y, t.AsX())
	VADDPS(t.AsX(), x, x)
	VHADDPS(x, x, x)
	VHADDPS(x, x, x)
}

func vecKernels() {
	TEXT("axpy512", NOSPLIT, "func(n int, alpha float32, x, y *float32)")
	Pragma("noescape")
	{
		n := Load(Param("n"), GP64()).(reg.GPVirtual)
		x := Load(Param("x"), GP64())
		y := Load(Param("y"), GP64())
		VBROADCASTSS(paramAddr("alpha"), reg.Z31)
		vecLoop(n, func(d, u int) {
			VMOVUPS(Mem{Base: y, Disp: d}, zmm[u])
			VFMADD231PS(Mem{Base: x, Disp: d}, reg.Z31, zmm[u])
			VMOVUPS(zmm[u], Mem{Base: y, Disp: d})
		}, func(b int) { ADDQ(U32(b), x); ADDQ(U32(b), y) })
		VZEROUPPER()
		RET()
	}

	TEXT("scale512", NOSPLIT, "func(n int, alpha float32, x *float32)")
	Pragma("noescape")
	{
		n := Load(Param("n"), GP64()).(reg.GPVirtual)
		x := Load(Param("x"), GP64())
		VBROADCASTSS(paramAddr("alpha"), reg.Z31)
		vecLoop(n, func(d, u int) {
			VMULPS(Mem{Base: x, Disp: d}, reg.Z31, zmm[u])
			VMOVUPS(zmm[u], Mem{Base: x, Disp: d})
		}, func(b int) { ADDQ(U32(b), x) })
		VZEROUPPER()
		RET()
	}

	TEXT("dot512", NOSPLIT, "func(n int, x, y *float32) float32")
	Pragma("noescape")
	{
		n := Load(Param("n"), GP64()).(reg.GPVirtual)
		x := Load(Param("x"), GP64())
		y := Load(Param("y"), GP64())
		for u := 0; u < 4; u++ {
			VPXORD(zmm[u], zmm[u], zmm[u])
		}
		vecLoop(n, func(d, u int) {
			VMOVUPS(Mem{Base: x, Disp: d}, zmm[8+u])
			VFMADD231PS(Mem{Base: y, Disp: d}, zmm[8+u], zmm[u])
		}, func(b int) { ADDQ(U32(b), x); ADDQ(U32(b), y) })
		VADDPS(reg.Z1, reg.Z0, reg.Z0)
		VADDPS(reg.Z3, reg.Z2, reg.Z2)
		VADDPS(reg.Z2, reg.Z0, reg.Z0)
		hsum(reg.Z0, reg.X0, reg.Y0, reg.Z1)
		VZEROUPPER()
		Store(reg.X0, ReturnIndex(0))
		RET()
	}

	TEXT("sum512", NOSPLIT, "func(n int, x *float32) float32")
	Pragma("noescape")
	{
		n := Load(Param("n"), GP64()).(reg.GPVirtual)
		x := Load(Param("x"), GP64())
		for u := 0; u < 4; u++ {
			VPXORD(zmm[u], zmm[u], zmm[u])
		}
		vecLoop(n, func(d, u int) {
			VADDPS(Mem{Base: x, Disp: d}, zmm[u], zmm[u])
		}, func(b int) { ADDQ(U32(b), x) })
		VADDPS(reg.Z1, reg.Z0, reg.Z0)
		VADDPS(reg.Z3, reg.Z2, reg.Z2)
		VADDPS(reg.Z2, reg.Z0, reg.Z0)
		hsum(reg.Z0, reg.X0, reg.Y0, reg.Z1)
		VZEROUPPER()
		Store(reg.X0, ReturnIndex(0))
		RET()
	}

	TEXT("relu512", NOSPLIT, "func(n int, dst, src *float32)")
	Pragma("noescape")
	{
		n := Load(Param("n"), GP64()).(reg.GPVirtual)
		dst := Load(Param("dst"), GP64())
		src := Load(Param("src"), GP64())
		VPXORD(reg.Z31, reg.Z31, reg.Z31)
		vecLoop(n, func(d, u int) {
			// max(x, 0) with 0 as the second source: NaN gives 0, as the Go path.
			VMOVUPS(Mem{Base: src, Disp: d}, zmm[u])
			VMAXPS(reg.Z31, zmm[u], zmm[u])
			VMOVUPS(zmm[u], Mem{Base: dst, Disp: d})
		}, func(b int) { ADDQ(U32(b), dst); ADDQ(U32(b), src) })
		VZEROUPPER()
		RET()
	}

	TEXT("reluBwd512", NOSPLIT, "func(n int, dx, dy, y *float32)")
	Pragma("noescape")
	{
		n := Load(Param("n"), GP64()).(reg.GPVirtual)
		dx := Load(Param("dx"), GP64())
		dy := Load(Param("dy"), GP64())
		y := Load(Param("y"), GP64())
		VPXORD(reg.Z31, reg.Z31, reg.Z31)
		ks := []reg.OpmaskPhysical{reg.K1, reg.K2, reg.K3, reg.K4}
		vecLoop(n, func(d, u int) {
			// k = 0 < y (LT_OQ; NaN gives false), dx = dy where k else 0.
			VCMPPS(Imm(0x11), Mem{Base: y, Disp: d}, reg.Z31, ks[u])
			VMOVUPS_Z(Mem{Base: dy, Disp: d}, ks[u], zmm[u])
			VMOVUPS(zmm[u], Mem{Base: dx, Disp: d})
		}, func(b int) {
			ADDQ(U32(b), dx)
			ADDQ(U32(b), dy)
			ADDQ(U32(b), y)
		})
		VZEROUPPER()
		RET()
	}

	TEXT("add512", NOSPLIT, "func(n int, dst, a, b *float32)")
	Pragma("noescape")
	{
		n := Load(Param("n"), GP64()).(reg.GPVirtual)
		dst := Load(Param("dst"), GP64())
		a := Load(Param("a"), GP64())
		b := Load(Param("b"), GP64())
		vecLoop(n, func(d, u int) {
			VMOVUPS(Mem{Base: a, Disp: d}, zmm[u])
			VADDPS(Mem{Base: b, Disp: d}, zmm[u], zmm[u])
			VMOVUPS(zmm[u], Mem{Base: dst, Disp: d})
		}, func(bb int) {
			ADDQ(U32(bb), dst)
			ADDQ(U32(bb), a)
			ADDQ(U32(bb), b)
		})
		VZEROUPPER()
		RET()
	}
}

// fmaPeak emits fmaPeak512(n): n iterations of 12 independent zmm FMAs on
// registers only, used to measure the machine's current FMA ceiling.
func fmaPeak() {
	TEXT("fmaPeak512", NOSPLIT, "func(n int)")
	n := Load(Param("n"), GP64())
	for i := 0; i < 12; i++ {
		VPXORD(zmm[i], zmm[i], zmm[i])
	}
	VPXORD(reg.Z30, reg.Z30, reg.Z30)
	VPXORD(reg.Z31, reg.Z31, reg.Z31)
	Label("loop")
	for i := 0; i < 12; i++ {
		VFMADD231PS(reg.Z30, reg.Z31, zmm[i])
	}
	DECQ(n)
	JNZ(LabelRef("loop"))
	VZEROUPPER()
	RET()
}
