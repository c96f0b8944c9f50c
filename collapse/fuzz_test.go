package collapse

import (
	"encoding/binary"
	"errors"
	"math"
	"testing"
)

// FuzzSpectrum feeds arbitrary matrices (float64 and float32 bit patterns, any
// shape, every method, with and without row normalisation) to Spectrum. It must
// never panic; it either fails with one of the package's errors or returns a
// sane result: as many finite, non-negative, descending singular values as
// columns, AUC in [0.5, 1], RankMe in [1, d] (up to its epsilon), a finite mean, and a
// per-dimension std of normalised rows within its bound.
func FuzzSpectrum(f *testing.F) {
	le := func(vs ...float64) []byte {
		b := make([]byte, 8*len(vs))
		for i, v := range vs {
			binary.LittleEndian.PutUint64(b[8*i:], math.Float64bits(v))
		}
		return b
	}
	f.Add(uint8(2), uint8(0), le(1, 2, 3, 4, 5, 6.5))
	f.Add(uint8(3), uint8(1), le(1e200, -1e200, 3e199, 0, 7, -1e-300, 1e300, 2, 5))
	f.Add(uint8(1), uint8(2), le(1.5e308, -1.5e308, 1.5e308, -1.5e308))
	f.Add(uint8(2), uint8(3), le(math.NaN(), 1, 2, 3))
	f.Add(uint8(4), uint8(4), le(1e-310, 2e-310, 0, 0, 5e-324, 0, 0, 0))
	f.Add(uint8(2), uint8(5), []byte("\x00\x00\x80\x7f\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c"))
	f.Fuzz(func(t *testing.T, dim, mode uint8, b []byte) {
		d := int(dim%16) + 1
		opts := Options{Method: Method(mode % 4), NormalizeRows: mode&4 != 0}
		if mode&8 != 0 {
			x := make([]float32, len(b)/4)
			for i := range x {
				x[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
			}
			n := len(x) / d
			check(t, n, d, opts)(Spectrum(x[:n*d], n, d, opts))
			return
		}
		x := make([]float64, len(b)/8)
		for i := range x {
			x[i] = math.Float64frombits(binary.LittleEndian.Uint64(b[8*i:]))
		}
		n := len(x) / d
		check(t, n, d, opts)(Spectrum(x[:n*d], n, d, opts))
	})
}

// check returns a function that validates one Spectrum outcome for FuzzSpectrum.
func check(t *testing.T, n, d int, opts Options) func(*Result, error) {
	return func(r *Result, err error) {
		t.Helper()
		if err != nil {
			if !errors.Is(err, ErrShape) && !errors.Is(err, ErrNonFinite) && !errors.Is(err, ErrRange) && !errors.Is(err, ErrEigen) {
				t.Fatalf("%d x %d %+v: unexpected error %v", n, d, opts, err)
			}
			return
		}
		if r.N != n || r.D != d || len(r.Singular) != d || len(r.Explained) != d || len(r.Mean) != d {
			t.Fatalf("shape: %d x %d, result %d x %d, %d sigma", n, d, r.N, r.D, len(r.Singular))
		}
		for i, s := range r.Singular {
			if !(s >= 0) || math.IsInf(s, 0) || (i > 0 && s > r.Singular[i-1]) {
				t.Fatalf("sigma %v: not finite, non-negative and descending", r.Singular)
			}
		}
		if !(r.AUC >= 0.5-1e-12 && r.AUC <= 1+1e-12) {
			t.Fatalf("AUC %v outside [0.5, 1] (sigma %v)", r.AUC, r.Singular)
		}
		if !(r.RankMe >= 1-1e-6 && r.RankMe <= float64(d)*(1+1e-5)) {
			t.Fatalf("RankMe %v outside [1, %d] (sigma %v)", r.RankMe, d, r.Singular)
		}
		for _, m := range r.Mean {
			if math.IsNaN(m) || math.IsInf(m, 0) {
				t.Fatalf("mean %v not finite", r.Mean)
			}
		}
		// Entries of normalised rows lie in [-1, 1]: std (n-1 denominator) <= sqrt(n/(n-1)).
		if math.IsNaN(r.MeanDimStd) || r.MeanDimStd < 0 || r.MeanDimStd > math.Sqrt(float64(n)/float64(n-1))+1e-9 {
			t.Fatalf("MeanDimStd %v", r.MeanDimStd)
		}
	}
}
