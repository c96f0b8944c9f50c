package collapse

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// The Householder + dsterf eigenvalues against gonum's EigenSym.
func TestSymEigenvaluesMatchGonum(t *testing.T) {
	r := rand.New(rand.NewPCG(2, 3))
	tests := []struct {
		name string
		d    int
		fill func(i, j int) float64
	}{
		{"d=1", 1, func(i, j int) float64 { return 4 }},
		{"d=2", 2, func(i, j int) float64 { return float64(i + j + 1) }},
		{"d=3 random", 3, func(i, j int) float64 { return r.NormFloat64() }},
		{"d=70 random", 70, func(i, j int) float64 { return r.NormFloat64() }},
		{"d=40 diagonal (no reflections)", 40, func(i, j int) float64 {
			if i == j {
				return float64(i)
			}
			return 0
		}},
		{"d=33 rank deficient", 33, func(i, j int) float64 { return float64((i%3)+1) * float64((j%3)+1) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := tc.d
			a := make([]float64, d*d)
			for i := range d {
				for j := i; j < d; j++ {
					a[i*d+j] = tc.fill(i, j)
					a[j*d+i] = a[i*d+j]
				}
			}
			var es mat.EigenSym
			if !es.Factorize(mat.NewSymDense(d, slices.Clone(a)), false) {
				t.Fatal("gonum failed")
			}
			want := es.Values(nil)
			got, err := symEigenvalues(a, d)
			if err != nil {
				t.Fatal(err)
			}
			scale := math.Max(math.Abs(want[0]), math.Abs(want[d-1]))
			for i := range want {
				if math.Abs(got[i]-want[i]) > 1e-12*scale*float64(d) {
					t.Errorf("lambda[%d] = %.15g, gonum %.15g", i, got[i], want[i])
				}
			}
		})
	}
}
