package tensor

import (
	"math/rand/v2"
	"testing"
)

func bnTmpData() (x, dy, dx []float32) {
	n := 1 << 14
	x, dy, dx = make([]float32, n), make([]float32, n), make([]float32, n)
	for i := range x {
		x[i], dy[i] = float32(rand.NormFloat64()), float32(rand.NormFloat64())
	}
	return
}

var bnSink float64

func BenchmarkTmpReduceReLU(b *testing.B) {
	x, dy, _ := bnTmpData()
	for b.Loop() {
		s, q := bnBwdReduceReLU(dy, x, 0.1, 1.1, 0.2)
		bnSink += s + q
	}
}
func BenchmarkTmpReduce(b *testing.B) {
	x, dy, _ := bnTmpData()
	for b.Loop() {
		s, q := bnBwdReduce(dy, x, 0.1)
		bnSink += s + q
	}
}
func BenchmarkTmpMask(b *testing.B) {
	x, dy, dx := bnTmpData()
	for b.Loop() {
		maskInto(dx, dy, x, false)
	}
}
func BenchmarkTmpStats(b *testing.B) {
	x, _, _ := bnTmpData()
	for b.Loop() {
		s, q := bnStats(x, 0.1)
		bnSink += s + q
	}
}
func BenchmarkTmpNorm(b *testing.B) {
	x, _, dx := bnTmpData()
	for b.Loop() {
		bnNorm(dx, x, 1.1, 0.2)
	}
}
func BenchmarkTmpNormReLU(b *testing.B) {
	x, _, dx := bnTmpData()
	for b.Loop() {
		bnNormReLU(dx, x, 1.1, 0.2)
	}
}
func BenchmarkTmpApply(b *testing.B) {
	x, dy, dx := bnTmpData()
	for b.Loop() {
		bnBwdApply(dx, dy, x, 1.1, 0.2, 0.3, false)
	}
}
