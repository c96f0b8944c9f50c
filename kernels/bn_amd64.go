//go:build amd64 && !purego

package kernels

import "golang.org/x/sys/cpu"

// bnISA selects the batch-norm primitives' kernels (tests force each in turn).
var bnISA = bnDetect()

func bnDetect() int {
	switch {
	case cpu.X86.HasAVX512F && cpu.X86.HasBMI2:
		return bnAVX512
	case cpu.X86.HasAVX2 && cpu.X86.HasFMA:
		return bnAVX2
	}
	return bnGo
}
