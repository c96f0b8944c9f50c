package eval

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"
)

// A hand-made 2-d case: keys on the unit circle at known angles.
func TestKNNHandMade(t *testing.T) {
	deg := func(a float64) []float32 {
		r := a * math.Pi / 180
		return []float32{float32(3 * math.Cos(r)), float32(3 * math.Sin(r))} // norm 3: KNN normalises
	}
	var keys []float32
	// key angles and labels
	angles := []float64{0, 10, 20, 90, 100, 180}
	labels := []int{0, 0, 1, 1, 1, 2}
	for _, a := range angles {
		keys = append(keys, deg(a)...)
	}
	tests := []struct {
		name     string
		query    float64
		label    int
		nearest  []int32 // expected neighbour order
		majority []bool  // correct at k = 1..6
	}{
		// From 5°: 0 and 10 tie at 5° (smaller index first), then 20, 90, 100, 180.
		{"between 0 and 10", 5, 0, []int32{0, 1, 2, 3, 4, 5}, []bool{true, true, true, true, false, false}},
		// From 95°: 90 and 100 tie (index 3 first), then 20 (75°), 10, 180 (85° -> nearer than 10 at 85? 180-95=85, 95-10=85: tie, index 1 first), 0.
		{"between 90 and 100", 95, 1, []int32{3, 4, 2, 1, 5, 0}, []bool{true, true, true, true, true, true}},
		// From 170°: 180 (10°), 100 (70°), 90 (80°), 20, 10, 0. Label 2 wins k=1 and, at
		// k=2 (2 vs 1, one vote each), the higher summed similarity: class 2.
		{"near 180", 170, 2, []int32{5, 4, 3, 2, 1, 0}, []bool{true, true, false, false, false, false}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q := deg(tc.query)
			nb, err := NearestNeighbors(normalized(q, 2), normalized(keys, 2), 2, 6, 0)
			if err != nil {
				t.Fatal(err)
			}
			idx, _ := nb.Row(0)
			if !slices.Equal(idx, tc.nearest) {
				t.Errorf("neighbours %v, want %v", idx, tc.nearest)
			}
			r, err := KNN(keys, labels, q, []int{tc.label}, 2, KNNOptions{MaxK: 6, WeightedK: 3})
			if err != nil {
				t.Fatal(err)
			}
			for k, want := range tc.majority {
				if got := r.Accuracy[k] == 1; got != want {
					t.Errorf("k=%d: correct = %v, want %v", k+1, got, want)
				}
			}
		})
	}
}

func normalized(x []float32, dim int) []float32 {
	x = slices.Clone(x)
	if err := NormalizeRows(x, dim); err != nil {
		panic(err)
	}
	return x
}

// Majority ties: two classes with the same vote count — the higher summed similarity
// wins; with equal sums, the smaller label.
func TestMajorityTieBreak(t *testing.T) {
	nb := &Neighbors{K: 4, Index: []int32{0, 1, 2, 3, 0, 1, 2, 3}, Sim: []float32{0.9, 0.8, 0.7, 0.6, 0.5, 0.5, 0.5, 0.5}}
	keyLabels := []int{3, 1, 1, 3}
	// query 0: k=2: {3:0.9, 1:0.8} -> 1 vote each, 3 has the higher sum -> 3.
	//          k=4: {3: 0.9+0.6=1.5, 1: 0.8+0.7=1.5} -> equal sums -> smaller label 1.
	// query 1: all sims equal: k=2 tie -> smaller label 1; k=1 -> 3.
	//
	// k=1: q0 -> 3 right, q1 -> 3 wrong.        k=2: q0 -> 3 right, q1 -> 1 right.
	// k=3: q0 -> 1 (two votes) wrong, q1 -> 1.  k=4: q0 -> 1 (equal sums) wrong, q1 -> 1.
	acc := MajorityVoteSweep(nb, keyLabels, []int{3, 1}, 4, 4)
	want := []float64{0.5, 1, 0.5, 0.5}
	if !slices.Equal(acc, want) {
		t.Errorf("accuracies %v, want %v", acc, want)
	}
}

