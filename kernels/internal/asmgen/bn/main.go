// Command bn generates kernels/zbn_amd64.s with avo: the AVX-512 and AVX2 inner
// loops of the batch-norm family (channel statistics, scale+shift with and without
// ReLU, the two backward passes, residual add+ReLU and the ReLU gradient masks)
// behind kernels.ChannelSums, kernels.ScaleShift and friends (kernels/bn.go). It
// writes its own file so the other generated assembly is never touched. Run it
// through `go generate ./kernels/`.
//
// Every function exists twice: name512 (zmm, any n: the last n%16 values go
// through a K-register mask) and name256 (ymm, n a multiple of 8; the Go wrapper
// does the rest). Elementwise kernels use separate multiplies and adds, never FMA,
// so their results are bit-identical to the pure-Go fallbacks (which round each
// product explicitly); the reductions widen each float32 term to float64 and
// accumulate in float64 lanes (FMA for the products), as PyTorch's CPU batch norm
// accumulates in double.
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

var ymm = []reg.VecPhysical{
	reg.Y0, reg.Y1, reg.Y2, reg.Y3, reg.Y4, reg.Y5, reg.Y6, reg.Y7,
	reg.Y8, reg.Y9, reg.Y10, reg.Y11, reg.Y12, reg.Y13, reg.Y14, reg.Y15,
}

// ks are the per-unroll compare masks of the AVX-512 kernels; tailK masks the tail.
var (
	ks    = []reg.OpmaskPhysical{reg.K2, reg.K3, reg.K4, reg.K5}
	tailK = reg.K1
)

// gtOQ is the VCMPPS predicate "greater than, ordered, quiet": NaN compares false.
const gtOQ = 0x1e

type isa struct {
	suffix string
	wide   bool // zmm (AVX-512) or ymm (AVX2)
	vf     int  // floats per vector
	unroll int  // vectors per main-loop iteration (and float32 accumulator pairs)
	regs   []reg.VecPhysical
}

var (
	avx512 = isa{"512", true, 16, 4, zmm}
	avx2   = isa{"256", false, 8, 2, ymm}
)

// gen is the kernel being emitted; tail is set while the masked tail is emitted.
type gen struct {
	isa
	tail bool
}

func (g *gen) load(base reg.Register, disp int, dst reg.VecPhysical) {
	m := Mem{Base: base, Disp: disp}
	if g.tail {
		VMOVUPS_Z(m, tailK, dst)
	} else {
		VMOVUPS(m, dst)
	}
}

func (g *gen) store(src reg.VecPhysical, base reg.Register, disp int) {
	m := Mem{Base: base, Disp: disp}
	if g.tail {
		VMOVUPS(src, tailK, m)
	} else {
		VMOVUPS(src, m)
	}
}

// sub sets dst = a - b, zero in the lanes past the tail.
func (g *gen) sub(b, a, dst reg.VecPhysical) {
	if g.tail {
		VSUBPS_Z(b, a, tailK, dst)
	} else {
		VSUBPS(b, a, dst)
	}
}

func (g *gen) zero(r reg.VecPhysical) {
	if g.wide {
		VPXORD(r, r, r) // VXORPS on zmm needs AVX512DQ
	} else {
		VXORPS(r, r, r)
	}
}

func (g *gen) and(a, b, dst reg.VecPhysical) {
	if g.wide {
		VPANDD(a, b, dst)
	} else {
		VANDPS(a, b, dst)
	}
}

// maskPos sets d = load(dy) where v > 0 (ordered), 0 elsewhere; u picks the K
// register (AVX-512) and t is a scratch vector (AVX2: it ends up as the mask).
func (g *gen) maskPos(dy reg.Register, disp int, v, zero, d reg.VecPhysical, u int) {
	if g.wide {
		if g.tail {
			VCMPPS(Imm(gtOQ), zero, v, tailK, ks[u])
		} else {
			VCMPPS(Imm(gtOQ), zero, v, ks[u])
		}
		VMOVUPS_Z(Mem{Base: dy, Disp: disp}, ks[u], d)
		return
	}
	VCMPPS(Imm(gtOQ), zero, v, v)
	VMOVUPS(Mem{Base: dy, Disp: disp}, d)
	VANDPS(v, d, d)
}

func paramAddr(name string) Mem {
	b, err := Param(name).Resolve()
	if err != nil {
		panic(err)
	}
	return b.Addr
}

