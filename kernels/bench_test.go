package kernels

import (
	"fmt"
	"math/rand"
	"os"
	"testing"
	"time"
)

// BenchmarkSgemm reports GFLOP/s for each default shape with 1 and 2 threads.
func BenchmarkSgemm(b *testing.B) {
	for _, s := range DefaultGEMMShapes() {
		for _, th := range []int{1, 2} {
			b.Run(fmt.Sprintf("%s/%dT", s.Name, th), func(b *testing.B) {
				res := BenchGEMM([]GEMMShape{s}, th, 0)
				_ = res
				b.ResetTimer()
				var last GEMMResult
				for i := 0; i < b.N; i++ {
					last = BenchGEMM([]GEMMShape{s}, th, 0)[0]
				}
				b.ReportMetric(last.GFLOPS, "GFLOP/s")
			})
		}
	}
}

// TestBenchGEMMTable prints BenchGEMM's table when KERNELS_BENCH=1 (used for
// docs/kernels-notes.md): KERNELS_BENCH=1 go test -run BenchGEMMTable -v ./kernels/
func TestBenchGEMMTable(t *testing.T) {
	if os.Getenv("KERNELS_BENCH") == "" {
		t.Skip("set KERNELS_BENCH=1")
	}
	shapes := DefaultGEMMShapes()
	for _, th := range []int{1, 2} {
		for _, r := range BenchGEMM(shapes, th, 500*time.Millisecond) {
			t.Logf("%-38s %dT %-6s %8.1f GFLOP/s %5.1f%% peak  (%.3g ms/call)",
				r.Shape.Name, th, r.Impl, r.GFLOPS, r.PctPeak, r.Seconds*1e3)
		}
	}
}

func TestBenchGEMMSmoke(t *testing.T) {
	r := BenchGEMM([]GEMMShape{{Name: "tiny", M: 8, N: 8, K: 8}}, 2, time.Millisecond)
	if len(r) != 1 || r[0].GFLOPS <= 0 {
		t.Fatalf("bad result %+v", r)
	}
}

func benchVec(b *testing.B, n int, f func(x, y, z []float32)) {
	r := rand.New(rand.NewSource(1))
	x, y, z := randSlice(r, n), randSlice(r, n), make([]float32, n)
	b.SetBytes(int64(4 * n))
	for i := 0; i < b.N; i++ {
		f(x, y, z)
	}
}

var sink float32

// BenchmarkVec compares the dispatched primitives with their pure-Go loops.
func BenchmarkVec(b *testing.B) {
	for _, n := range []int{4096, 1 << 20} {
		cases := []struct {
			name string
			f    func(x, y, z []float32)
		}{
			{"Axpy", func(x, y, z []float32) { Axpy(0.5, x, y) }},
			{"axpyGo", func(x, y, z []float32) { axpyGo(0.5, x, y) }},
			{"Scale", func(x, y, z []float32) { Scale(1, x) }},
			{"scaleGo", func(x, y, z []float32) { scaleGo(1, x) }},
			{"Dot", func(x, y, z []float32) { sink = Dot(x, y) }},
			{"dotGo", func(x, y, z []float32) { sink = dotGo(x, y) }},
			{"Sum", func(x, y, z []float32) { sink = Sum(x) }},
			{"sumGo", func(x, y, z []float32) { sink = sumGo(x) }},
			{"ReLU", func(x, y, z []float32) { ReLU(z, x) }},
			{"reluGo", func(x, y, z []float32) { reluGo(z, x) }},
			{"ReLUBackward", func(x, y, z []float32) { ReLUBackward(z, y, x) }},
			{"reluBwdGo", func(x, y, z []float32) { reluBwdGo(z, y, x) }},
			{"Add", func(x, y, z []float32) { Add(z, x, y) }},
			{"addGo", func(x, y, z []float32) { addGo(z, x, y) }},
		}
		for _, c := range cases {
			b.Run(fmt.Sprintf("%s/%d", c.name, n), func(b *testing.B) { benchVec(b, n, c.f) })
		}
	}
}
