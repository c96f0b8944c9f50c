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
