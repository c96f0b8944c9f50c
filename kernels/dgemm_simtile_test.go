package kernels

import (
	"math"
	"math/rand"
	"testing"
)

func TestMulTile(t *testing.T) {
	rng := rand.New(rand.NewSource(11))
	for _, sz := range []struct{ m, n, dim int }{{1, 1, 1}, {5, 40, 3}, {13, 70, 17}, {30, 100, 64}, {25, 33, 512}} {
		q := make([]float32, sz.m*sz.dim)
		keys := make([]float32, sz.n*sz.dim)
		for i := range q {
			q[i] = float32(rng.NormFloat64())
		}
		for i := range keys {
			keys[i] = float32(rng.NormFloat64())
		}
		pk := PackKeys(keys, sz.n, sz.dim)
		pq := PackQueries(q, sz.m, sz.dim)
		nr := pk.PanelWidth()
		ldc := (sz.n + nr - 1) / nr * nr
		rows := 0
		for ti := range pq.Tiles() {
			row0, mr := pq.Tile(ti)
			if row0 != rows || mr < 1 || mr > pq.MaxTileRows() {
				t.Fatalf("tile %d: row0 %d rows %d", ti, row0, mr)
			}
			rows += mr
			// Whole range, and a range starting at the second panel.
			for _, k0 := range []int{0, nr} {
				if k0 >= sz.n {
					continue
				}
				c := make([]float32, mr*ldc)
				MulTile(pq, ti, pk, k0, sz.n, c, ldc)
				for i := range mr {
					for j := k0; j < sz.n; j++ {
						var want, scale float64
						for p := range sz.dim {
							v := float64(q[(row0+i)*sz.dim+p]) * float64(keys[j*sz.dim+p])
							want += v
							scale += math.Abs(v)
						}
						if got := float64(c[i*ldc+j-k0]); math.Abs(got-want) > 1e-5*scale+1e-6 {
							t.Fatalf("%v tile %d: c[%d][%d] = %v, want %v", sz, ti, i, j, got, want)
						}
					}
				}
			}
		}
		if rows != sz.m {
			t.Fatalf("%v: tiles cover %d rows", sz, rows)
		}
	}
}

// MulTile16 stays within BF16ErrorBound of the exact dot product, the assembly
// and the portable kernel agree bit for bit.
func TestMulTile16(t *testing.T) {
	rng := rand.New(rand.NewSource(12))
	for _, sz := range []struct{ m, n, dim int }{{1, 1, 1}, {5, 40, 3}, {13, 70, 17}, {30, 100, 64}, {25, 33, 512}} {
		q := make([]float32, sz.m*sz.dim)
		keys := make([]float32, sz.n*sz.dim)
		for i := range q {
			q[i] = float32(rng.NormFloat64())
		}
		for i := range keys {
			keys[i] = float32(rng.NormFloat64())
			if i%37 == 5 {
				keys[i] = 0
			}
		}
		pk := PackKeys16(keys, sz.n, sz.dim)
		pq := PackQueries16(q, sz.m, sz.dim)
		ldc := (sz.n + 31) / 32 * 32
		bound := BF16ErrorBound(sz.dim)
		norm := func(x []float32) float64 {
			var s float64
			for _, v := range x {
				s += float64(v) * float64(v)
			}
			return math.Sqrt(s)
		}
		for ti := range pq.Tiles() {
			row0, mr := pq.Tile(ti)
			c := make([]float32, mr*ldc)
			MulTile16(pq, ti, pk, 0, sz.n, c, ldc)
			cg := make([]float32, mr*ldc)
			for j := 0; j < sz.n; j += 32 {
				bf16KernGo(mr, pk.kp, pq.data[row0*pk.kp:(row0+mr)*pk.kp], pk.data[j*pk.kp:(j+32)*pk.kp], cg[j:], ldc)
			}
			maxErr := 0.0
			for i := range mr {
				qr := q[(row0+i)*sz.dim : (row0+i+1)*sz.dim]
				for j := 0; j < sz.n; j++ {
					kr := keys[j*sz.dim : (j+1)*sz.dim]
					var want float64
					for p := range sz.dim {
						want += float64(qr[p]) * float64(kr[p])
					}
					got := float64(c[i*ldc+j])
					lim := bound * norm(qr) * norm(kr)
					if math.Abs(got-want) > lim {
						t.Fatalf("%v: s~[%d][%d] = %v, exact %v: error %g > bound %g", sz, i, j, got, want, math.Abs(got-want), lim)
					}
					maxErr = max(maxErr, math.Abs(got-want)/(norm(qr)*norm(kr)+1e-30))
					if c[i*ldc+j] != cg[i*ldc+j] {
						t.Fatalf("%v: asm %v != Go %v at [%d][%d]", sz, c[i*ldc+j], cg[i*ldc+j], i, j)
					}
				}
			}
			if ti == 0 {
				t.Logf("%v: max error %.3g of bound %.3g (relative to |q||k|)", sz, maxErr, bound)
			}
		}
	}
}
