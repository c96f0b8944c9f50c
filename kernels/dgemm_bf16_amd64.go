//go:build amd64 && !purego

package kernels

import "golang.org/x/sys/cpu"

// hasBF16 enables the AVX512-BF16 screening kernels (Zen 4, Sapphire Rapids).
var hasBF16 = hasVec512 && cpu.X86.HasAVX512BF16

// bf16Kern[mr] is the mr x 32 screening micro-kernel.
var bf16Kern = []func(kp int, a, b *uint32, c *float32, ldc int){nil,
	sbf16Kern1x32, sbf16Kern2x32, sbf16Kern3x32, sbf16Kern4x32, sbf16Kern5x32, sbf16Kern6x32,
	sbf16Kern7x32, sbf16Kern8x32, sbf16Kern9x32, sbf16Kern10x32, sbf16Kern11x32, sbf16Kern12x32}
