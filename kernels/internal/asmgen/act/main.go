// Command act generates kernels/zact_amd64.s with avo: the AVX-512 loops of the
// transformer activations behind kernels.ExpShift, kernels.Max, kernels.GELU and
// kernels.GELUGrad (kernels/act.go). It writes its own file so the other
// generated assembly is never touched. Run it through `go generate ./kernels/`.
//
// Every kernel takes n, a multiple of 16 (the Go wrapper does the rest), runs
// four vectors per iteration while it can and then one. The polynomials are the
// Go path's (the constants below are a copy of kernels/act.go's; a test compares
// them), evaluated with fused multiply-adds and the polynomial coefficients as
// embedded broadcasts from a constant table. Clamps keep the input as the operand
// that VMAXPS/VMINPS return for NaN, so NaN propagates.
package main

import (
	"math"

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

// Constants, in table order (a copy of kernels/act.go's).
var consts = []struct {
	name string
	v    float32
}{
	{"expLog2e", 1.44269504088896341},
	{"expLn2Hi", 0.693359375},
	{"expLn2Lo", -2.12194440e-4},
	{"expC0", 5.0000001201e-1},
	{"expC1", 1.6666665459e-1},
	{"expC2", 4.1665795894e-2},
	{"expC3", 8.3334519073e-3},
	{"expC4", 1.3981999507e-3},
	{"expC5", 1.9875691500e-4},
	{"expLo", -104},
	{"expHi", 89},
	{"erfClamp", 4},
	{"erfP0", -1.60960333262415e-02},
	{"erfP1", -2.95459980854025e-03},
	{"erfP2", -7.34990630326855e-04},
	{"erfP3", -5.69250639462346e-05},
	{"erfP4", -2.10102402082508e-06},
	{"erfP5", 2.77068142495902e-08},
	{"erfP6", -2.72614225801306e-10},
	{"erfQ0", -1.42647390514189e-02},
	{"erfQ1", -7.37332916720468e-03},
	{"erfQ2", -1.68282697438203e-03},
	{"erfQ3", -2.13374055278905e-04},
	{"erfQ4", -1.45660718464996e-05},
	{"invSqrt2", 0.70710678118654752},
	{"invSqrt2Pi", 0.39894228040143268},
	{"half", 0.5},
	{"one", 1},
	{"mhalf", -0.5},
	{"merfClamp", -4},
}

var table Mem

// c returns the table entry name as a memory operand (for embedded broadcasts).
func c(name string) Mem {
	for i, k := range consts {
		if k.name == name {
			return table.Offset(4 * i)
		}
	}
	panic("no constant " + name)
}

// clampRegs holds the clamp bounds in registers (VMAXPS/VMINPS take the
// pass-through operand from a register so NaN survives).
type clampRegs struct{ expLo, expHi, erfLo, erfHi reg.VecPhysical }

func loadClamps(r []reg.VecPhysical) clampRegs {
	cr := clampRegs{r[0], r[1], r[2], r[3]}
	VBROADCASTSS(c("expLo"), cr.expLo)
	VBROADCASTSS(c("expHi"), cr.expHi)
	VBROADCASTSS(c("merfClamp"), cr.erfLo)
	VBROADCASTSS(c("erfClamp"), cr.erfHi)
	return cr
}

// clamp sets x = min(max(x, lo), hi); a NaN x stays NaN (Intel's MAXPS/MINPS
// return the second source operand, here x, when either is NaN).
func clamp(x, lo, hi reg.VecPhysical) {
	VMAXPS(x, lo, x)
	VMINPS(x, hi, x)
}

// exp sets out = exp(x) (x is clobbered); t holds two scratch registers.
// exp(x) = 2^n * (1 + r(1 + r(c0 + r(c1 + ... + r c5)))) with n = round(x log2 e)
// and r = x - n ln2 (two parts); VSCALEFPS applies 2^n, underflowing to 0.
func exp(cr clampRegs, x, out reg.VecPhysical, t []reg.VecPhysical) {
	n, r := t[0], t[1]
	clamp(x, cr.expLo, cr.expHi)
	VMULPS_BCST(c("expLog2e"), x, n)
	VRNDSCALEPS(Imm(0), n, n) // round to nearest even
	VMOVAPS(x, r)
	VFNMADD231PS_BCST(c("expLn2Hi"), n, r)
	VFNMADD231PS_BCST(c("expLn2Lo"), n, r)
	VBROADCASTSS(c("expC5"), out)
	for _, k := range []string{"expC4", "expC3", "expC2", "expC1", "expC0", "one", "one"} {
		VFMADD213PS_BCST(c(k), r, out) // out = r*out + k
	}
	VSCALEFPS(n, out, out)
}

// erf sets out = erf(u) (u is clobbered); t holds two scratch registers.
func erf(cr clampRegs, u, out reg.VecPhysical, t []reg.VecPhysical) {
	x2, q := t[0], t[1]
	clamp(u, cr.erfLo, cr.erfHi)
	VMULPS(u, u, x2)
	VBROADCASTSS(c("erfP6"), out)
	for _, k := range []string{"erfP5", "erfP4", "erfP3", "erfP2", "erfP1", "erfP0"} {
		VFMADD213PS_BCST(c(k), x2, out)
	}
	VMULPS(u, out, out)
	VBROADCASTSS(c("erfQ4"), q)
	for _, k := range []string{"erfQ3", "erfQ2", "erfQ1", "erfQ0"} {
		VFMADD213PS_BCST(c(k), x2, q)
	}
	VDIVPS(q, out, out) // out = out / q
}

// loop emits the main loop over n floats (a multiple of 16): unrolled by four,
// then one vector at a time. body handles vector u at byte offset disp.
func loop(n reg.Register, ptrs []reg.Register, body func(disp, u int)) {
	Label("loop4")
	CMPQ(n, U32(64))
	JL(LabelRef("loop1"))
	for u := 0; u < 4; u++ {
		body(64*u, u)
	}
	for _, p := range ptrs {
		ADDQ(U32(256), p)
	}
	SUBQ(U32(64), n)
	JMP(LabelRef("loop4"))
	Label("loop1")
	CMPQ(n, U32(16))
	JL(LabelRef("done"))
	body(0, 0)
	for _, p := range ptrs {
		ADDQ(U32(64), p)
	}
	SUBQ(U32(16), n)
	JMP(LabelRef("loop1"))
	Label("done")
}

func paramAddr(name string) Mem {
	b, err := Param(name).Resolve()
	if err != nil {
		panic(err)
	}
	return b.Addr
}

// hsum leaves the sum of the 16 lanes of z in the low lane of z (x its xmm, y its
// ymm alias); t is scratch.
func hsum(z, t reg.VecPhysical) {
	VEXTRACTF64X4(Imm(1), z, t.AsY())
	VADDPS(t.AsY(), z.AsY(), z.AsY())
	VEXTRACTF128(Imm(1), z.AsY(), t.AsX())
	VADDPS(t.AsX(), z.AsX(), z.AsX())
	VHADDPS(z.AsX(), z.AsX(), z.AsX())
	VHADDPS(z.AsX(), z.AsX(), z.AsX())
}

func expShift() {
	TEXT("expShift512", NOSPLIT, "func(n int, dst, src *float32, shift float32) float32")
	Pragma("noescape")
	n := Load(Param("n"), GP64())
	dst := Load(Param("dst"), GP64())
	src := Load(Param("src"), GP64())
	acc := zmm[0:4]
	cr := loadClamps(zmm[4:8])
	sh := zmm[8]
	VBROADCASTSS(paramAddr("shift"), sh)
	for _, a := range acc {
		VPXORD(a, a, a)
	}
	loop(n, []reg.Register{dst, src}, func(disp, u int) {
		t := zmm[12+5*u : 12+5*u+5]
		x, e := t[0], t[1]
		VMOVUPS(Mem{Base: src, Disp: disp}, x)
		VSUBPS(sh, x, x)
		exp(cr, x, e, t[2:4])
		VMOVUPS(e, Mem{Base: dst, Disp: disp})
		VADDPS(e, acc[u], acc[u])
	})
	VADDPS(acc[1], acc[0], acc[0])
	VADDPS(acc[3], acc[2], acc[2])
	VADDPS(acc[2], acc[0], acc[0])
	hsum(acc[0], acc[1])
	Store(acc[0].AsX(), ReturnIndex(0))
	VZEROUPPER()
	RET()
}

func maxKernel() {
	TEXT("max512", NOSPLIT, "func(n int, x *float32) float32")
	Pragma("noescape")
	n := Load(Param("n"), GP64())
	x := Load(Param("x"), GP64())
	acc := zmm[0:4]
	ninf := GP32()
	MOVL(U32(0xff800000), ninf) // -Inf
	VPBROADCASTD(ninf, acc[0])
	for _, a := range acc[1:] {
		VMOVAPS(acc[0], a)
	}
	loop(n, []reg.Register{x}, func(disp, u int) {
		v := zmm[4+u]
		VMOVUPS(Mem{Base: x, Disp: disp}, v)
		// acc = v > acc ? v : acc: a NaN v compares false and is skipped.
		VMAXPS(acc[u], v, acc[u])
	})
	VMAXPS(acc[1], acc[0], acc[0])
	VMAXPS(acc[3], acc[2], acc[2])
	VMAXPS(acc[2], acc[0], acc[0])
	z, t := acc[0], acc[1]
	VEXTRACTF64X4(Imm(1), z, t.AsY())
	VMAXPS(t.AsY(), z.AsY(), z.AsY())
	VEXTRACTF128(Imm(1), z.AsY(), t.AsX())
	VMAXPS(t.AsX(), z.AsX(), z.AsX())
	VPERMILPS(Imm(0x4e), z.AsX(), t.AsX())
	VMAXPS(t.AsX(), z.AsX(), z.AsX())
	VPERMILPS(Imm(0xb1), z.AsX(), t.AsX())
	VMAXPS(t.AsX(), z.AsX(), z.AsX())
	Store(z.AsX(), ReturnIndex(0))
	VZEROUPPER()
	RET()
}

func gelu() {
	TEXT("gelu512", NOSPLIT, "func(n int, dst, src *float32)")
	Pragma("noescape")
	n := Load(Param("n"), GP64())
	dst := Load(Param("dst"), GP64())
	src := Load(Param("src"), GP64())
	cr := loadClamps(zmm[0:4])
	loop(n, []reg.Register{dst, src}, func(disp, u int) {
		t := zmm[4+6*u : 4+6*u+6]
		x, h, e := t[0], t[1], t[2]
		VMOVUPS(Mem{Base: src, Disp: disp}, x)
		VMULPS_BCST(c("half"), x, h)
		VMULPS_BCST(c("invSqrt2"), x, x)
		erf(cr, x, e, t[3:5])
		VADDPS_BCST(c("one"), e, e)
		VMULPS(e, h, h)
		VMOVUPS(h, Mem{Base: dst, Disp: disp})
	})
	VZEROUPPER()
	RET()
}

func geluGrad(name string, acc bool) {
	TEXT(name, NOSPLIT, "func(n int, dx, dy, x *float32)")
	Pragma("noescape")
	n := Load(Param("n"), GP64())
	dx := Load(Param("dx"), GP64())
	dy := Load(Param("dy"), GP64())
	xp := Load(Param("x"), GP64())
	cr := loadClamps(zmm[0:4])
	loop(n, []reg.Register{dx, dy, xp}, func(disp, u int) {
		t := zmm[4+7*u : 4+7*u+7]
		x, a, e, p := t[0], t[1], t[2], t[3]
		VMOVUPS(Mem{Base: xp, Disp: disp}, x)
		// p = x * invSqrt2Pi * exp(-x^2/2)
		VMULPS(x, x, a)
		VMULPS_BCST(c("mhalf"), a, a)
		exp(cr, a, p, t[4:6])
		VMULPS_BCST(c("invSqrt2Pi"), x, a)
		VMULPS(p, a, p)
		// e = (1 + erf(x/sqrt 2)) / 2
		VMULPS_BCST(c("invSqrt2"), x, x)
		erf(cr, x, e, t[4:6])
		VADDPS_BCST(c("one"), e, e)
		VMULPS_BCST(c("half"), e, e)
		VADDPS(p, e, e)
		VMULPS(Mem{Base: dy, Disp: disp}, e, e)
		if acc {
			VADDPS(Mem{Base: dx, Disp: disp}, e, e)
		}
		VMOVUPS(e, Mem{Base: dx, Disp: disp})
	})
	VZEROUPPER()
	RET()
}

func main() {
	ConstraintExpr("amd64,!purego")
	table = GLOBL("actconst", RODATA|NOPTR)
	for i, k := range consts {
		// As raw bits: avo prints F32(1) as $(1), which the assembler stores as
		// the integer 1.
		DATA(4*i, U32(math.Float32bits(k.v)))
	}
	expShift()
	maxKernel()
	gelu()
	geluGrad("geluGrad512", false)
	geluGrad("geluGradAdd512", true)
	Generate()
}
