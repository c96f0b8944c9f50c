package eval

import (
	"math/rand/v2"
	"testing"
)

// BenchmarkTopK times the per-query top-k selection alone (filter, buffer, final
// sort) on one query's 50000 random similarities, k = 200, in blocks of keyBlock:
// the part of NearestNeighbors that is not GEMM.
func BenchmarkTopK(b *testing.B) {
	const nk, k = 50000, 200
	r := rand.New(rand.NewPCG(1, 2))
	row := make([]float32, nk)
	for i := range row {
		row[i] = float32(r.NormFloat64() * 0.044)
	}
	var h topK
	idx := make([]int32, keyBlock+16)
	outI, outS := make([]int32, k), make([]float32, k)
	b.ResetTimer()
	for range b.N {
		h.reset(k)
		for k0 := 0; k0 < nk; k0 += keyBlock {
			h.scanFiltered(row[k0:min(nk, k0+keyBlock)], int32(k0), idx)
		}
		h.sorted(outI, outS)
	}
}

// The filtered, buffered selection equals a full sort (similarity descending, index
// ascending), ties included.
func TestTopKMatchesSort(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, tc := range []struct{ n, k, levels int }{{1000, 10, 0}, {5000, 200, 0}, {5000, 200, 7}, {300, 300, 3}, {50, 1, 2}} {
		row := make([]float32, tc.n)
		for i := range row {
			if tc.levels > 0 {
				row[i] = float32(r.IntN(tc.levels)) // heavy ties
			} else {
				row[i] = float32(r.NormFloat64())
			}
		}
		var h topK
		h.reset(tc.k)
		idx := make([]int32, 64+16)
		for k0 := 0; k0 < tc.n; k0 += 64 {
			h.scanFiltered(row[k0:min(tc.n, k0+64)], int32(k0), idx)
		}
		gotI, gotS := make([]int32, tc.k), make([]float32, tc.k)
		h.sorted(gotI, gotS)
		order := make([]int32, tc.n)
		for i := range order {
			order[i] = int32(i)
		}
		sortByRank(order, row)
		for j := range tc.k {
			if gotI[j] != order[j] || gotS[j] != row[order[j]] {
				t.Fatalf("%+v: rank %d: got key %d (%v), want %d (%v)", tc, j, gotI[j], gotS[j], order[j], row[order[j]])
			}
		}
	}
}

func sortByRank(order []int32, row []float32) {
	for i := 1; i < len(order); i++ { // insertion sort: small tests only
		for j := i; j > 0; j-- {
			a, b := order[j], order[j-1]
			if row[a] > row[b] || (row[a] == row[b] && a < b) {
				order[j], order[j-1] = b, a
			} else {
				break
			}
		}
	}
}