// bruteForce is the reference: full similarity rows, full sort, then the votes.
func bruteForce(keys, queries []float32, keyLabels, queryLabels []int, dim, nc, maxK, wk int, temp float64) (maj []float64, weighted float64, nbrs [][]int) {
	nk, nq := len(keyLabels), len(queryLabels)
	maj = make([]float64, maxK)
	var wcorrect int
	for q := range nq {
		type e struct {
			s float64
			i int
		}
		es := make([]e, nk)
		for i := range nk {
			var s float32
			for j := range dim {
				s += queries[q*dim+j] * keys[i*dim+j]
			}
			es[i] = e{float64(s), i}
		}
		sort.SliceStable(es, func(a, b int) bool { return es[a].s > es[b].s })
		ids := make([]int, 0, max(maxK, wk))
		for _, x := range es[:max(maxK, wk)] {
			ids = append(ids, x.i)
		}
		nbrs = append(nbrs, ids)
		for k := 1; k <= maxK; k++ {
			votes, sums := make([]int, nc), make([]float64, nc)
			for _, x := range es[:k] {
				votes[keyLabels[x.i]]++
				sums[keyLabels[x.i]] += x.s
			}
			best := 0
			for c := 1; c < nc; c++ {
				if votes[c] > votes[best] || (votes[c] == votes[best] && sums[c] > sums[best]) {
					best = c
				}
			}
			if best == queryLabels[q] {
				maj[k-1]++
			}
		}
		score := make([]float64, nc)
		for _, x := range es[:wk] {
			score[keyLabels[x.i]] += math.Exp(x.s / temp)
		}
		best := 0
		for c := 1; c < nc; c++ {
			if score[c] > score[best] {
				best = c
			}
		}
		if best == queryLabels[q] {
			wcorrect++
		}
	}
	for k := range maj {
		maj[k] /= float64(nq)
	}
	return maj, float64(wcorrect) / float64(nq), nbrs
}

// clustered returns n vectors around nc class centres, with labels.
func clustered(r *rand.Rand, n, dim, nc int, centres []float64, noise float64) ([]float32, []int) {
	x := make([]float32, n*dim)
	labels := make([]int, n)
	for i := range n {
		c := r.IntN(nc)
		labels[i] = c
		for j := range dim {
			x[i*dim+j] = float32(centres[c*dim+j] + noise*r.NormFloat64())
		}
	}
	return x, labels
}

func TestKNNMatchesBruteForce(t *testing.T) {
	tests := []struct {
		name                      string
		nk, nq, dim, nc, maxK, wk int
		temp                      float64
		chunk                     int
	}{
		{"small", 300, 50, 8, 3, 20, 30, 0.1, 0},
		{"keys not multiple of block", 2500, 70, 16, 5, 64, 200, 0.1, 16},
		{"one class", 100, 10, 4, 1, 10, 10, 0.2, 3},
		{"k above keys clamps", 40, 9, 5, 4, 128, 200, 0.1, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(uint64(tc.nk), 3))
			centres := make([]float64, tc.nc*tc.dim)
			for i := range centres {
				centres[i] = r.NormFloat64()
			}
			keys, kl := clustered(r, tc.nk, tc.dim, tc.nc, centres, 0.8)
			queries, ql := clustered(r, tc.nq, tc.dim, tc.nc, centres, 0.8)
			res, err := KNN(keys, kl, queries, ql, tc.dim, KNNOptions{MaxK: tc.maxK, WeightedK: tc.wk, Temperature: tc.temp, NumClasses: tc.nc, Chunk: tc.chunk})
			if err != nil {
				t.Fatal(err)
			}
			maxK, wk := min(tc.maxK, tc.nk), min(tc.wk, tc.nk)
			maj, wacc, nbrs := bruteForce(normalized(keys, tc.dim), normalized(queries, tc.dim), kl, ql, tc.dim, tc.nc, maxK, wk, tc.temp)
			if len(res.Accuracy) != maxK || res.WeightedK != wk {
				t.Fatalf("len(Accuracy) = %d, WeightedK = %d; want %d, %d", len(res.Accuracy), res.WeightedK, maxK, wk)
			}
			for k := range maj {
				if math.Abs(res.Accuracy[k]-maj[k]) > 1e-12 {
					t.Errorf("k=%d: accuracy %v, brute force %v", k+1, res.Accuracy[k], maj[k])
				}
			}
			if math.Abs(res.WeightedAccuracy-wacc) > 1e-12 {
				t.Errorf("weighted accuracy %v, brute force %v", res.WeightedAccuracy, wacc)
			}
			best := slices.Max(maj)
			if res.BestAccuracy != best || maj[res.BestK-1] != best || slices.Index(maj, best) != res.BestK-1 {
				t.Errorf("best k %d (%v), brute force max %v at k=%d", res.BestK, res.BestAccuracy, best, slices.Index(maj, best)+1)
			}
			nb, err := NearestNeighbors(normalized(queries, tc.dim), normalized(keys, tc.dim), tc.dim, max(maxK, wk), tc.chunk)
			if err != nil {
				t.Fatal(err)
			}
			for q, want := range nbrs {
				idx, _ := nb.Row(q)
				for j := range want {
					if int(idx[j]) != want[j] {
						t.Fatalf("query %d neighbour %d: %d, brute force %d", q, j, idx[j], want[j])
					}
				}
			}
		})
	}
}

