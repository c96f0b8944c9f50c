package tensor

import (
	"fmt"
	"github.com/siam-ssl/siam/internal/cputime"
	"math/rand/v2"
	"testing"
)

// Bytes moved are the minimum each op has to stream per element: forward reads x
// and writes y (8 B); backward reads dy and x and writes dx (12 B). The backward
// pass is run straight from the tape with a preset output gradient, so no seed
// pass is timed. Besides wall-clock GB/s the benchmarks report GB/s-cpu, bytes per
// second of CPU time the process got (user+sys): on a shared, loaded machine that
// is the steadier figure; on a quiet one GB/s ~ GB/s-cpu x cores used.
func benchBN(b *testing.B, shape []int, mode string, backward bool) {
	c := shape[1]
	rng := rand.New(rand.NewPCG(1, 2))
	x := New(shape...)
	for i := range x.Data {
		x.Data[i] = float32(rng.NormFloat64())
	}
	x.SetRequiresGrad(true)
	seed := make([]float32, len(x.Data))
	for i := range seed {
		seed[i] = float32(rng.NormFloat64())
	}
	bn := &BatchNorm{
		Weight: NewParam("w", c), Bias: NewParam("b", c),
		RunningMean: New(c), RunningVar: New(c),
		Momentum: 0.1, Eps: 1e-5, Training: true,
	}
	for i := range c {
		bn.Weight.Data[i], bn.RunningVar.Data[i] = 1, 1
	}
	g := NewGraph()
	if !backward {
		g.SetNoGrad(true)
	}
	step := func() {
		g.Reset()
		x.Grad = nil // the previous step's buffer went back to the arena
		var y *Tensor
		switch mode {
		case "fused":
			y = g.BatchNormReLU(x, bn)
		case "unfused":
			y = g.ReLU(g.BatchNorm(x, bn))
		default:
			y = g.BatchNorm(x, bn)
		}
		if err := g.Err(); err != nil {
			b.Fatal(err)
		}
		if backward {
			y.Grad = seed
			for i := len(g.tape) - 1; i >= 0; i-- {
				if e := g.tape[i]; e.out.Grad != nil {
					e.back()
				}
			}
		}
	}
	step()
	bytes := 8.0 * float64(len(x.Data))
	if backward {
		bytes += 12 * float64(len(x.Data))
	}
	cpu0 := cputime.Now()
	b.ResetTimer()
	for b.Loop() {
		step()
	}
	cpu := cputime.Now() - cpu0
	b.ReportMetric(bytes*float64(b.N)/b.Elapsed().Seconds()/1e9, "GB/s")
	b.ReportMetric(bytes*float64(b.N)/cpu.Seconds()/1e9, "GB/s-cpu")
}

// BenchmarkBatchNorm2d times BatchNorm alone ("bn"), BatchNormReLU ("fused") and
// ReLU(BatchNorm) ("unfused"), forward only and forward + backward.
func BenchmarkBatchNorm2d(b *testing.B) {
	for _, c := range []int{16, 64} {
		shape := []int{128, c, 32, 32}
		for _, mode := range []string{"bn", "fused", "unfused"} {
			for _, bw := range []bool{false, true} {
				pass := "fwd"
				if bw {
					pass = "fwdbwd"
				}
				b.Run(fmt.Sprintf("%d_%d_%d_%d/%s/%s", shape[0], shape[1], shape[2], shape[3], mode, pass), func(b *testing.B) { benchBN(b, shape, mode, bw) })
			}
		}
	}
}

// BenchmarkBatchNormReLU is the fused op alone, forward + backward.
func BenchmarkBatchNormReLU(b *testing.B) {
	for _, c := range []int{16, 64} {
		shape := []int{128, c, 32, 32}
		b.Run(fmt.Sprintf("%d_%d_%d_%d", shape[0], shape[1], shape[2], shape[3]), func(b *testing.B) { benchBN(b, shape, "fused", true) })
	}
}

// BenchmarkBatchNorm1d is the projector's BatchNorm1d shape (batch 512, 2048
// features), where channels are contiguous within a row.
func BenchmarkBatchNorm1d(b *testing.B) {
	shape := []int{512, 2048}
	for _, mode := range []string{"bn", "fused"} {
		b.Run(fmt.Sprintf("%d_%d/%s/fwdbwd", shape[0], shape[1], mode), func(b *testing.B) { benchBN(b, shape, mode, true) })
	}
}
