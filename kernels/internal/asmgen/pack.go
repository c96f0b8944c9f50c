package main

import (
	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"
)

func paramAddr(name string) Mem {
	b, err := Param(name).Resolve()
	if err != nil {
		panic(err)
	}
	return b.Addr
}

func packKernels() {
	// packBN512: dst[p*32+j] = b[p*ldb+j], j < 32, p < kc (B not transposed).
	TEXT("packBN512", NOSPLIT, "func(kc int, b *float32, ldb int, dst *float32)")
	Pragma("noescape")
	{
		kc := Load(Param("kc"), GP64())
		b := Load(Param("b"), GP64())
		ldb := Load(Param("ldb"), GP64()).(reg.GPVirtual)
		dst := Load(Param("dst"), GP64())
		SHLQ(Imm(2), ldb)
		TESTQ(kc, kc)
		JZ(LabelRef("done"))
		Label("loop")
		VMOVUPS(Mem{Base: b}, reg.Z0)
		VMOVUPS(Mem{Base: b, Disp: 64}, reg.Z1)
		VMOVUPS(reg.Z0, Mem{Base: dst})
		VMOVUPS(reg.Z1, Mem{Base: dst, Disp: 64})
		ADDQ(ldb, b)
		ADDQ(Imm(128), dst)
		DECQ(kc)
		JNZ(LabelRef("loop"))
		Label("done")
		VZEROUPPER()
		RET()
	}

	// packBT512: dst[p*32+j] = b[j*ldb+p], j < 32, p < kc (B transposed), kc a
	// multiple of 16, by 16x16 in-register transposes (gathers are ~4x slower here).
	TEXT("packBT512", NOSPLIT, "func(kc int, b *float32, ldb int, dst *float32)")
	Pragma("noescape")
	{
		kc := Load(Param("kc"), GP64())
		b := Load(Param("b"), GP64())
		ldb := Load(Param("ldb"), GP64()).(reg.GPVirtual)
		dst := Load(Param("dst"), GP64())
		SHLQ(Imm(2), ldb)
		SHRQ(Imm(4), kc)
		JZ(LabelRef("done"))
		row := GP64()
		r := zmm[:16]
		t := zmm[16:]
		Label("loop")
		for h := 0; h < 2; h++ {
			MOVQ(b, row)
			if h == 1 {
				// row = b + 16*ldb
				for i := 0; i < 16; i++ {
					ADDQ(ldb, row)
				}
			}
			for i := 0; i < 16; i++ {
				VMOVUPS(Mem{Base: row}, r[i])
				if i < 15 {
					ADDQ(ldb, row)
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
		ADDQ(Imm(64), b)
		ADDQ(U32(2048), dst)
		DECQ(kc)
		JNZ(LabelRef("loop"))
		Label("done")
		VZEROUPPER()
		RET()
	}

	// packAT512: dst[p*mr+i] = a[p*lda+i], i < mr <= 16, p < kc (A transposed).
	TEXT("packAT512", NOSPLIT, "func(kc int, a *float32, lda int, mr int, dst *float32)")
	Pragma("noescape")
	{
		kc := Load(Param("kc"), GP64())
		a := Load(Param("a"), GP64())
		lda := Load(Param("lda"), GP64()).(reg.GPVirtual)
		mr := Load(Param("mr"), GP64())
		dst := Load(Param("dst"), GP64())
		TESTQ(kc, kc)
		JZ(LabelRef("done"))
		m := GP64().(reg.GPVirtual)
		MOVQ(U64(1), m)
		MOVQ(mr, reg.RCX)
		SHLQ(reg.CL, m)
		DECQ(m)
		KMOVW(m.As32(), reg.K3)
		SHLQ(Imm(2), mr)
		SHLQ(Imm(2), lda)
		Label("loop")
		VMOVUPS_Z(Mem{Base: a}, reg.K3, reg.Z0)
		VMOVUPS(reg.Z0, reg.K3, Mem{Base: dst})
		ADDQ(lda, a)
		ADDQ(mr, dst)
		DECQ(kc)
		JNZ(LabelRef("loop"))
		Label("done")
		VZEROUPPER()
		RET()
	}
}
