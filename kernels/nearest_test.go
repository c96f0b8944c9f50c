package kernels

import (
	"cmp"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/siam-ssl/siam/internal/cputime"
)

// unitRows returns n Gaussian rows of dimension dim normalised to unit length,
// deterministic in seed.
func unitRows(n, dim int, seed uint64) []float32 {
	r := rand.New(rand.NewPCG(seed, 7))
	x := make([]float32, n*dim)
	for i := range n {
		var s float64
		row := x[i*dim : (i+1)*dim]
		for j := range row {
			v := r.NormFloat64()
			row[j], s = float32(v), s+v*v
		}
		for j := range row {
			row[j] = float32(float64(row[j]) / math.Sqrt(s))
		}
	}
	return x
}

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
	c0 := cputime.Now()
	b.ResetTimer()
	for range b.N {
		h.reset(k)
		for k0 := 0; k0 < nk; k0 += keyBlock {
			h.scanFiltered(row[k0:min(nk, k0+keyBlock)], int32(k0), idx)
		}
		h.sorted(outI, outS)
	}
	b.ReportMetric(float64(cputime.Now()-c0)/float64(b.N)/1e3, "cpu-us/op")
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

// The bfloat16-screened route returns exactly the top k by the float32 similarity
// Dot computes (ties by index: some keys are duplicated), and the same
// neighbours as the float32 GEMM route up to float32 rounding.
func TestScreenedMatchesExact(t *testing.T) {
	if !BF16Fast() {
		t.Log("no AVX512-BF16: NearestNeighbors uses the float32 route only")
	}
	const nq, nk, dim, k = 40, 3000, 64, 50
	q, keys := unitRows(nq, dim, 5), unitRows(nk, dim, 6)
	for i := 0; i < nk; i += 97 { // exact duplicates: equal similarities
		copy(keys[(i+1)%nk*dim:((i+1)%nk+1)*dim], keys[i*dim:(i+1)*dim])
	}
	got, err := NearestNeighbors(q, keys, dim, k, 7)
	if err != nil {
		t.Fatal(err)
	}
	old := screenBF16
	screenBF16 = false
	f32, err := NearestNeighbors(q, keys, dim, k, 7)
	screenBF16 = old
	if err != nil {
		t.Fatal(err)
	}
	for qi := range nq {
		row := make([]float32, nk)
		for j := range nk {
			row[j] = Dot(q[qi*dim:(qi+1)*dim], keys[j*dim:(j+1)*dim])
		}
		order := make([]int32, nk)
		for i := range order {
			order[i] = int32(i)
		}
		slices.SortFunc(order, func(a, b int32) int {
			if row[a] != row[b] {
				return cmp.Compare(row[b], row[a])
			}
			return cmp.Compare(a, b)
		})
		gi, gs := got.Row(qi)
		fi, fs := f32.Row(qi)
		for j := range k {
			if BF16Fast() && (gi[j] != order[j] || gs[j] != row[order[j]]) {
				t.Fatalf("query %d rank %d: key %d (%v), exact %d (%v)", qi, j, gi[j], gs[j], order[j], row[order[j]])
			}
			if math.Abs(float64(gs[j]-fs[j])) > 1e-6 {
				t.Fatalf("query %d rank %d: sim %v, float32 route %v", qi, j, gs[j], fs[j])
			}
			if gi[j] != fi[j] && math.Abs(float64(row[gi[j]]-row[fi[j]])) > 1e-6 {
				t.Fatalf("query %d rank %d: key %d, float32 route %d", qi, j, gi[j], fi[j])
			}
		}
	}
}

// bruteRank returns, for every query, all key indices ordered by score(q, key)
// descending, ties by smaller index: the reference of both searches.
func bruteRank(nq, nk int, score func(q, j int) float32) [][]int32 {
	out := make([][]int32, nq)
	for q := range nq {
		row := make([]float32, nk)
		for j := range nk {
			row[j] = score(q, j)
		}
		order := make([]int32, nk)
		for i := range order {
			order[i] = int32(i)
		}
		slices.SortStableFunc(order, func(a, b int32) int { return cmp.Compare(row[b], row[a]) })
		out[q] = order
	}
	return out
}

// NearestNeighbors equals a full sort of the dot products, for shapes that do not
// fill whole panels or chunks, with k clamped to the number of keys.
func TestNearestMatchesSort(t *testing.T) {
	for _, tc := range []struct{ nq, nk, dim, k, chunk int }{
		{50, 300, 8, 20, 0}, {70, 2500, 16, 200, 16}, {9, 40, 5, 128, 3}, {1, 1, 3, 1, 0},
	} {
		q, keys := unitRows(tc.nq, tc.dim, uint64(tc.nk)), unitRows(tc.nk, tc.dim, uint64(tc.nk+1))
		nb, err := NearestNeighbors(q, keys, tc.dim, tc.k, tc.chunk)
		if err != nil {
			t.Fatal(err)
		}
		want := bruteRank(tc.nq, tc.nk, func(i, j int) float32 {
			return Dot(q[i*tc.dim:(i+1)*tc.dim], keys[j*tc.dim:(j+1)*tc.dim])
		})
		for qi := range tc.nq {
			idx, sim := nb.Row(qi)
			for j := range min(tc.k, tc.nk) {
				w := want[qi][j]
				if idx[j] != w && math.Abs(float64(sim[j]-Dot(q[qi*tc.dim:(qi+1)*tc.dim], keys[int(w)*tc.dim:(int(w)+1)*tc.dim]))) > 1e-6 {
					t.Fatalf("%+v query %d rank %d: key %d (%v), sorted %d", tc, qi, j, idx[j], sim[j], w)
				}
			}
		}
	}
}

