package kernels

import (
	"fmt"
	"math"
	"math/rand"
	"testing"
)

// dgramRef is the naive float64 reference of Dgram32/Dgram64.
func dgramRef(rows, d int, x func(r, j int) float64, scale, shift []float64, c []float64, ldc int) {
	for i := 0; i < d; i++ {
		for j := i; j < d; j++ {
			var s float64
			for r := 0; r < rows; r++ {
				sc := 1.0
				if scale != nil {
					sc = scale[r]
				}
				yi, yj := x(r, i)*sc, x(r, j)*sc
				if shift != nil {
					yi, yj = yi-shift[i], yj-shift[j]
				}
				s += yi * yj
			}
			c[i*ldc+j] += s
		}
	}
}

func TestDgram(t *testing.T) {
	rng := rand.New(rand.NewSource(5))
	for _, d := range []int{1, 7, 8, 13, 16, 24, 40, 64, 100} {
		for _, rows := range []int{1, 5, 127, 128, 129, 300} {
			for _, variant := range []string{"plain", "shift", "scale+shift"} {
				name := fmt.Sprintf("d%d/rows%d/%s", d, rows, variant)
				t.Run(name, func(t *testing.T) {
					ldx, ldc := d+3, d+2
					x32 := make([]float32, rows*ldx)
					x64 := make([]float64, rows*ldx)
					for i := range x32 {
						x32[i] = float32(rng.NormFloat64() + 2)
						x64[i] = float64(x32[i])
					}
					var scale, shift []float64
					if variant != "plain" {
						shift = make([]float64, d)
						for j := range shift {
							shift[j] = 2 + 0.1*rng.NormFloat64()
						}
					}
					if variant == "scale+shift" {
						scale = make([]float64, rows)
						for r := range scale {
							scale[r] = 0.5 + rng.Float64()
						}
					}
					init := func() []float64 {
						c := make([]float64, d*ldc)
						for i := range c {
							c[i] = float64(i % 7)
						}
						return c
					}
					want := init()
					dgramRef(rows, d, func(r, j int) float64 { return x64[r*ldx+j] }, scale, shift, want, ldc)
					g32, g64 := init(), init()
					Dgram32(rows, d, x32, ldx, scale, shift, g32, ldc)
					Dgram64(rows, d, x64, ldx, scale, shift, g64, ldc)
					for name, got := range map[string][]float64{"Dgram32": g32, "Dgram64": g64} {
						for i := 0; i < d; i++ {
							for j := 0; j < ldc; j++ {
								w, g := want[i*ldc+j], got[i*ldc+j]
								if j < i || j >= d { // untouched
									if g != float64((i*ldc+j)%7) {
										t.Fatalf("%s: c[%d][%d] = %v changed (outside the upper triangle)", name, i, j, g)
									}
									continue
								}
								if math.Abs(g-w) > 1e-12*math.Max(1, math.Abs(w)) {
									t.Fatalf("%s: c[%d][%d] = %.17g, want %.17g", name, i, j, g, w)
								}
							}
						}
					}
				})
			}
		}
	}
}

func TestIndexGreater(t *testing.T) {
	rng := rand.New(rand.NewSource(9))
	for _, n := range []int{0, 1, 15, 16, 17, 63, 64, 65, 200, 1024, 1031} {
		for _, frac := range []float64{0, 0.01, 0.5, 1} {
			x := make([]float32, n)
			for i := range x {
				if rng.Float64() < frac {
					x[i] = 1 + rng.Float32()
				} else {
					x[i] = -rng.Float32()
				}
				if i%97 == 3 {
					x[i] = float32(math.NaN())
				}
				if i%89 == 5 {
					x[i] = 0.5 // == thr: must not pass
				}
			}
			idx := make([]int32, n+16)
			got := IndexGreater(x, 0.5, 1000, idx)
			var want []int32
			for j, v := range x {
				if v > 0.5 {
					want = append(want, 1000+int32(j))
				}
			}
			if got != len(want) {
				t.Fatalf("n=%d frac=%g: %d hits, want %d", n, frac, got, len(want))
			}
			for i, w := range want {
				if idx[i] != w {
					t.Fatalf("n=%d frac=%g: idx[%d] = %d, want %d", n, frac, i, idx[i], w)
				}
			}
		}
	}
}

// BenchmarkDgram reports float64 GFLOP/s of the useful half (rows*d*d) of one
// single-goroutine Gram product, the collapse covariance shape per worker.
func BenchmarkDgram(b *testing.B) {
	for _, sz := range []struct{ rows, d int }{{25000, 512}, {4096, 128}} {
		b.Run(fmt.Sprintf("%dx%d", sz.rows, sz.d), func(b *testing.B) {
			x := make([]float32, sz.rows*sz.d)
			for i := range x {
				x[i] = float32(i%13) - 6
			}
			shift := make([]float64, sz.d)
			c := make([]float64, sz.d*sz.d)
			b.ResetTimer()
			for range b.N {
				Dgram32(sz.rows, sz.d, x, sz.d, nil, shift, c, sz.d)
			}
			b.ReportMetric(float64(sz.rows)*float64(sz.d)*float64(sz.d)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

func BenchmarkIndexGreater(b *testing.B) {
	x := make([]float32, 4096)
	rng := rand.New(rand.NewSource(1))
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	idx := make([]int32, len(x)+16)
	b.SetBytes(4 * int64(len(x)))
	for range b.N {
		IndexGreater(x, 3.5, 0, idx)
	}
}