// tailMask sets tailK to the low n bits (n < 16).
func tailMask(n reg.Register) {
	r := GP32()
	MOVL(U32(0xffff), r)
	BZHIL(n.(reg.GPVirtual).As32(), r, r)
	KMOVW(r, tailK)
}

// kernel describes one generated function: pointer and broadcast scalar
// parameters, whether a zero vector is needed and how many scratch vectors each
// unrolled step uses.
type kernel struct {
	name, sig string
	ptrs      []string
	scalars   []string
	zero      bool
	ntemp     int
}

// setup loads the parameters and returns n, the pointers, the broadcasts (zero
// vector last when asked for) and the next free vector register index.
func (k kernel) setup(g *gen, first int) (reg.Register, []reg.Register, []reg.VecPhysical, int) {
	TEXT(k.name+g.suffix, NOSPLIT, k.sig)
	Pragma("noescape")
	n := Load(Param("n"), GP64())
	var p []reg.Register
	for _, s := range k.ptrs {
		p = append(p, Load(Param(s), GP64()))
	}
	var bc []reg.VecPhysical
	next := first
	for _, s := range k.scalars {
		VBROADCASTSS(paramAddr(s), g.regs[next])
		bc = append(bc, g.regs[next])
		next++
	}
	if k.zero {
		g.zero(g.regs[next])
		bc = append(bc, g.regs[next])
		next++
	}
	return n, p, bc, next
}

// tempRegs returns the scratch registers of unrolled step u: ntemp registers from
// index next on, reused round-robin when the register file cannot hold one set per
// step (AVX2).
func tempRegs(g *gen, next, ntemp int) func(u int) []reg.VecPhysical {
	fit := (len(g.regs) - next) / ntemp
	if fit < 1 {
		panic("out of vector registers")
	}
	return func(u int) []reg.VecPhysical {
		b := next + (u%fit)*ntemp
		return g.regs[b : b+ntemp]
	}
}

func advance(p []reg.Register, bytes int) {
	for _, r := range p {
		ADDQ(U32(bytes), r)
	}
}

// stream emits an elementwise kernel; body handles the vector at byte offset disp
// from the pointers with scratch registers t (u is the unroll index).
func stream(is isa, k kernel, body func(g *gen, p []reg.Register, bc, t []reg.VecPhysical, disp, u int)) {
	g := &gen{isa: is}
	n, p, bc, next := k.setup(g, 0)
	temps := tempRegs(g, next, k.ntemp)
	vb := 4 * g.vf
	Label("loopU")
	CMPQ(n, U32(g.vf*g.unroll))
	JL(LabelRef("loop1"))
	for u := 0; u < g.unroll; u++ {
		body(g, p, bc, temps(u), u*vb, u)
	}
	advance(p, vb*g.unroll)
	SUBQ(U32(g.vf*g.unroll), n)
	JMP(LabelRef("loopU"))
	Label("loop1")
	CMPQ(n, U32(g.vf))
	JL(LabelRef("tail"))
	body(g, p, bc, temps(0), 0, 0)
	advance(p, vb)
	SUBQ(U32(g.vf), n)
	JMP(LabelRef("loop1"))
	Label("tail")
	if g.wide {
		TESTQ(n, n)
		JZ(LabelRef("done"))
		tailMask(n)
		g.tail = true
		body(g, p, bc, temps(0), 0, 0)
		g.tail = false
	}
	Label("done")
	VZEROUPPER()
	RET()
}

