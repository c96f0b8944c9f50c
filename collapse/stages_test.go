package collapse

import (
	"github.com/siam-ssl/siam/internal/cputime"
	"testing"
	"time"
)

// timed runs f b.N times and also reports CPU milliseconds per op (all threads):
// on a shared host the wall time is inflated by other processes, the CPU time
// much less so. For a stage that keeps both cores busy, idle wall ~ cpu-ms / 2.
func timed(b *testing.B, f func()) {
	b.Helper()
	c0 := cputime.Now()
	b.ResetTimer()
	for range b.N {
		f()
	}
	b.StopTimer()
	if c := cputime.Now() - c0; c > 0 {
		b.ReportMetric(float64(c)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
	}
}

// BenchmarkSpectrumStages times each stage of Spectrum on the BenchSpectrum input
// (50000 x 512 float32): the statistics pass, the float64 covariance (default),
// the float32-block covariance (MethodCovariance32), the eigenvalues of the 512 x 512
// matrix (tridiagonalisation alone, then with dsterf), and the whole call.
//
//	go test -run '^$' -bench SpectrumStages -count 5 ./collapse/
func BenchmarkSpectrumStages(b *testing.B) {
	const n, d = 50000, 512
	x := RandomFeatures(n, d, 1)
	st, err := rowStats(x, n, d, false)
	if err != nil {
		b.Fatal(err)
	}
	cov := covariance64(x, n, d, st.mean, nil)
	a := make([]float64, d*d)
	b.Run("stats", func(b *testing.B) { timed(b, func() { _, _ = rowStats(x, n, d, false) }) })
	b.Run("cov64", func(b *testing.B) { timed(b, func() { covariance64(x, n, d, st.mean, nil) }) })
	b.Run("cov32", func(b *testing.B) { timed(b, func() { covariance32(x, n, d, st.mean, nil) }) })
	b.Run("tridiag", func(b *testing.B) {
		timed(b, func() {
			copy(a, cov)
			tridiagonalize(a, d)
		})
	})
	b.Run("eig", func(b *testing.B) {
		timed(b, func() {
			copy(a, cov)
			if _, err := symEigenvalues(a, d); err != nil {
				b.Fatal(err)
			}
		})
	})
	b.Run("total", func(b *testing.B) {
		timed(b, func() {
			if _, err := Spectrum(x, n, d, Options{}); err != nil {
				b.Fatal(err)
			}
		})
	})
}

// BenchmarkBenchSpectrumTarget runs the target through BenchSpectrum
// (50000 x 512, median of 5 after a warm-up) and reports the median, the best run
// and the CPU seconds per run (idle wall ~ CPU/2 when both cores are busy):
//
//	go test -run '^$' -bench BenchSpectrumTarget -benchtime 1x ./collapse/
func BenchmarkBenchSpectrumTarget(b *testing.B) {
	for range b.N {
		c0 := cputime.Now()
		med, secs, _, err := BenchSpectrum(50000, 512, 5, 1)
		cpu := cputime.Now() - c0
		if err != nil {
			b.Fatal(err)
		}
		best := secs[0]
		for _, s := range secs {
			best = min(best, s)
		}
		b.ReportMetric(med, "median-s")
		b.ReportMetric(best, "best-s")
		b.ReportMetric(cpu.Seconds()/7, "cpu-s/run") // data generation (~1 run) + warm-up + 5 runs
	}
}
