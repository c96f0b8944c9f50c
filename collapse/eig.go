package collapse

import (
	"fmt"

	"gonum.org/v1/gonum/mat"
)

// symEigenvalues returns the eigenvalues of the symmetric d x d matrix whose upper
// triangle is stored row-major in a (values only: no eigenvectors, which is several
// times cheaper).
func symEigenvalues(a []float64, d int) ([]float64, error) {
	var es mat.EigenSym
	if !es.Factorize(mat.NewSymDense(d, a), false) {
		return nil, fmt.Errorf("%w: symmetric eigensolver (d=%d)", ErrEigen, d)
	}
	return es.Values(nil), nil
}
