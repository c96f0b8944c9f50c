package tensor_test

import (
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/siam-ssl/siam/kernels"
	"github.com/siam-ssl/siam/tensor"
	"github.com/siam-ssl/siam/tensor/tensortest"
)

// benchShapes are the convolutions of a CIFAR ResNet-18 SimSiam step at batch 128:
// the stem, the 3x3 layers of each stage for width 16 and 64, and the strided and
// 1x1 shortcut convolutions.
var benchShapes = []struct {
	name string
	cc   convCase
}{
	{"stem_C3K16_32", convCase{128, 3, 32, 32, 16, 3, 3, 1, 1, false}},
	{"w16_C16K16_32", convCase{128, 16, 32, 32, 16, 3, 3, 1, 1, false}},
	{"w16_C32K32_16", convCase{128, 32, 16, 16, 32, 3, 3, 1, 1, false}},
	{"w16_C64K64_8", convCase{128, 64, 8, 8, 64, 3, 3, 1, 1, false}},
	{"w16_C128K128_4", convCase{128, 128, 4, 4, 128, 3, 3, 1, 1, false}},
	{"stem_C3K64_32", convCase{128, 3, 32, 32, 64, 3, 3, 1, 1, false}},
	{"w64_C64K64_32", convCase{128, 64, 32, 32, 64, 3, 3, 1, 1, false}},
	{"w64_C128K128_16", convCase{128, 128, 16, 16, 128, 3, 3, 1, 1, false}},
	{"w64_C256K256_8", convCase{128, 256, 8, 8, 256, 3, 3, 1, 1, false}},
	{"w64_C512K512_4", convCase{128, 512, 4, 4, 512, 3, 3, 1, 1, false}},
	{"w64_C64K128_32s2", convCase{128, 64, 32, 32, 128, 3, 3, 2, 1, false}},
	{"w64_C64K128_32s2_1x1", convCase{128, 64, 32, 32, 128, 1, 1, 2, 0, false}},
}

func convFlops(cc convCase) float64 {
	ho := (cc.h+2*cc.pad-cc.r)/cc.stride + 1
	wo := (cc.w+2*cc.pad-cc.s)/cc.stride + 1
	return 2 * float64(cc.n*cc.k*cc.c*cc.r*cc.s*ho*wo)
}

// BenchmarkConv2d times the forward pass, the input gradient and the weight
// gradient separately (each backward timed without its forward), in GFLOP/s.
func BenchmarkConv2d(b *testing.B) {
	for _, bs := range benchShapes {
		cc := bs.cc
		o := tensor.ConvOpts{Stride: cc.stride, Pad: cc.pad}
		flops := convFlops(cc)
		for _, pass := range []string{"fwd", "bwd_data", "bwd_weights"} {
			if pass == "bwd_data" && cc.c == 3 {
				continue // the stem's input needs no gradient
			}
			b.Run(fmt.Sprintf("%s/%s", bs.name, pass), func(b *testing.B) {
				x := tensortest.Rand(1, cc.n, cc.c, cc.h, cc.w)
				x.SetRequiresGrad(pass == "bwd_data")
				w := tensortest.Rand(2, cc.k, cc.c, cc.r, cc.s)
				w.SetRequiresGrad(pass == "bwd_weights")
				g := tensor.NewGraph()
				g.SetNoGrad(pass == "fwd")
				var seed []float32
				var cpu time.Duration
				for b.Loop() {
					if pass != "fwd" {
						b.StopTimer()
					}
					g.Reset()
					x.Grad, w.Grad = nil, nil
					c0 := cpuTime()
					out := g.Conv2d(x, w, nil, o)
					if pass == "fwd" {
						cpu += cpuTime() - c0
						continue
					}
					if seed == nil {
						seed = tensortest.Rand(3, out.Numel()).Data
					}
					b.StartTimer()
					c0 = cpuTime()
					if err := g.BackwardWith(out, seed); err != nil {
						b.Fatal(err)
					}
					cpu += cpuTime() - c0
				}
				reportFlops(b, flops, cpu)
			})
		}
	}
}

// BenchmarkConvBNReLUEval times the fused inference convolution.
func BenchmarkConvBNReLUEval(b *testing.B) {
	for _, bs := range benchShapes[:5] {
		cc := bs.cc
		b.Run(bs.name, func(b *testing.B) {
			x := tensortest.Rand(1, cc.n, cc.c, cc.h, cc.w)
			w := tensortest.Rand(2, cc.k, cc.c, cc.r, cc.s)
			bn := newEvalBN(cc.k, true)
			g := tensor.NewGraph()
			g.SetNoGrad(true)
			c0 := cpuTime()
			for b.Loop() {
				g.Reset()
				g.ConvBNReLUEval(x, w, tensor.ConvOpts{Stride: cc.stride, Pad: cc.pad}, bn, true)
			}
			reportFlops(b, convFlops(cc), cpuTime()-c0)
		})
	}
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
			a := tensortest.Rand(1, s.m*s.k).Data
			bb := tensortest.Rand(2, s.k*s.n).Data
			c := make([]float32, s.m*s.n)
			ldb := s.n
			if s.transB {
				ldb = s.k
			}
			c0 := cpuTime()
			for b.Loop() {
				kernels.Sgemm(false, s.transB, s.m, s.n, s.k, 1, a, s.k, bb, ldb, 0, c, s.n)
			}
			reportFlops(b, 2*float64(s.m*s.n*s.k), cpuTime()-c0)
		})
	}
}

// cpuTime returns the CPU time (user + system) the process has used so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportFlops reports wall-clock GFLOP/s and GFLOP per CPU-second ("per busy
// core"): on a machine shared with other work the second stays meaningful, and
// twice it estimates the two-core rate of a quiet machine.
func reportFlops(b *testing.B, flopsPerOp float64, cpu time.Duration) {
	total := flopsPerOp * float64(b.N)
	b.ReportMetric(total/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	if cpu > 0 {
		b.ReportMetric(total/cpu.Seconds()/1e9, "GFLOP/cpu-s")
	}
}
