package collapse

import (
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// decayingRotated returns an n x d float32 matrix whose centred spectrum decays
// geometrically from 1 to tail (in a random orthogonal basis, plus a column offset),
// the shape of a partially collapsed representation.
func decayingRotated(n, d int, tail float64, seed uint64) []float32 {
	r := rand.New(rand.NewPCG(seed, 17))
	g := mat.NewDense(d, d, nil)
	for i := range d {
		for j := range d {
			g.Set(i, j, r.NormFloat64())
		}
	}
	var qr mat.QR
	qr.Factorize(g)
	var q mat.Dense
	qr.QTo(&q)
	z := mat.NewDense(n, d, nil)
	for i := range n {
		for j := range d {
			z.Set(i, j, r.NormFloat64()*math.Pow(tail, float64(j)/float64(d-1)))
		}
	}
	var y mat.Dense
	y.Mul(z, q.T())
	x := make([]float32, n*d)
	for i := range n {
		for j := range d {
			x[i*d+j] = float32(y.At(i, j) + 0.5*float64(j%5))
		}
	}
	return x
}

type namedF32 float32

// The default (float64 covariance) route against the SVD of the same matrix on a
// spectrum spanning four decades: every singular value to 1e-9*sigma_1, AUC to
// 1e-9, RankMe to 1e-9 relative — the tail the float32-block route gets wrong.
func TestDefaultMatchesSVDOnDecayingSpectrum(t *testing.T) {
	const n, d = 3000, 96
	x := decayingRotated(n, d, 1e-4, 1)
	for _, norm := range []bool{false, true} {
		svd, err := Spectrum(x, n, d, Options{Method: MethodSVD, NormalizeRows: norm})
		if err != nil {
			t.Fatal(err)
		}
		def, err := Spectrum(x, n, d, Options{NormalizeRows: norm})
		if err != nil {
			t.Fatal(err)
		}
		s1 := svd.Singular[0]
		for i, want := range svd.Singular {
			if e := math.Abs(def.Singular[i]-want) / s1; e > 1e-9 {
				t.Errorf("normalize=%v: sigma[%d] = %.15g, svd %.15g (%.2g*sigma_1)", norm, i, def.Singular[i], want, e)
			}
			if i < 10 && relErr(def.Singular[i], want) > 1e-10 {
				t.Errorf("normalize=%v: leading sigma[%d] rel error %.2g", norm, i, relErr(def.Singular[i], want))
			}
		}
		if e := math.Abs(def.AUC - svd.AUC); e > 1e-9 {
			t.Errorf("normalize=%v: AUC %.15g, svd %.15g", norm, def.AUC, svd.AUC)
		}
		if e := relErr(def.RankMe, svd.RankMe); e > 1e-9 {
			t.Errorf("normalize=%v: RankMe %.15g, svd %.15g", norm, def.RankMe, svd.RankMe)
		}
		// Named element types take the same kernels.
		xn := make([]namedF32, len(x))
		for i, v := range x {
			xn[i] = namedF32(v)
		}
		named, err := Spectrum(xn, n, d, Options{NormalizeRows: norm})
		if err != nil {
			t.Fatal(err)
		}
		for i := range named.Singular {
			if named.Singular[i] != def.Singular[i] {
				t.Fatalf("named float32 type: sigma[%d] = %v, want %v", i, named.Singular[i], def.Singular[i])
			}
		}
		// The float32-block route really is coarser here (the reason it is not the default).
		f32, err := Spectrum(x, n, d, Options{Method: MethodCovariance32, NormalizeRows: norm})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("normalize=%v: |AUC-svd| default %.2g, covariance32 %.2g", norm, math.Abs(def.AUC-svd.AUC), math.Abs(f32.AUC-svd.AUC))
	}
}
