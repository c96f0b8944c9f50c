//go:build amd64 && !purego

package kernels

import "golang.org/x/sys/cpu"

// bnPaths lists the batch-norm kernel paths this CPU can run.
func bnPaths() []int {
	l := []int{bnGo}
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		l = append(l, bnAVX2)
	}
	if cpu.X86.HasAVX512F && cpu.X86.HasBMI2 {
		l = append(l, bnAVX512)
	}
	return l
}

// forceBN makes path p active and returns a function restoring the previous one.
func forceBN(p int) func() {
	saved := bnISA
	bnISA = p
	return func() { bnISA = saved }
}
