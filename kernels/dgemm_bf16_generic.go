//go:build !amd64 || purego

package kernels

// hasBF16 is false without the amd64 assembly: MulTile16 runs the portable kernel.
const hasBF16 = false

var bf16Kern []func(kp int, a, b *uint32, c *float32, ldc int)
