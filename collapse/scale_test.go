package collapse

import (
	"errors"
	"fmt"
	"math"
	"testing"
)

// TestSpectrumExtremeScales checks that finite features of any magnitude give the
// spectrum of the same features at unit scale: the AUC and RankMe unchanged (they
// are scale-free), the singular values and mean multiplied by the scale, and no
// error, panic, NaN or silent zero spectrum (float64 entries near 1e200 used to
// overflow the covariance; float32 near 1e30 used to fail "did not converge", and
// near 1e-30 the float32 route returned AUC 1).
func TestSpectrumExtremeScales(t *testing.T) {
	const n, d = 300, 12
	x := gaussian(n, d, 0.8, 5)
	type tcase struct {
		scale     float64
		f32       bool
		method    Method
		normalize bool
	}
	var cases []tcase
	for _, m := range []Method{MethodCovariance, MethodCovariance64, MethodCovariance32, MethodSVD} {
		for _, s := range []float64{1e30, 1e35, 1e-30, 1e-35} {
			cases = append(cases, tcase{s, true, m, false})
		}
		for _, s := range []float64{1e100, 1e200, 1e300, 1e-200, 1e-300} {
			cases = append(cases, tcase{s, false, m, false})
		}
		cases = append(cases, tcase{1e200, false, m, true}, tcase{1e35, true, m, true})
	}
	for _, tc := range cases {
		name := fmt.Sprintf("%v/scale=%g/f32=%v/normalize=%v", tc.method, tc.scale, tc.f32, tc.normalize)
		t.Run(name, func(t *testing.T) {
			opts := Options{Method: tc.method, NormalizeRows: tc.normalize}
			base, err := Spectrum(x, n, d, opts)
			if err != nil {
				t.Fatal(err)
			}
			var r *Result
			if tc.f32 {
				y := make([]float32, len(x))
				for i, v := range x {
					y[i] = float32(float64(v) * tc.scale)
				}
				r, err = Spectrum(y, n, d, opts)
			} else {
				y := make([]float64, len(x))
				for i, v := range x {
					y[i] = float64(v) * tc.scale
				}
				r, err = Spectrum(y, n, d, opts)
			}
			if err != nil {
				t.Fatalf("error on finite input: %v", err)
			}
			tol := 1e-9
			if tc.method == MethodCovariance32 || tc.f32 {
				tol = 2e-5 // float32 rounding of the scaled inputs or of the route
			}
			if math.Abs(r.AUC-base.AUC) > tol || math.IsNaN(r.AUC) {
				t.Errorf("AUC %.12g, at unit scale %.12g", r.AUC, base.AUC)
			}
			if relErr(r.RankMe, base.RankMe) > tol || math.IsNaN(r.RankMe) {
				t.Errorf("RankMe %.12g, at unit scale %.12g", r.RankMe, base.RankMe)
			}
			want := tc.scale
			if tc.normalize {
				want = 1 // rows normalised first: the spectrum does not move
			}
			for i := range 3 {
				if e := relErr(r.Singular[i], base.Singular[i]*want); e > tol {
					t.Errorf("sigma[%d] = %g, want %g (rel %.2g)", i, r.Singular[i], base.Singular[i]*want, e)
				}
			}
			if e := relErr(r.Mean[0], base.Mean[0]*want); e > tol {
				t.Errorf("mean[0] = %g, want %g", r.Mean[0], base.Mean[0]*want)
			}
			if e := relErr(r.MeanDimStd, base.MeanDimStd); e > tol {
				t.Errorf("MeanDimStd %g, at unit scale %g", r.MeanDimStd, base.MeanDimStd)
			}
		})
	}
}

// TestSpectrumOverflowingSigma: finite entries whose singular values exceed the
// float64 range fail with ErrRange (never Inf or NaN with a nil error).
func TestSpectrumOverflowingSigma(t *testing.T) {
	const n, d = 64, 3
	x := make([]float64, n*d)
	for i := range n {
		for j := range d {
			x[i*d+j] = math.Copysign(1.5e308, float64((i+j)%2)-0.5) / float64(j+1)
		}
	}
	for _, m := range []Method{MethodCovariance, MethodCovariance32, MethodSVD} {
		r, err := Spectrum(x, n, d, Options{Method: m})
		if !errors.Is(err, ErrRange) {
			t.Fatalf("%v: want ErrRange, got %v (result %+v)", m, err, r)
		}
		t.Log(err)
	}
	// The same matrix with rows normalised is fine: its spectrum is O(sqrt(n)).
	r, err := Spectrum(x, n, d, Options{NormalizeRows: true})
	if err != nil || math.IsNaN(r.AUC) {
		t.Fatalf("normalised rows: %v, %+v", err, r)
	}
}

// TestSymEigenvaluesExtremeMagnitude: the eigensolver must not panic (gonum's
// dsterf used to on entries near 1e200) and must return eigenvalues in the
// original scale.
func TestSymEigenvaluesExtremeMagnitude(t *testing.T) {
	for _, s := range []float64{1e200, 1e-200, 1e300} {
		a := []float64{2 * s, 1 * s, 0, 2 * s}
		lam, err := symEigenvalues(a, 2)
		if err != nil {
			t.Fatalf("scale %g: %v", s, err)
		}
		if relErr(lam[0], s) > 1e-12 || relErr(lam[1], 3*s) > 1e-12 {
			t.Errorf("scale %g: eigenvalues %v, want [%g %g]", s, lam, s, 3*s)
		}
	}
}
