// Command asmgen generates the amd64 assembly of package kernels with avo:
// the AVX-512 and AVX2 GEMM micro-kernels, the packing helpers and the AVX-512
// vector primitives. It lives in its own module so the engine's go.mod does not
// depend on avo's tool chain. Run it through `go generate ./kernels/`.
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

const kernSig = "func(k int, a, b, c *float32, ldc int, alpha, beta float32)"

// gemmKernel emits an mr x (nv*vecFloats) micro-kernel: acc = sum_p A[p][0:mr] x B[p][0:nr]
// over packed panels, then C = alpha*acc + beta*C (C not read when beta == 0).
// wide selects zmm (16 floats) or ymm (8 floats).
func gemmKernel(name string, mr, nv int, wide bool) {
	TEXT(name, NOSPLIT, kernSig)
	Pragma("noescape")
	regs := ymm
	vf := 8
	if wide {
		regs = zmm
		vf = 16
	}
	nr := nv * vf
	k := Load(Param("k"), GP64())
	a := Load(Param("a"), GP64())
	b := Load(Param("b"), GP64())
	acc := regs[:mr*nv]
	bv := regs[mr*nv : mr*nv+nv]
	t := regs[mr*nv+nv]
	for _, r := range acc {
		if wide {
			VPXORD(r, r, r) // VXORPS on zmm would need AVX512DQ
		} else {
			VXORPS(r, r, r)
		}
	}
	step := func(u int) {
		for j := 0; j < nv; j++ {
			VMOVUPS(Mem{Base: b, Disp: 4 * (u*nr + j*vf)}, bv[j])
		}
		for i := 0; i < mr; i++ {
			VBROADCASTSS(Mem{Base: a, Disp: 4 * (u*mr + i)}, t)
			for j := 0; j < nv; j++ {
				VFMADD231PS(bv[j], t, acc[i*nv+j])
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
	ADDQ(U32(4*unroll*mr), a)
	ADDQ(U32(4*unroll*nr), b)
	DECQ(n4)
	JNZ(LabelRef("loop4"))
	Label("tail")
	ANDQ(Imm(3), k)
	JZ(LabelRef("store"))
	Label("loop1")
	step(0)
	ADDQ(U32(4*mr), a)
	ADDQ(U32(4*nr), b)
	DECQ(k)
	JNZ(LabelRef("loop1"))

	Label("store")
	c := Load(Param("c"), GP64())
	ldc := Load(Param("ldc"), GP64())
	SHLQ(Imm(2), ldc)
	al := regs[len(regs)-2]
	be := regs[len(regs)-1]
	// alpha/beta registers must not collide with accumulators.
	if mr*nv+2 > len(regs)-2 {
		// AVX2 with 12 accumulators: reuse the B / temp registers.
		al, be = bv[0], bv[1]
	}
	VBROADCASTSS(paramAddr("alpha"), al)
	bits := GP32()
	MOVL(paramAddr("beta"), bits)
	SHLL(Imm(1), bits)
	JZ(LabelRef("beta0"))
	VBROADCASTSS(paramAddr("beta"), be)
	for i := 0; i < mr; i++ {
		for j := 0; j < nv; j++ {
			VMULPS(al, acc[i*nv+j], acc[i*nv+j])
			VFMADD231PS(Mem{Base: c, Disp: 4 * j * vf}, be, acc[i*nv+j])
			VMOVUPS(acc[i*nv+j], Mem{Base: c, Disp: 4 * j * vf})
		}
		if i+1 < mr {
			ADDQ(ldc, c)
		}
	}
	VZEROUPPER()
	RET()
	Label("beta0")
	for i := 0; i < mr; i++ {
		for j := 0; j < nv; j++ {
			VMULPS(al, acc[i*nv+j], acc[i*nv+j])
			VMOVUPS(acc[i*nv+j], Mem{Base: c, Disp: 4 * j * vf})
		}
		if i+1 < mr {
			ADDQ(ldc, c)
		}
	}
	VZEROUPPER()
	RET()
}

func main() {
	// Package is not set: the generator lives in its own module; stubs are written with -pkg.
	ConstraintExpr("amd64,!purego")
	for mr := 1; mr <= 12; mr++ {
		gemmKernel(fmt.Sprintf("kern512x%d", mr), mr, 2, true)
	}
	for mr := 1; mr <= 6; mr++ {
		gemmKernel(fmt.Sprintf("kern256x%d", mr), mr, 2, false)
	}
	packKernels()
	packRowsKernel()
	packRowsTKernel()
	packANKernels()
	packRowsSegKernels()
	vecKernels()
	fmaPeak()
	Generate()
}