func TestKNNErrors(t *testing.T) {
	keys := []float32{1, 0, 0, 1, 1, 1}
	kl := []int{0, 1, 1}
	q := []float32{1, 0.5}
	ql := []int{0}
	nan := []float32{1, 0, float32(math.NaN()), 1, 1, 1}
	tests := []struct {
		name string
		run  func() error
	}{
		{"dimension mismatch", func() error { _, err := KNN(keys, kl, []float32{1, 2, 3}, ql, 2, KNNOptions{}); return err }},
		{"key length mismatch", func() error { _, err := KNN(keys[:5], kl, q, ql, 2, KNNOptions{}); return err }},
		{"no keys", func() error { _, err := KNN(nil, nil, q, ql, 2, KNNOptions{}); return err }},
		{"no queries", func() error { _, err := KNN(keys, kl, nil, nil, 2, KNNOptions{}); return err }},
		{"zero dim", func() error { _, err := KNN(keys, kl, q, ql, 0, KNNOptions{}); return err }},
		{"negative label", func() error { _, err := KNN(keys, []int{0, -1, 1}, q, ql, 2, KNNOptions{}); return err }},
		{"label out of range", func() error { _, err := KNN(keys, kl, q, []int{2}, 2, KNNOptions{NumClasses: 2}); return err }},
		{"NaN key", func() error { _, err := KNN(nan, kl, q, ql, 2, KNNOptions{}); return err }},
		{"negative temperature", func() error { _, err := KNN(keys, kl, q, ql, 2, KNNOptions{Temperature: -1}); return err }},
		{"negative k", func() error { _, err := KNN(keys, kl, q, ql, 2, KNNOptions{MaxK: -1}); return err }},
		{"nn k=0", func() error { _, err := NearestNeighbors(q, keys, 2, 0, 0); return err }},
		{"nn empty", func() error { _, err := NearestNeighbors(nil, keys, 2, 1, 0); return err }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.run()
			if !errors.Is(err, ErrKNN) {
				t.Fatalf("err = %v, want ErrKNN", err)
			}
			t.Log(err)
		})
	}
}

func TestKNNInPlace(t *testing.T) {
	keys := []float32{3, 0, 0, 4}
	q := []float32{2, 0}
	orig := slices.Clone(keys)
	if _, err := KNN(keys, []int{0, 1}, q, []int{0}, 2, KNNOptions{}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(keys, orig) {
		t.Errorf("copying mode changed keys: %v", keys)
	}
	r, err := KNN(keys, []int{0, 1}, q, []int{0}, 2, KNNOptions{InPlace: true})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(keys, []float32{1, 0, 0, 1}) || r.Accuracy[0] != 1 {
		t.Errorf("in place: keys %v, accuracy %v", keys, r.Accuracy)
	}
}

func TestBenchKNNSmall(t *testing.T) {
	med, secs, err := BenchKNN(300, 2000, 32, 20, 2, 1)
	if err != nil || med <= 0 || len(secs) != 2 {
		t.Fatalf("median %v, runs %v, err %v", med, secs, err)
	}
}

func BenchmarkNearestNeighbors(b *testing.B) {
	const nq, nk, dim, k = 2000, 50000, 512, 200
	q, keys := RandomUnitVectors(nq, dim, 1), RandomUnitVectors(nk, dim, 2)
	b.ResetTimer()
	for range b.N {
		if _, err := NearestNeighbors(q, keys, dim, k, 0); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(nq)*nk*dim*2*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}
