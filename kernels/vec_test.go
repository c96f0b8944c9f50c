package kernels

import (
	"math"
	"math/rand"
	"testing"
)

func near(a, b float32, scale float64) bool {
	return math.Abs(float64(a-b)) <= 1e-5*scale+1e-6
}

func TestVec(t *testing.T) {
	r := rand.New(rand.NewSource(5))
	for _, n := range []int{0, 1, 5, 15, 16, 17, 31, 63, 64, 65, 100, 1000, 4099} {
		x, y := randSlice(r, n), randSlice(r, n)
		// Axpy
		got := append([]float32(nil), y...)
		want := append([]float32(nil), y...)
		Axpy(0.7, x, got)
		for i := range want {
			want[i] += 0.7 * x[i]
		}
		for i := range want {
			if !near(got[i], want[i], 1) {
				t.Fatalf("Axpy n=%d i=%d: %g want %g", n, i, got[i], want[i])
			}
		}
		// Scale
		got = append([]float32(nil), x...)
		Scale(-1.25, got)
		for i := range x {
			if got[i] != -1.25*x[i] {
				t.Fatalf("Scale n=%d i=%d", n, i)
			}
		}
		// Dot, Sum
		var d, s, sa float64
		for i := range x {
			d += float64(x[i]) * float64(y[i])
			s += float64(x[i])
			sa += math.Abs(float64(x[i]))
		}
		if g := Dot(x, y); !near(g, float32(d), float64(n)) {
			t.Fatalf("Dot n=%d: %g want %g", n, g, d)
		}
		if g := Sum(x); !near(g, float32(s), sa) {
			t.Fatalf("Sum n=%d: %g want %g", n, g, s)
		}
		// ReLU, ReLUBackward
		if n > 3 {
			x[3] = float32(math.NaN())
		}
		got = make([]float32, n)
		ReLU(got, x)
		for i, v := range x {
			w := float32(0)
			if v > 0 {
				w = v
			}
			if got[i] != w {
				t.Fatalf("ReLU n=%d i=%d: %g want %g", n, i, got[i], w)
			}
		}
		ReLUBackward(got, y, x)
		for i, v := range x {
			w := float32(0)
			if v > 0 {
				w = y[i]
			}
			if got[i] != w {
				t.Fatalf("ReLUBackward n=%d i=%d", n, i)
			}
		}
		// Add (aliased)
		got = append([]float32(nil), x...)
		Add(got, got, y)
		for i := range x {
			if w := x[i] + y[i]; got[i] != w && !(w != w && got[i] != got[i]) {
				t.Fatalf("Add n=%d i=%d", n, i)
			}
		}
	}
}
