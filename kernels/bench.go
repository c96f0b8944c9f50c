package kernels

import (
	"math/rand"
	"runtime"
	"sync"
	"time"

	"github.com/siam-ssl/siam/parallel"
)

// PeakGFLOPSPerCore is the fp32 FMA ceiling of one core of the target machine
// (AMD Zen 5, AVX-512: 2 FMA pipes x 16 lanes x 2 FLOP x ~3.3 GHz), as measured in
// shared/ENGINE-NOTES.md (212 GFLOP/s). BenchGEMM reports % of threads times this.
const PeakGFLOPSPerCore = 212.0

// GEMMShape is one GEMM problem for BenchGEMM: C(MxN) = op(A)(MxK) * op(B)(KxN).
type GEMMShape struct {
	Name           string // label, e.g. "conv64 fwd per image"
	M, N, K        int
	TransA, TransB bool
	// PerWorker runs one independent single-goroutine Sgemm per thread (the
	// one-image-per-worker pattern of the conv layers) instead of one SgemmPar.
	PerWorker bool
}

// GEMMResult is BenchGEMM's measurement of one shape.
type GEMMResult struct {
	Shape   GEMMShape
	Threads int
	Impl    string  // micro-kernel in use ("avx512", "avx2", "go")
	Iters   int     // calls per timed batch (per worker when PerWorker)
	Seconds float64 // wall time per call, best batch
	GFLOPS  float64 // total 2*M*N*K*(workers) / time
	PctPeak float64 // GFLOPS / (threads * PeakGFLOPSPerCore) * 100
}

// DefaultGEMMShapes returns the shapes `siam bench gemm` reports: square 256, 1024
// and 2048, and the im2col shapes of the ResNet convolutions (ENGINE-NOTES.md).
func DefaultGEMMShapes() []GEMMShape {
	return []GEMMShape{
		{Name: "square 256", M: 256, N: 256, K: 256},
		{Name: "square 1024", M: 1024, N: 1024, K: 1024},
		{Name: "square 2048", M: 2048, N: 2048, K: 2048},
		{Name: "conv64 fwd per image", M: 64, N: 1024, K: 576, PerWorker: true},
		{Name: "conv16 fwd per image", M: 16, N: 1024, K: 144, PerWorker: true},
		{Name: "conv64 bwd-data per image (A^T)", M: 576, N: 1024, K: 64, TransA: true, PerWorker: true},
		{Name: "conv64 bwd-weights per image (B^T)", M: 64, N: 576, K: 1024, TransB: true, PerWorker: true},
		{Name: "conv64 fwd whole batch", M: 64, N: 131072, K: 576},
		{Name: "conv64 bwd-weights whole batch (B^T)", M: 64, N: 576, K: 131072, TransB: true},
	}
}

// BenchGEMM times each shape with threads goroutines (GOMAXPROCS is set to threads
// for the duration and restored) for at least minTime after one warm-up call, in
// batches of about minTime/10 (at least 3), and returns the best batch's GFLOP/s and
// % of the FMA peak.
func BenchGEMM(shapes []GEMMShape, threads int, minTime time.Duration) []GEMMResult {
	if threads < 1 {
		threads = 1
	}
	prev := runtime.GOMAXPROCS(threads)
	defer runtime.GOMAXPROCS(prev)
	var out []GEMMResult
	for _, s := range shapes {
		out = append(out, benchShape(s, threads, minTime))
	}
	return out
}

type gemmOperands struct {
	a, b, c       []float32
	lda, ldb, ldc int
}

func newOperands(s GEMMShape, r *rand.Rand) gemmOperands {
	lda, ldb := s.K, s.N
	if s.TransA {
		lda = s.M
	}
	if s.TransB {
		ldb = s.K
	}
	o := gemmOperands{
		a: make([]float32, s.M*s.K), b: make([]float32, s.K*s.N), c: make([]float32, s.M*s.N),
		lda: lda, ldb: ldb, ldc: s.N,
	}
	for i := range o.a {
		o.a[i] = r.Float32() - 0.5
	}
	for i := range o.b {
		o.b[i] = r.Float32() - 0.5
	}
	return o
}

