package kernels

import "testing"

func BenchmarkDgramKernRaw(b *testing.B) {
	const k = 128
	a := make([]float64, 8*k)
	bb := make([]float64, 3*8*k)
	c := make([]float64, 8*24)
	for range b.N {
		for range 100 {
			dgramKern8x24(k, &a[0], &bb[0], 8*k, &c[0], 24)
		}
	}
	b.ReportMetric(float64(b.N)*100*2*8*24*k/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}
func BenchmarkFMAPeak(b *testing.B) {
	for range b.N {
		fmaPeak512(1000)
	}
}