// reduce emits a two-sum reduction returning (s, q float64). body computes, for
// the vector at byte offset disp, the float32 terms: d (added into s) and, when
// e is not nil, e (q gets d*e; else q gets d*d). Both are widened to float64 and
// accumulated in float64 lanes, so the sums are exact up to float64 rounding
// whatever the length.
func reduce(is isa, k kernel, body func(g *gen, p []reg.Register, bc, t []reg.VecPhysical, disp, u int) (d, e reg.VecPhysical)) {
	g := &gen{isa: is}
	// Accumulator sets: float64 sums of the low and high halves of s and q.
	na := g.unroll / 2
	acc := g.regs[:4*na]
	n, p, bc, next := k.setup(g, 4*na)
	// body's scratch plus two widening registers per step.
	temps := tempRegs(g, next, k.ntemp+2)
	for _, r := range acc {
		g.zero(r)
	}
	vb := 4 * g.vf
	step := func(u, disp int) {
		t := temps(u)
		d, e := body(g, p, bc, t[:k.ntemp], disp, u)
		a := acc[4*(u%na) : 4*(u%na)+4]
		w0, w1 := t[k.ntemp], t[k.ntemp+1]
		for h := 0; h < 2; h++ {
			// w0 = float64(d half h), w1 = float64(e half h).
			widen(g, d, h, w0)
			VADDPD(w0, a[h], a[h])
			if e == nil {
				VFMADD231PD(w0, w0, a[2+h])
			} else {
				widen(g, e, h, w1)
				VFMADD231PD(w1, w0, a[2+h])
			}
		}
	}
	Label("loopU")
	CMPQ(n, U32(g.vf*g.unroll))
	JL(LabelRef("loop1"))
	for u := 0; u < g.unroll; u++ {
		step(u, u*vb)
	}
	advance(p, vb*g.unroll)
	SUBQ(U32(g.vf*g.unroll), n)
	JMP(LabelRef("loopU"))
	Label("loop1")
	CMPQ(n, U32(g.vf))
	JL(LabelRef("tail"))
	step(0, 0)
	advance(p, vb)
	SUBQ(U32(g.vf), n)
	JMP(LabelRef("loop1"))
	Label("tail")
	if g.wide {
		TESTQ(n, n)
		JZ(LabelRef("finish"))
		tailMask(n)
		g.tail = true
		step(0, 0)
		g.tail = false
	}
	Label("finish")
	for i := 0; i < 2; i++ {
		// Sum the sets and halves of s (i = 0) or q (i = 1) into d.
		d := acc[2*i]
		VADDPD(acc[2*i+1], d, d)
		for j := 1; j < na; j++ {
			VADDPD(acc[4*j+2*i], d, d)
			VADDPD(acc[4*j+2*i+1], d, d)
		}
		t := acc[2*i+1] // folded into d above, free as scratch
		if g.wide {
			VEXTRACTF64X4(Imm(1), d, t.AsY())
			VADDPD(t.AsY(), d.AsY(), d.AsY())
		}
		VEXTRACTF128(Imm(1), d.AsY(), t.AsX())
		VADDPD(t.AsX(), d.AsX(), d.AsX())
		VHADDPD(d.AsX(), d.AsX(), d.AsX())
		Store(d.AsX(), ReturnIndex(i))
	}
	VZEROUPPER()
	RET()
}

// widen sets w to half h (0 low, 1 high) of the float32 vector v as float64.
func widen(g *gen, v reg.VecPhysical, h int, w reg.VecPhysical) {
	switch {
	case g.wide && h == 0:
		VCVTPS2PD(v.AsY(), w)
	case g.wide:
		VEXTRACTF64X4(Imm(1), v, w.AsY())
		VCVTPS2PD(w.AsY(), w)
	case h == 0:
		VCVTPS2PD(v.AsX(), w)
	default:
		VEXTRACTF128(Imm(1), v, w.AsX())
		VCVTPS2PD(w.AsX(), w)
	}
}

