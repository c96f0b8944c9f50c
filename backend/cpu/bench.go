package cpu

import (
	"time"

	"github.com/siam-ssl/siam/kernels"
)

// GEMMShape is one product size of the GEMM benchmark (kernels.GEMMShape).
type GEMMShape = kernels.GEMMShape

// GEMMResult is one row of the GEMM benchmark (kernels.GEMMResult).
type GEMMResult = kernels.GEMMResult

// PeakPerCore returns the measured float32 FMA peak of one core in GFLOP/s, the
// denominator of the benchmarks' "% of peak".
func PeakPerCore() float64 { return kernels.PeakPerCore() }

// DefaultGEMMShapes returns the shapes `siam bench gemm` times.
func DefaultGEMMShapes() []GEMMShape { return kernels.DefaultGEMMShapes() }

// BenchGEMM times the CPU GEMM kernels on shapes with the given thread count.
func BenchGEMM(shapes []GEMMShape, threads int, minTime time.Duration) []GEMMResult {
	return kernels.BenchGEMM(shapes, threads, minTime)
}