func benchShape(s GEMMShape, threads int, minTime time.Duration) GEMMResult {
	r := rand.New(rand.NewSource(1))
	workers := 1
	if s.PerWorker {
		workers = threads
	}
	ops := make([]gemmOperands, workers)
	for i := range ops {
		ops[i] = newOperands(s, r)
	}
	call := func(o gemmOperands, par bool) {
		f := Sgemm
		if par {
			f = SgemmPar
		}
		f(s.TransA, s.TransB, s.M, s.N, s.K, 1, o.a, o.lda, o.b, o.ldb, 0, o.c, o.ldc)
	}
	run := func(iters int) time.Duration {
		start := time.Now()
		if !s.PerWorker {
			for i := 0; i < iters; i++ {
				call(ops[0], true)
			}
			return time.Since(start)
		}
		parallel.ForWorker(workers, func(_, lo, hi int) {
			for _, o := range ops[lo:hi] {
				for i := 0; i < iters; i++ {
					call(o, false)
				}
			}
		})
		return time.Since(start)
	}
	// Calibrate a batch to ~minTime/10, then keep the best batch: the host is
	// shared, and the best batch filters out preemption by other processes.
	run(1)
	iters := 1
	batch := minTime / 10
	for {
		el := run(iters)
		if el >= batch || iters >= 1<<30 {
			break
		}
		next := iters * 2
		if el > 0 {
			next = int(float64(iters)*float64(batch)/float64(el)*1.2) + 1
		}
		iters = max(iters+1, min(next, iters*100))
	}
	best := time.Duration(1 << 62)
	total := time.Duration(0)
	batches := 0
	for total < minTime || batches < 3 {
		el := run(iters)
		best = min(best, el)
		total += el
		batches++
	}
	sec := best.Seconds() / float64(iters)
	gf := 2 * float64(s.M) * float64(s.N) * float64(s.K) * float64(workers) / sec / 1e9
	return GEMMResult{
		Shape: s, Threads: threads, Impl: active.name, Iters: iters, Seconds: sec,
		GFLOPS: gf, PctPeak: gf / (float64(threads) * PeakPerCore()) * 100,
	}
}

// MeasureFMAPeak returns the fp32 FMA ceiling of one core measured now, in
// GFLOP/s: a register-only loop of 12 independent FMAs (zmm when AVX-512 is
// present), best of several ~1 ms runs. It returns 0 where there is no AVX-512
// assembly. On the development host it read ~118 GFLOP/s for zmm and ymm alike
// (one 512-bit FMA per cycle), not the 212 of ENGINE-NOTES.md.
func MeasureFMAPeak() float64 {
	return measureFMAPeak()
}

var peakOnce struct {
	sync.Once
	v float64
}

// PeakPerCore is the per-core ceiling every "% of peak" figure divides by: the
// FMA peak measured once on this machine (MeasureFMAPeak), or PeakGFLOPSPerCore
// where no AVX-512 assembly can measure it. The measured value is what matters:
// the machines this project runs on have read 118 (Zen 4: one 512-bit FMA per
// cycle) where ENGINE-NOTES.md's host read 212.
func PeakPerCore() float64 {
	peakOnce.Do(func() {
		peakOnce.v = MeasureFMAPeak()
		if peakOnce.v <= 0 {
			peakOnce.v = PeakGFLOPSPerCore
		}
	})
	return peakOnce.v
}

func measureFMAPeak() float64 {
	if !hasVec512 {
		return 0
	}
	const n = 100000
	best := time.Duration(1 << 62)
	for r := 0; r < 50; r++ {
		st := time.Now()
		fmaPeak512(n)
		best = min(best, time.Since(st))
	}
	return float64(n) * 12 * 32 / best.Seconds() / 1e9
}
