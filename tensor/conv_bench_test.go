package tensor

import (
	"fmt"
	"github.com/siam-ssl/siam/internal/cputime"
	"os"
	"strconv"
	"testing"
	"time"

	"math/rand/v2"
)

// convBenchShapes are the convolutions of a CIFAR ResNet-18 SimSiam step at batch 128:
// the stem, the 3x3 layers of each stage for width 16 and 64, and the strided and
// 1x1 shortcut convolutions.
type convBenchCase struct{ n, c, h, w, k, r, s, stride, pad int }

var convBenchShapes = []struct {
	name string
	cc   convBenchCase
}{
	{"stem_C3K16_32", convBenchCase{128, 3, 32, 32, 16, 3, 3, 1, 1}},
	{"w16_C16K16_32", convBenchCase{128, 16, 32, 32, 16, 3, 3, 1, 1}},
	{"w16_C32K32_16", convBenchCase{128, 32, 16, 16, 32, 3, 3, 1, 1}},
	{"w16_C64K64_8", convBenchCase{128, 64, 8, 8, 64, 3, 3, 1, 1}},
	{"w16_C128K128_4", convBenchCase{128, 128, 4, 4, 128, 3, 3, 1, 1}},
	{"stem_C3K64_32", convBenchCase{128, 3, 32, 32, 64, 3, 3, 1, 1}},
	{"w64_C64K64_32", convBenchCase{128, 64, 32, 32, 64, 3, 3, 1, 1}},
	{"w64_C128K128_16", convBenchCase{128, 128, 16, 16, 128, 3, 3, 1, 1}},
	{"w64_C256K256_8", convBenchCase{128, 256, 8, 8, 256, 3, 3, 1, 1}},
	{"w64_C512K512_4", convBenchCase{128, 512, 4, 4, 512, 3, 3, 1, 1}},
	{"w16_C16K32_32s2", convBenchCase{128, 16, 32, 32, 32, 3, 3, 2, 1}},
	{"w16_C16K32_32s2_1x1", convBenchCase{128, 16, 32, 32, 32, 1, 1, 2, 0}},
	{"w16_C32K64_16s2", convBenchCase{128, 32, 16, 16, 64, 3, 3, 2, 1}},
	{"w16_C64K128_8s2", convBenchCase{128, 64, 8, 8, 128, 3, 3, 2, 1}},
	{"w64_C64K128_32s2", convBenchCase{128, 64, 32, 32, 128, 3, 3, 2, 1}},
	{"w64_C64K128_32s2_1x1", convBenchCase{128, 64, 32, 32, 128, 1, 1, 2, 0}},
	// Width 16 on 28x28 inputs (Fashion-MNIST): output widths 14 and 7 are not
	// multiples of 16.
	{"f28_stem_C1K16_28", convBenchCase{128, 1, 28, 28, 16, 3, 3, 1, 1}},
	{"f28_C16K16_28", convBenchCase{128, 16, 28, 28, 16, 3, 3, 1, 1}},
	{"f28_C16K32_28s2", convBenchCase{128, 16, 28, 28, 32, 3, 3, 2, 1}},
	{"f28_C16K32_28s2_1x1", convBenchCase{128, 16, 28, 28, 32, 1, 1, 2, 0}},
	{"f28_C32K32_14", convBenchCase{128, 32, 14, 14, 32, 3, 3, 1, 1}},
	{"f28_C32K64_14s2", convBenchCase{128, 32, 14, 14, 64, 3, 3, 2, 1}},
	{"f28_C64K64_7", convBenchCase{128, 64, 7, 7, 64, 3, 3, 1, 1}},
	{"f28_C64K128_7s2", convBenchCase{128, 64, 7, 7, 128, 3, 3, 2, 1}},
}

func convFlops(cc convBenchCase) float64 {
	ho := (cc.h+2*cc.pad-cc.r)/cc.stride + 1
	wo := (cc.w+2*cc.pad-cc.s)/cc.stride + 1
	return 2 * float64(cc.n*cc.k*cc.c*cc.r*cc.s*ho*wo)
}

