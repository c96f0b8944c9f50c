package collapse

import (
	"testing"
)

// BenchmarkSpectrumStages times each stage of Spectrum on the BenchSpectrum input
// (50000 x 512 float32): the statistics pass, the float64 covariance (default),
// the float32-block covariance (MethodCovariance32), the eigenvalues of the 512 x 512
// matrix, and the whole call.
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
	b.Run("stats", func(b *testing.B) {
		for range b.N {
			_, _ = rowStats(x, n, d, false)
		}
	})
	b.Run("cov64", func(b *testing.B) {
		for range b.N {
			covariance64(x, n, d, st.mean, nil)
		}
	})
	b.Run("cov32", func(b *testing.B) {
		for range b.N {
			covariance32(x, n, d, st.mean, nil)
		}
	})
	b.Run("eig", func(b *testing.B) {
		a := make([]float64, d*d)
		for range b.N {
			copy(a, cov)
			if _, err := symEigenvalues(a, d); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("total", func(b *testing.B) {
		for range b.N {
			if _, err := Spectrum(x, n, d, Options{}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
