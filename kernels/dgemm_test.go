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

func TestDrank2DotAndDdot(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	for _, n := range []int{0, 1, 7, 8, 9, 31, 32, 33, 100, 517} {
		r, v, w, u := make([]float64, n), make([]float64, n), make([]float64, n), make([]float64, n)
		for i := range r {
			r[i], v[i], w[i], u[i] = rng.NormFloat64(), rng.NormFloat64(), rng.NormFloat64(), rng.NormFloat64()
		}
		a, b := rng.NormFloat64(), rng.NormFloat64()
		want := make([]float64, n)
		var wantDot, dotRU, scale float64
		for j := range r {
			dotRU += r[j] * u[j]
			want[j] = r[j] - (a*w[j] + b*v[j])
			wantDot += want[j] * u[j]
			scale += math.Abs(want[j] * u[j])
		}
		if got := Ddot(r, u); math.Abs(got-dotRU) > 1e-13*(scale+1) {
			t.Errorf("n=%d: Ddot = %v, want %v", n, got, dotRU)
		}
		got := Drank2Dot(r, v, w, a, b, u)
		if math.Abs(got-wantDot) > 1e-13*(scale+1) {
			t.Errorf("n=%d: dot = %v, want %v", n, got, wantDot)
		}
		for j := range r {
			if math.Abs(r[j]-want[j]) > 1e-15*(math.Abs(want[j])+1) {
				t.Fatalf("n=%d: r[%d] = %v, want %v", n, j, r[j], want[j])
			}
		}
	}
}

// BenchmarkDgramKernel is the 8x24 micro-kernel alone on L1-resident panels
// (k = 128), against the FMA ceiling (one 512-bit FMA per cycle on Zen 4).
func BenchmarkDgramKernel(b *testing.B) {
	const k = 128
	a := make([]float64, 8*k)
	bb := make([]float64, 3*8*k)
	c := make([]float64, 8*24)
	for range b.N {
		for range 100 {
			dgramKern(3, k, a, bb, 8*k, c, 24)
		}
	}
	b.ReportMetric(float64(b.N)*100*2*8*24*k/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

func TestDrank2Symv(t *testing.T) {
	rng := rand.New(rand.NewSource(4))
	for _, n := range []int{0, 1, 7, 8, 9, 15, 31, 32, 33, 100, 517} {
		off := n % 8 // misaligned starts exercise the masked head
		mk := func() []float64 {
			x := make([]float64, n+off)
			for i := range x {
				x[i] = rng.NormFloat64()
			}
			return x[off:]
		}
		r, vp, wp, v, p := mk(), mk(), mk(), mk(), mk()
		a, b, vi := rng.NormFloat64(), rng.NormFloat64(), rng.NormFloat64()
		wantR, wantP := make([]float64, n), make([]float64, n)
		var wantDot, scale float64
		for j := range r {
			x := r[j] - (a*wp[j] + b*vp[j])
			wantR[j], wantP[j] = x, p[j]+vi*x
			wantDot += x * v[j]
			scale += math.Abs(x * v[j])
		}
		got := Drank2Symv(r, vp, wp, a, b, v, vi, p)
		if math.Abs(got-wantDot) > 1e-13*(scale+1) {
			t.Errorf("n=%d: dot = %v, want %v", n, got, wantDot)
		}
		for j := range r {
			if math.Abs(r[j]-wantR[j]) > 1e-15*(math.Abs(wantR[j])+1) || math.Abs(p[j]-wantP[j]) > 1e-14*(math.Abs(wantP[j])+1) {
				t.Fatalf("n=%d: r[%d], p[%d] = %v, %v; want %v, %v", n, j, j, r[j], p[j], wantR[j], wantP[j])
			}
		}
	}
}

func TestDgram32Stats(t *testing.T) {
	rng := rand.New(rand.NewSource(8))
	for _, d := range []int{3, 8, 24, 40, 64} {
		for _, rows := range []int{1, 127, 300} {
			for _, normalize := range []bool{false, true} {
				ldx := d + 5
				x := make([]float32, rows*ldx)
				for i := range x {
					x[i] = float32(rng.NormFloat64()*2 + 1)
				}
				if rows > 1 {
					clear(x[ldx : ldx+d]) // a zero row: norm clamped
				}
				shift := make([]float64, d)
				for j := range shift {
					shift[j] = rng.NormFloat64()
				}
				scale := make([]float64, rows)
				wantSum, wantS1, wantS2 := make([]float64, d), make([]float64, d), make([]float64, d)
				for r := range rows {
					var ss float64
					for j := range d {
						ss += float64(x[r*ldx+j]) * float64(x[r*ldx+j])
					}
					inv := 1 / math.Max(math.Sqrt(ss), 1e-12)
					scale[r] = 1
					if normalize {
						scale[r] = inv
					}
					for j := range d {
						f := float64(x[r*ldx+j])
						wantSum[j] += f*scale[r] - shift[j]
						wantS1[j] += f * inv
						wantS2[j] += f * inv * f * inv
					}
				}
				want := make([]float64, d*d)
				dgramRef(rows, d, func(r, j int) float64 { return float64(x[r*ldx+j]) }, scale, shift, want, d)
				got := make([]float64, d*d)
				st := &DgramStats{Sum: make([]float64, d), S1: make([]float64, d), S2: make([]float64, d)}
				Dgram32Stats(rows, d, x, ldx, normalize, shift, got, d, st)
				for i := range d {
					for j := i; j < d; j++ {
						if w, g := want[i*d+j], got[i*d+j]; math.Abs(g-w) > 1e-11*math.Max(1, math.Abs(w)) {
							t.Fatalf("d=%d rows=%d norm=%v: c[%d][%d] = %.17g, want %.17g", d, rows, normalize, i, j, g, w)
						}
					}
				}
				for j := range d {
					for _, p := range [][3]float64{{st.Sum[j], wantSum[j], 0}, {st.S1[j], wantS1[j], 1}, {st.S2[j], wantS2[j], 2}} {
						if math.Abs(p[0]-p[1]) > 1e-11*math.Max(1, math.Abs(p[1])) {
							t.Fatalf("d=%d rows=%d norm=%v: stat %v[%d] = %.17g, want %.17g", d, rows, normalize, p[2], j, p[0], p[1])
						}
					}
				}
			}
		}
	}
}
