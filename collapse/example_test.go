package collapse_test

import (
	"fmt"

	"github.com/siam-ssl/siam/collapse"
)

// Measure collapse of a small feature matrix, and of a ready spectrum.
func Example() {
	// 6 examples, 3 features; the third feature copies the first: one direction is
	// redundant, so the centred matrix has rank 2 and the last singular value is 0.
	x := []float32{
		1, 0, 1,
		2, 1, 2,
		0, 2, 0,
		3, 1, 3,
		1, 3, 1,
		2, 2, 2,
	}
	r, err := collapse.Spectrum(x, 6, 3, collapse.Options{Method: collapse.MethodSVD})
	if err != nil {
		panic(err)
	}
	fmt.Printf("sigma = %.3f\n", r.Singular)
	fmt.Printf("AUC = %.3f, RankMe = %.2f\n", r.AUC, r.RankMe)

	// Flat and rank-one spectra bound the AUC.
	fmt.Printf("flat AUC = %.4f, rank-one AUC = %.1f\n",
		collapse.AUC([]float64{1, 1, 1, 1}), collapse.AUC([]float64{5, 0, 0, 0}))
	// Output:
	// sigma = [3.424 2.186 0.000]
	// AUC = 0.870, RankMe = 1.95
	// flat AUC = 0.6250, rank-one AUC = 1.0
}