func kernels(is isa) {
	// bnBwdSums: s = sum(dy), q = sum(dy*(x-mean)).
	reduce(is, kernel{name: "bnBwdSums", sig: "func(n int, dy, x *float32, mean float32) (s, q float64)",
		ptrs: []string{"dy", "x"}, scalars: []string{"mean"}, ntemp: 2},
		func(g *gen, p []reg.Register, bc, t []reg.VecPhysical, disp, u int) (reg.VecPhysical, reg.VecPhysical) {
			g.load(p[0], disp, t[0])
			g.load(p[1], disp, t[1])
			g.sub(bc[0], t[1], t[1])
			return t[0], t[1]
		})

	// bnBwdSumsReLU: dy = dy where x*sc+sh > 0 else 0 (stored back), then the
	// sums of bnBwdSums.
	reduce(is, kernel{name: "bnBwdSumsReLU", sig: "func(n int, dy, x *float32, mean, sc, sh float32) (s, q float64)",
		ptrs: []string{"dy", "x"}, scalars: []string{"mean", "sc", "sh"}, zero: true, ntemp: 3},
		func(g *gen, p []reg.Register, bc, t []reg.VecPhysical, disp, u int) (reg.VecPhysical, reg.VecPhysical) {
			mean, sc, sh, zero := bc[0], bc[1], bc[2], bc[3]
			g.load(p[1], disp, t[1])
			VMULPS(sc, t[1], t[2])
			VADDPS(sh, t[2], t[2])
			g.maskPos(p[0], disp, t[2], zero, t[0], u)
			g.store(t[0], p[0], disp)
			g.sub(mean, t[1], t[1])
			return t[0], t[1]
		})

	// bnNorm: dst = src*sc + sh.
	stream(is, kernel{name: "bnNorm", sig: "func(n int, dst, src *float32, sc, sh float32)",
		ptrs: []string{"dst", "src"}, scalars: []string{"sc", "sh"}, ntemp: 1},
		func(g *gen, p []reg.Register, bc, t []reg.VecPhysical, disp, u int) {
			g.load(p[1], disp, t[0])
			VMULPS(bc[0], t[0], t[0])
			VADDPS(bc[1], t[0], t[0])
			g.store(t[0], p[0], disp)
		})

	// bnNormReLU: dst = relu(src*sc + sh), the max taken on the int32 bit
	// patterns (sign set, -0 included, gives +0).
	stream(is, kernel{name: "bnNormReLU", sig: "func(n int, dst, src *float32, sc, sh float32)",
		ptrs: []string{"dst", "src"}, scalars: []string{"sc", "sh"}, zero: true, ntemp: 1},
		func(g *gen, p []reg.Register, bc, t []reg.VecPhysical, disp, u int) {
			g.load(p[1], disp, t[0])
			VMULPS(bc[0], t[0], t[0])
			VADDPS(bc[1], t[0], t[0])
			VPMAXSD(bc[2], t[0], t[0])
			g.store(t[0], p[0], disp)
		})

	// bnApply / bnApplyAdd: dx (+)= (k*dy + p*x) + q.
	for _, acc := range []bool{false, true} {
		name := "bnApply"
		if acc {
			name = "bnApplyAdd"
		}
		stream(is, kernel{name: name, sig: "func(n int, dx, dy, x *float32, k, p, q float32)",
			ptrs: []string{"dx", "dy", "x"}, scalars: []string{"k", "p", "q"}, ntemp: 2},
			func(g *gen, p []reg.Register, bc, t []reg.VecPhysical, disp, u int) {
				g.load(p[1], disp, t[0])
				VMULPS(bc[0], t[0], t[0])
				g.load(p[2], disp, t[1])
				VMULPS(bc[1], t[1], t[1])
				VADDPS(t[1], t[0], t[0])
				VADDPS(bc[2], t[0], t[0])
				if acc {
					g.load(p[0], disp, t[1])
					VADDPS(t[0], t[1], t[0])
				}
				g.store(t[0], p[0], disp)
			})
	}

	// addReLU: dst = relu(a + b) (bit-pattern max as bnNormReLU).
	stream(is, kernel{name: "addReLU", sig: "func(n int, dst, a, b *float32)",
		ptrs: []string{"dst", "a", "b"}, zero: true, ntemp: 2},
		func(g *gen, p []reg.Register, bc, t []reg.VecPhysical, disp, u int) {
			g.load(p[1], disp, t[0])
			g.load(p[2], disp, t[1])
			VADDPS(t[1], t[0], t[0])
			VPMAXSD(bc[0], t[0], t[0])
			g.store(t[0], p[0], disp)
		})

	// reluBits: dst = relu(src) (bit-pattern max).
	stream(is, kernel{name: "reluBits", sig: "func(n int, dst, src *float32)",
		ptrs: []string{"dst", "src"}, zero: true, ntemp: 1},
		func(g *gen, p []reg.Register, bc, t []reg.VecPhysical, disp, u int) {
			g.load(p[1], disp, t[0])
			VPMAXSD(bc[0], t[0], t[0])
			g.store(t[0], p[0], disp)
		})

	// reluMask / reluMask2: dx (and dx2) = dy & ((-bits(y)) >> 31), arithmetic
	// shift: dy where y's bit pattern is a positive int32 (or -0), 0 elsewhere.
	for _, two := range []bool{false, true} {
		k := kernel{name: "reluMask", sig: "func(n int, dx, dy, y *float32)",
			ptrs: []string{"dx", "dy", "y"}, zero: true, ntemp: 2}
		if two {
			k = kernel{name: "reluMask2", sig: "func(n int, dx, dx2, dy, y *float32)",
				ptrs: []string{"dx", "dy", "y", "dx2"}, zero: true, ntemp: 2}
		}
		stream(is, k, func(g *gen, p []reg.Register, bc, t []reg.VecPhysical, disp, u int) {
			g.load(p[2], disp, t[1])
			VPSUBD(t[1], bc[0], t[1])
			VPSRAD(Imm(31), t[1], t[1])
			g.load(p[1], disp, t[0])
			g.and(t[1], t[0], t[0])
			g.store(t[0], p[0], disp)
			if two {
				g.store(t[0], p[3], disp)
			}
		})
	}

	// reluMaskAdd: dx += dy where y > 0 (ordered compare), 0 elsewhere.
	stream(is, kernel{name: "reluMaskAdd", sig: "func(n int, dx, dy, y *float32)",
		ptrs: []string{"dx", "dy", "y"}, zero: true, ntemp: 2},
		func(g *gen, p []reg.Register, bc, t []reg.VecPhysical, disp, u int) {
			g.load(p[2], disp, t[1])
			g.maskPos(p[1], disp, t[1], bc[0], t[0], u)
			g.load(p[0], disp, t[1])
			VADDPS(t[0], t[1], t[0])
			g.store(t[0], p[0], disp)
		})
}