// BenchmarkConv2d times the forward pass, the input gradient and the weight
// gradient separately (each backward timed without its forward), in GFLOP/s.
func BenchmarkConv2d(b *testing.B) {
	if v, err := strconv.Atoi(os.Getenv("SIAM_CONV_COLS")); err == nil {
		defer SetConvTargetCols(SetConvTargetCols(v)) // tuning knob
	}
	if v, err := strconv.Atoi(os.Getenv("SIAM_CONV_SHIFT")); err == nil {
		defer SetConvShift(SetConvShift(v)) // 0 off, 1 auto, 2 always
	}
	if v, err := strconv.Atoi(os.Getenv("SIAM_CONV_IMPLICIT")); err == nil {
		defer SetConvImplicit(SetConvImplicit(v)) // 0 off, 1 on
	}
	if v, err := strconv.Atoi(os.Getenv("SIAM_CONV_WIDE")); err == nil {
		defer SetConvWideFwd(SetConvWideFwd(v)) // 0 off, 1 on
	}
	if v, err := strconv.Atoi(os.Getenv("SIAM_CONV_PHASE")); err == nil {
		defer SetConvPhaseBwd(SetConvPhaseBwd(v)) // stride-2 input gradient: 0 col2im, 1 phases
	}
	for _, bs := range convBenchShapes {
		cc := bs.cc
		o := ConvOpts{Stride: cc.stride, Pad: cc.pad}
		flops := convFlops(cc)
		for _, pass := range []string{"fwd", "bwd_data", "bwd_weights"} {
			if pass == "bwd_data" && cc.c <= 3 {
				continue // the stem's input needs no gradient
			}
			b.Run(fmt.Sprintf("%s/%s", bs.name, pass), func(b *testing.B) {
				x := convBenchRand(1, cc.n, cc.c, cc.h, cc.w)
				x.SetRequiresGrad(pass == "bwd_data")
				w := convBenchRand(2, cc.k, cc.c, cc.r, cc.s)
				w.SetRequiresGrad(pass == "bwd_weights")
				g := NewGraph()
				g.SetNoGrad(pass == "fwd")
				var cpu time.Duration
				for b.Loop() {
					if pass != "fwd" {
						b.StopTimer()
					}
					g.Reset()
					x.Grad, w.Grad = nil, nil
					c0 := cputime.Now()
					out := g.Conv2d(x, w, nil, o)
					if pass == "fwd" {
						cpu += cputime.Now() - c0
						continue
					}
					out.Grad = g.Scratch(out.Numel())
					copy(out.Grad, x.Data[:min(len(x.Data), out.Numel())])
					b.StartTimer()
					c0 = cputime.Now()
					g.tape[len(g.tape)-1].back() // the convolution's backward alone
					cpu += cputime.Now() - c0
				}
				convReportFlops(b, flops, cpu)
			})
		}
	}
}

// BenchmarkConvBNReLUEval times the fused inference convolution.
func BenchmarkConvBNReLUEval(b *testing.B) {
	for _, bs := range convBenchShapes[:5] {
		cc := bs.cc
		b.Run(bs.name, func(b *testing.B) {
			x := convBenchRand(1, cc.n, cc.c, cc.h, cc.w)
			w := convBenchRand(2, cc.k, cc.c, cc.r, cc.s)
			bn := &BatchNorm{Weight: convBenchRand(3, cc.k), Bias: convBenchRand(4, cc.k),
				RunningMean: convBenchRand(5, cc.k), RunningVar: New(cc.k), Eps: 1e-5}
			for i := range bn.RunningVar.Data {
				bn.RunningVar.Data[i] = 1
			}
			g := NewGraph()
			g.SetNoGrad(true)
			c0 := cputime.Now()
			for b.Loop() {
				g.Reset()
				g.ConvBNReLUEval(x, w, ConvOpts{Stride: cc.stride, Pad: cc.pad}, bn, true)
			}
			convReportFlops(b, convFlops(cc), cputime.Now()-c0)
		})
	}
}

// convReportFlops reports wall-clock GFLOP/s and GFLOP per CPU-second ("per busy
// core"): on a machine shared with other work the second stays meaningful, and
// twice it estimates the two-core rate of a quiet machine.
func convReportFlops(b *testing.B, flopsPerOp float64, cpu time.Duration) {
	total := flopsPerOp * float64(b.N)
	b.ReportMetric(total/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	if cpu > 0 {
		b.ReportMetric(total/cpu.Seconds()/1e9, "GFLOP/cpu-s")
	}
}

// convBenchRand returns a tensor of N(0,1) values from a seeded source, requiring a
// gradient.
func convBenchRand(seed uint64, shape ...int) *Tensor {
	t := New(shape...)
	rng := rand.New(rand.NewPCG(seed, 11))
	for i := range t.Data {
		t.Data[i] = float32(rng.NormFloat64())
	}
	t.requiresGrad = true
	return t
}
