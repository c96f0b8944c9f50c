//go:build amd64 && !purego

package kernels

import "golang.org/x/sys/cpu"

var avx512Impl = &gemmImpl{
	name:  "avx512",
	nr:    32,
	mrMax: 12,
	kern: []kernFn{nil, kern512x1, kern512x2, kern512x3, kern512x4, kern512x5, kern512x6,
		kern512x7, kern512x8, kern512x9, kern512x10, kern512x11, kern512x12},
	packBN: packBN512,
	packBT: packBT512,
	// packAN stays in Go: a masked-gather version measured ~4x slower.
	packAT: packAT512,
}

var avx2Impl = &gemmImpl{
	name:  "avx2",
	nr:    16,
	mrMax: 6,
	kern:  []kernFn{nil, kern256x1, kern256x2, kern256x3, kern256x4, kern256x5, kern256x6},
}

// hasVec512 enables the AVX-512 vector primitives.
var hasVec512 = cpu.X86.HasAVX512F

// impls lists the GEMM implementations this CPU can run, fastest first.
func impls() []*gemmImpl {
	var l []*gemmImpl
	if cpu.X86.HasAVX512F {
		l = append(l, avx512Impl)
	}
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		l = append(l, avx2Impl)
	}
	return append(l, goImpl)
}

func init() { active = impls()[0] }