// planeSums emits bnSumsP512 (4 planes) or bnSumsP256 (2 planes): for each
// plane j and lane l < 4, out[4j+l] = float32 sum over g < n4 of
// (p_j[4g+l] - shift) and out[4*planes+4j+l] = the sum of its squares, each
// difference and square rounded to float32 and added in order of g: exactly the
// four accumulators of the Go loop (channelSumsGo), one 128-bit lane per plane.
// The running sums are one dependency chain per plane, so the planes are what
// runs in parallel.
func planeSums(is isa) {
	planes := is.vf / 4
	sig := "func(n4 int, p0, p1, p2, p3 *float32, shift float32, out *float32)"
	if planes == 2 {
		sig = "func(n4 int, p0, p1 *float32, shift float32, out *float32)"
	}
	g := &gen{isa: is}
	TEXT("bnSumsP"+is.suffix, NOSPLIT, sig)
	Pragma("noescape")
	n := Load(Param("n4"), GP64())
	var p []reg.Register
	for j := 0; j < planes; j++ {
		p = append(p, Load(Param(fmt.Sprintf("p%d", j)), GP64()))
	}
	shift, sacc, qacc := g.regs[0], g.regs[1], g.regs[2]
	VBROADCASTSS(paramAddr("shift"), shift)
	g.zero(sacc)
	g.zero(qacc)
	const unroll = 4
	step := func(disp int, t reg.VecPhysical) {
		VMOVUPS(Mem{Base: p[0], Disp: disp}, t.AsX())
		for j := 1; j < planes; j++ {
			if g.wide {
				VINSERTF32X4(Imm(uint64(j)), Mem{Base: p[j], Disp: disp}, t, t)
			} else {
				VINSERTF128(Imm(1), Mem{Base: p[j], Disp: disp}, t, t)
			}
		}
		VSUBPS(shift, t, t)
		VADDPS(t, sacc, sacc)
		VMULPS(t, t, t)
		VADDPS(t, qacc, qacc)
	}
	Label("loopU")
	CMPQ(n, U32(unroll))
	JL(LabelRef("loop1"))
	for u := 0; u < unroll; u++ {
		step(16*u, g.regs[3+u])
	}
	advance(p, 16*unroll)
	SUBQ(U32(unroll), n)
	JMP(LabelRef("loopU"))
	Label("loop1")
	TESTQ(n, n)
	JZ(LabelRef("done"))
	step(0, g.regs[3])
	advance(p, 16)
	DECQ(n)
	JMP(LabelRef("loop1"))
	Label("done")
	out := Load(Param("out"), GP64())
	VMOVUPS(sacc, Mem{Base: out})
	VMOVUPS(qacc, Mem{Base: out, Disp: 4 * is.vf})
	VZEROUPPER()
	RET()
}

func main() {
	ConstraintExpr("amd64,!purego")
	kernels(avx512)
	kernels(avx2)
	planeSums(avx512)
	planeSums(avx2)
	Generate()
}