func TestNearestChunkInvariance(t *testing.T) {
	const nq, nk, dim, k = 333, 2100, 24, 50
	q, keys := unitRows(nq, dim, 1), unitRows(nk, dim, 2)
	ref, err := NearestNeighbors(q, keys, dim, k, 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, chunk := range []int{2, 7, 64, 256, 1000} {
		got, err := NearestNeighbors(q, keys, dim, k, chunk)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got.Index, ref.Index) {
			t.Errorf("chunk %d: neighbour indices differ from chunk 1", chunk)
		}
		for i := range got.Sim {
			if math.Abs(float64(got.Sim[i]-ref.Sim[i])) > 1e-6 {
				t.Fatalf("chunk %d: sim[%d] = %v, chunk 1 %v", chunk, i, got.Sim[i], ref.Sim[i])
			}
		}
	}
	for qi := range nq {
		_, s := ref.Row(qi)
		for j := 1; j < k; j++ {
			if s[j] > s[j-1] {
				t.Fatalf("query %d not sorted: %v", qi, s)
			}
		}
	}
}

// NearestL2 ranks unnormalised vectors by squared distance exactly like a full
// float64 sort (the test keeps distances apart), returns the negated squared
// distances, and finds a key that equals the query at distance ~0.
func TestNearestL2(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	for _, tc := range []struct{ nq, nk, dim, k, chunk int }{
		{16, 32, 12, 1, 0}, {40, 700, 33, 5, 7}, {3, 2, 4, 3, 0},
	} {
		q, keys := make([]float32, tc.nq*tc.dim), make([]float32, tc.nk*tc.dim)
		for i := range q {
			q[i] = float32(3 * r.NormFloat64())
		}
		for i := range keys {
			keys[i] = float32(r.NormFloat64() * float64(1+i/tc.dim%3)) // norms differ: not a dot-product ranking
		}
		copy(keys[(tc.nk-1)*tc.dim:], q[:tc.dim]) // query 0 sits on the last key
		nb, err := NearestL2(q, keys, tc.dim, tc.k, tc.chunk)
		if err != nil {
			t.Fatal(err)
		}
		dist := func(i, j int) float64 {
			var s float64
			for c := range tc.dim {
				d := float64(q[i*tc.dim+c]) - float64(keys[j*tc.dim+c])
				s += d * d
			}
			return s
		}
		want := bruteRank(tc.nq, tc.nk, func(i, j int) float32 { return float32(-dist(i, j)) })
		for qi := range tc.nq {
			idx, sim := nb.Row(qi)
			for j := range min(tc.k, tc.nk) {
				if idx[j] != want[qi][j] {
					t.Fatalf("%+v query %d rank %d: key %d, sorted %d", tc, qi, j, idx[j], want[qi][j])
				}
				d := dist(qi, int(idx[j]))
				if math.Abs(-float64(sim[j])-d) > 1e-4*math.Max(1, d) {
					t.Fatalf("%+v query %d rank %d: -sim %v, squared distance %v", tc, qi, j, -sim[j], d)
				}
			}
		}
		if idx, _ := nb.Row(0); int(idx[0]) != tc.nk-1 {
			t.Fatalf("%+v: query 0 found key %d, not its copy %d", tc, idx[0], tc.nk-1)
		}
	}
}

func TestNearestErrors(t *testing.T) {
	keys := []float32{1, 0, 0, 1}
	for _, tc := range []struct {
		name string
		run  func() error
	}{
		{"k=0", func() error { _, err := NearestNeighbors(keys[:2], keys, 2, 0, 0); return err }},
		{"no queries", func() error { _, err := NearestNeighbors(nil, keys, 2, 1, 0); return err }},
		{"ragged keys", func() error { _, err := NearestNeighbors(keys[:2], keys[:3], 2, 1, 0); return err }},
		{"zero dim", func() error { _, err := NearestNeighbors(keys, keys, 0, 1, 0); return err }},
		{"l2 ragged keys", func() error { _, err := NearestL2(keys[:2], keys[:3], 2, 1, 0); return err }},
		{"l2 no keys", func() error { _, err := NearestL2(keys[:2], nil, 2, 1, 0); return err }},
	} {
		if err := tc.run(); err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
}

// The float32 GEMM route (CPUs without AVX512-BF16) passes the same checks.
func TestNearestFloat32Route(t *testing.T) {
	old := screenBF16
	screenBF16 = false
	defer func() { screenBF16 = old }()
	t.Run("matches sort", TestNearestMatchesSort)
	t.Run("chunk invariance", TestNearestChunkInvariance)
}
