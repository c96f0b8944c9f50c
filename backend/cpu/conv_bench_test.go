package cpu

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/siam-ssl/siam/internal/cputime"
	"github.com/siam-ssl/siam/kernels"
)

// benchRand returns n N(0,1) values from a seeded source.
func benchRand(seed uint64, n int) []float32 {
	rng := rand.New(rand.NewPCG(seed, 11))
	out := make([]float32, n)
	for i := range out {
		out[i] = float32(rng.NormFloat64())
	}
	return out
}

// BenchmarkConvGemm times kernels.Sgemm alone, on one core, on the per-call shapes the
// lowered convolution issues (M x N x K, transB), to separate GEMM speed from the
// lowering's overhead.
func BenchmarkConvGemm(b *testing.B) {
	for _, s := range []struct {
		name    string
		m, n, k int
		transB  bool
	}{
		{"fwd_w64_32", 64, 1024, 576, false},
		{"fwd_w16_32", 16, 1024, 144, false},
		{"fwd_w64_8", 256, 256, 2304, false},
		{"fwd_w64_4", 512, 256, 4608, false},
		{"bwdw_T_w64_32", 576, 64, 1024, false},
		{"bwdw_N_w64_32", 64, 576, 1024, true},
		{"bwdw_T_w64_4", 4608, 512, 256, false},
		{"bwdw_T_w16_32", 144, 16, 1024, false},
		{"bwdw_N_w16_32", 16, 144, 1024, true},
		{"bwdw_N_w16_32_pad160", 16, 160, 1024, true},
		{"bwdw_N_stem", 16, 27, 1024, true},
		{"bwdw_N_stem_pad32", 16, 32, 1024, true},
		{"bwdw_N_w64_4", 512, 4608, 256, true},
	} {
		b.Run(s.name, func(b *testing.B) {
			a := benchRand(1, s.m*s.k)
			bb := benchRand(2, s.k*s.n)
			c := make([]float32, s.m*s.n)
			ldb := s.n
			if s.transB {
				ldb = s.k
			}
			c0 := cputime.Now()
			for b.Loop() {
				kernels.Sgemm(false, s.transB, s.m, s.n, s.k, 1, a, s.k, bb, ldb, 0, c, s.n)
			}
			if cpu := cputime.Now() - c0; cpu > 0 {
				b.ReportMetric(2*float64(s.m*s.n*s.k)*float64(b.N)/cpu.Seconds()/1e9, "GFLOP/cpu-s")
			}
		})
	}
}

// BenchmarkFillPaddedS2 times the phase split of stride-2 inputs (fillPadded) for
// the strided 3x3 convolutions of the width-16 step, in ns per image per
// CPU-second (single-threaded).
func BenchmarkFillPaddedS2(b *testing.B) {
	for _, cc := range []struct{ n, c, h, w, k, r, s, stride, pad int }{{1, 16, 32, 32, 32, 3, 3, 2, 1}, {1, 32, 16, 16, 64, 3, 3, 2, 1}, {1, 64, 8, 8, 128, 3, 3, 2, 1}, {1, 16, 28, 28, 32, 3, 3, 2, 1}} {
		l := lowering{n: 1, cin: cc.c, hin: cc.h, win: cc.w, r: cc.r, s: cc.s, stride: cc.stride, padH: cc.pad, padW: cc.pad,
			ho: (cc.h+2*cc.pad-cc.r)/cc.stride + 1, wo: (cc.w+2*cc.pad-cc.s)/cc.stride + 1, pol: &defaultPolicy}
		b.Run(fmt.Sprintf("C%d_%d", cc.c, cc.h), func(b *testing.B) {
			pl := l.padLayout()
			img := make([]float32, cc.c*cc.h*cc.w)
			for i := range img {
				img[i] = float32(i % 7)
			}
			xp := make([]float32, pl.imgSz)
			plane := make([]float32, cc.h*cc.w)
			c0 := cputime.Now()
			for i := 0; i < b.N; i++ {
				l.fillPadded(&pl, img, xp, plane)
			}
			if cpu := cputime.Now() - c0; cpu > 0 {
				b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/img")
			}
		})
	}
}
