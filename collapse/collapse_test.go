package collapse

import (
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
)

func relErr(a, b float64) float64 {
	if a == b {
		return 0
	}
	return math.Abs(a-b) / math.Max(math.Abs(a), math.Abs(b))
}

func TestMetricsOnReadySpectra(t *testing.T) {
	flat := func(d int) []float64 {
		s := make([]float64, d)
		for i := range s {
			s[i] = 2.5
		}
		return s
	}
	rankOne := func(d int) []float64 {
		s := make([]float64, d)
		s[0] = 7
		return s
	}
	const eps = RankMeEpsilon
	qlogq := func(q float64) float64 { return q * math.Log(q) }
	flatRankMe := func(d float64) float64 { return math.Exp(-d * qlogq(1/d+eps)) }
	oneRankMe := func(d float64) float64 { return math.Exp(-qlogq(1+eps) - (d-1)*qlogq(eps)) }
	tests := []struct {
		name       string
		sigma      []float64
		auc        float64
		effRank    float64
		partRatio  float64
		rankMeNear float64
	}{
		{"flat d=1", flat(1), 1, 1, 1, flatRankMe(1)},
		{"flat d=4", flat(4), 5.0 / 8, 4, 4, flatRankMe(4)},
		{"flat d=512", flat(512), 513.0 / 1024, 512, 512, flatRankMe(512)}, // 512.137: the epsilon
		{"rank one d=512", rankOne(512), 1, 1, 1, oneRankMe(512)},
		{"all zero d=8 (complete collapse)", make([]float64, 8), 1, 0, 0, math.Exp(-8 * qlogq(eps))},
		{"two values", []float64{3, 1}, (0.75 + 1) / 2, math.Exp(-qlogq(0.75) - qlogq(0.25)), 100.0 / 82, math.Exp(-qlogq(0.75+eps) - qlogq(0.25+eps))},
		{"unsorted input is sorted", []float64{1, 3}, (0.75 + 1) / 2, math.Exp(-qlogq(0.75) - qlogq(0.25)), 100.0 / 82, math.Exp(-qlogq(0.75+eps) - qlogq(0.25+eps))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := AUC(tc.sigma); math.Abs(got-tc.auc) > 1e-12 {
				t.Errorf("AUC = %.15g, want %.15g", got, tc.auc)
			}
			if got := EffectiveRank(tc.sigma); relErr(got, tc.effRank) > 1e-12 {
				t.Errorf("EffectiveRank = %.15g, want %.15g", got, tc.effRank)
			}
			if got := ParticipationRatio(tc.sigma); relErr(got, tc.partRatio) > 1e-12 {
				t.Errorf("ParticipationRatio = %.15g, want %.15g", got, tc.partRatio)
			}
			if got := RankMe(tc.sigma); relErr(got, tc.rankMeNear) > 1e-12 {
				t.Errorf("RankMe = %.15g, want %.15g", got, tc.rankMeNear)
			}
			ev := ExplainedVariance(tc.sigma)
			if len(ev) != len(tc.sigma) || ev[len(ev)-1] != 1 {
				t.Errorf("ExplainedVariance = %v: want length %d ending in 1", ev, len(tc.sigma))
			}
			for i := 1; i < len(ev); i++ {
				if ev[i] < ev[i-1] {
					t.Errorf("ExplainedVariance not monotone at %d: %v", i, ev)
				}
			}
		})
	}
}

func TestMetricsInvalid(t *testing.T) {
	for _, s := range [][]float64{nil, {}, {1, -1}, {1, math.NaN()}, {math.Inf(1), 1}} {
		if !math.IsNaN(AUC(s)) || !math.IsNaN(RankMe(s)) || !math.IsNaN(EffectiveRank(s)) || !math.IsNaN(ParticipationRatio(s)) || ExplainedVariance(s) != nil {
			t.Errorf("%v: want NaN metrics and nil curve", s)
		}
	}
}

// The published singular values must reproduce the published AUC and RankMe to the
// printed precision (this pins the sigma-not-sigma^2 convention and RankMe's epsilon).
func TestReferenceImageNetSpectra(t *testing.T) {
	raw, err := os.ReadFile("testdata/imagenet_resnet18_subset_spectra.json")
	if err != nil {
		t.Fatal(err)
	}
	var ref struct {
		Spectra map[string]struct {
			AUC    json.Number `json:"auc_sigma"`
			RankMe json.Number `json:"rankme"`
			Sigma  []float64   `json:"singular_values"`
		} `json:"spectra"`
	}
	if err := json.Unmarshal(raw, &ref); err != nil {
		t.Fatal(err)
	}
	// Spec §9: AUC 0.610 / 0.748 / 0.845 / 0.879 / 0.871 / 0.858.
	paper := map[string]float64{"1": 0.610, "5": 0.748, "10": 0.845, "20": 0.879, "50": 0.871, "100": 0.858}
	for _, p := range []string{"1", "5", "10", "20", "50", "100"} {
		t.Run(p+"%", func(t *testing.T) {
			s, ok := ref.Spectra[p]
			if !ok {
				t.Fatalf("subset %s missing", p)
			}
			check := func(name string, got float64, want json.Number) {
				w, _ := want.Float64()
				if got, w := round(got, decimals(want)), round(w, decimals(want)); got != w {
					t.Errorf("%s = %v, want %v (printed %s)", name, got, w, want)
				}
			}
			check("AUC", AUC(s.Sigma), s.AUC)
			check("RankMe", RankMe(s.Sigma), s.RankMe)
			if got := round(AUC(s.Sigma), 3); got != paper[p] {
				t.Errorf("AUC to 3 places = %v, paper says %v", got, paper[p])
			}
		})
	}
}

func decimals(n json.Number) int {
	s := n.String()
	for i := range s {
		if s[i] == '.' {
			return len(s) - i - 1
		}
	}
	return 0
}

func round(x float64, places int) float64 {
	v, _ := strconv.ParseFloat(strconv.FormatFloat(x, 'f', places, 64), 64)
	return v
}

type fixture struct {
	Name      string    `json:"name"`
	N         int       `json:"n"`
	D         int       `json:"d"`
	Normalize bool      `json:"normalize_rows"`
	X         []float64 `json:"x"`
	Sigma     []float64 `json:"singular_values"`
	Explained []float64 `json:"explained"`
	AUC       float64   `json:"auc"`
	RankMe    float64   `json:"rankme"`
	DimStd    []float64 `json:"dim_std"`
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func loadFixtures(t *testing.T) []fixture {
	raw, err := os.ReadFile("testdata/numpy_fixtures.json")
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Cases []fixture `json:"cases"`
	}
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatal(err)
	}
	if len(f.Cases) == 0 {
		t.Fatal("no fixtures")
	}
	return f.Cases
}

// Go against numpy.linalg.svd (scripts/collapse_fixtures.py), every method, float64
// and float32 input.
func TestNumpyFixtures(t *testing.T) {
	for _, fx := range loadFixtures(t) {
		for _, m := range []Method{MethodCovariance, MethodCovariance64, MethodSVD, MethodCovariance32} {
			for _, f32 := range []bool{false, true} {
				name := fx.Name + "/" + m.String()
				if f32 {
					name += "/float32"
				}
				t.Run(name, func(t *testing.T) {
					opts := Options{Method: m, NormalizeRows: fx.Normalize}
					var r *Result
					var err error
					if f32 {
						x32 := make([]float32, len(fx.X))
						for i, v := range fx.X {
							x32[i] = float32(v)
						}
						r, err = Spectrum(x32, fx.N, fx.D, opts)
					} else {
						r, err = Spectrum(fx.X, fx.N, fx.D, opts)
					}
					if err != nil {
						t.Fatal(err)
					}
					// Tolerances. Exact routes on float64 input: float64 rounding. Exact
					// routes on float32 input: the input rounding (6e-8 relative) bounds
					// every sigma to ~1e-7*sigma_1. The fast float32-GEMM route bounds the
					// eigenvalues lambda = sigma^2 to ~1e-7*lambda_1 (package doc): leading
					// values to 1e-6 relative, tail values only to sqrt(1e-6)*sigma_1, which
					// moves AUC by up to ~2e-4 on these strongly decaying fixtures. That is
					// MethodCovariance32 now; the default MethodCovariance is the float64
					// route and is held to the covariance64 tolerances.
					fast := m == MethodCovariance32
					sigTol, aucTol, rankTol := 1e-9, 1e-9, 1e-8
					if f32 {
						sigTol, aucTol, rankTol = 1e-6, 1e-6, 1e-5
					}
					if fast {
						aucTol, rankTol = 5e-4, 5e-3
					} else if m == MethodCovariance64 || m == MethodCovariance {
						// Null directions sit at sqrt(eps64) * sigma_1 after squaring.
						sigTol, aucTol, rankTol = max(sigTol, 2e-8), max(aucTol, 1e-7), max(rankTol, 1e-6)
					}
					s1 := fx.Sigma[0]
					for i, want := range fx.Sigma {
						got := r.Singular[i]
						if i < 3 && relErr(got, want) > max(min(sigTol, 1e-6), 1e-6*float64(boolInt(fast))) {
							t.Errorf("leading sigma[%d] = %.12g, numpy %.12g (rel %.2g)", i, got, want, relErr(got, want))
						}
						if fast {
							if e := math.Abs(got*got-want*want) / (s1 * s1); e > 1e-6 {
								t.Errorf("sigma[%d]^2 = %.12g, numpy %.12g (%.2g * sigma_1^2)", i, got*got, want*want, e)
							}
						} else if math.Abs(got-want) > sigTol*s1 {
							t.Errorf("sigma[%d] = %.12g, numpy %.12g (%.2g * sigma_1)", i, got, want, math.Abs(got-want)/s1)
						}
					}
					if math.Abs(r.AUC-fx.AUC) > aucTol {
						t.Errorf("AUC = %.12g, numpy %.12g", r.AUC, fx.AUC)
					}
					if relErr(r.RankMe, fx.RankMe) > rankTol {
						t.Errorf("RankMe = %.12g, numpy %.12g", r.RankMe, fx.RankMe)
					}
					for j, want := range fx.DimStd {
						if relErr(r.DimStd[j], want) > 1e-6 {
							t.Errorf("DimStd[%d] = %.12g, numpy %.12g", j, r.DimStd[j], want)
						}
					}
					for j, want := range fx.Explained {
						if math.Abs(r.Explained[j]-want) > aucTol {
							t.Errorf("Explained[%d] = %.12g, numpy %.12g", j, r.Explained[j], want)
						}
					}
				})
			}
		}
	}
}

// gaussian returns an n x d float32 matrix with column scales decaying by decay.
func gaussian(n, d int, decay float64, seed uint64) []float32 {
	r := rand.New(rand.NewPCG(seed, 1))
	x := make([]float32, n*d)
	for i := range n {
		for j := range d {
			x[i*d+j] = float32(3 + math.Pow(decay, float64(j))*r.NormFloat64())
		}
	}
	return x
}

func TestEigMatchesSVD(t *testing.T) {
	tests := []struct {
		n, d  int
		decay float64
	}{
		{2, 1, 1}, {3, 5, 1}, {100, 7, 0.9}, {1000, 64, 0.97}, {1500, 300, 0.99}, {700, 129, 0.95},
	}
	for _, tc := range tests {
		t.Run(strconv.Itoa(tc.n)+"x"+strconv.Itoa(tc.d), func(t *testing.T) {
			x := gaussian(tc.n, tc.d, tc.decay, 7)
			svd, err := Spectrum(x, tc.n, tc.d, Options{Method: MethodSVD})
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range []Method{MethodCovariance, MethodCovariance64, MethodCovariance32} {
				r, err := Spectrum(x, tc.n, tc.d, Options{Method: m})
				if err != nil {
					t.Fatal(err)
				}
				tol := 1e-6 // the float32-block route
				if m != MethodCovariance32 {
					tol = 1e-10 // float64 covariance (the default)
				}
				lead := min(tc.d, tc.n-1, 10)
				for i := range lead {
					if e := relErr(r.Singular[i], svd.Singular[i]); e > tol {
						t.Errorf("%v: sigma[%d] = %.12g, svd %.12g (rel %.2g)", m, i, r.Singular[i], svd.Singular[i], e)
					}
				}
				// Null directions (n-1 < d) sit at the method's rounding floor.
				aucTol := tol
				if tc.n-1 < tc.d {
					aucTol = map[Method]float64{MethodCovariance32: 1e-3, MethodCovariance: 1e-7, MethodCovariance64: 1e-7}[m]
				}
				if math.Abs(r.AUC-svd.AUC) > aucTol {
					t.Errorf("%v: AUC = %.12g, svd %.12g", m, r.AUC, svd.AUC)
				}
			}
		})
	}
}

func TestSpectrumProperties(t *testing.T) {
	const n, d = 600, 40
	x := gaussian(n, d, 0.93, 3)
	base, err := Spectrum(x, n, d, Options{})
	if err != nil {
		t.Fatal(err)
	}
	// Row order does not matter.
	perm := rand.New(rand.NewPCG(9, 9)).Perm(n)
	xp := make([]float32, n*d)
	for i, p := range perm {
		copy(xp[i*d:(i+1)*d], x[p*d:(p+1)*d])
	}
	// Rank one after centring: every row a multiple of one vector (plus a constant).
	r1 := make([]float64, n*d)
	rr := rand.New(rand.NewPCG(4, 4))
	for i := range n {
		a := rr.NormFloat64()
		for j := range d {
			r1[i*d+j] = 5 + a*float64(j+1)
		}
	}
	// Flat: orthogonal directions with equal energy: rows ±e_j (centred already).
	flat := make([]float64, 2*d*d)
	for j := range d {
		flat[(2*j)*d+j] = 1
		flat[(2*j+1)*d+j] = -1
	}
	tests := []struct {
		name string
		run  func() (*Result, error)
		auc  float64
		tol  float64
	}{
		{"row permutation", func() (*Result, error) { return Spectrum(xp, n, d, Options{}) }, base.AUC, 1e-7},
		// The float32-block route leaves the 39 null singular values at its rounding
		// floor (~2e-4 * sigma_1 for n = 600; see the package doc); the float64 routes,
		// the default included, do not.
		{"rank one fast", func() (*Result, error) { return Spectrum(r1, n, d, Options{Method: MethodCovariance32}) }, 1, 1e-3},
		{"rank one default", func() (*Result, error) { return Spectrum(r1, n, d, Options{}) }, 1, 1e-6},
		{"rank one covariance64", func() (*Result, error) { return Spectrum(r1, n, d, Options{Method: MethodCovariance64}) }, 1, 1e-6},
		{"rank one svd", func() (*Result, error) { return Spectrum(r1, n, d, Options{Method: MethodSVD}) }, 1, 1e-12},
		{"flat", func() (*Result, error) { return Spectrum(flat, 2*d, d, Options{}) }, float64(d+1) / float64(2*d), 1e-7},
		{"constant matrix", func() (*Result, error) { return Spectrum(make([]float32, 10*3), 10, 3, Options{}) }, 1, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := tc.run()
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(r.AUC-tc.auc) > tc.tol {
				t.Errorf("AUC = %.12g, want %.12g ± %g", r.AUC, tc.auc, tc.tol)
			}
			for i := 1; i < len(r.Singular); i++ {
				if r.Singular[i] > r.Singular[i-1] {
					t.Fatalf("singular values not descending: %v", r.Singular)
				}
			}
		})
	}
}

func TestDimStdAndNormalize(t *testing.T) {
	// Healthy isotropic features: std of normalised rows ~ 1/sqrt(d).
	const n, d = 4000, 64
	x := gaussian(n, d, 1, 11)
	for i := range x {
		x[i] -= 3
	}
	r, err := Spectrum(x, n, d, Options{NormalizeRows: true})
	if err != nil {
		t.Fatal(err)
	}
	if want := 1 / math.Sqrt(d); math.Abs(r.MeanDimStd-want) > 0.05*want {
		t.Errorf("MeanDimStd = %g, want about %g", r.MeanDimStd, want)
	}
	// Collapsed: all rows parallel -> std 0.
	c := make([]float32, 50*4)
	for i := range 50 {
		for j := range 4 {
			c[i*4+j] = float32((i + 1) * (j + 1))
		}
	}
	rc, err := Spectrum(c, 50, 4, Options{NormalizeRows: true})
	if err != nil {
		t.Fatal(err)
	}
	if rc.MeanDimStd > 1e-7 || rc.Singular[0] > 1e-6 {
		t.Errorf("parallel rows: MeanDimStd = %g, sigma1 = %g; want ~0", rc.MeanDimStd, rc.Singular[0])
	}
}

func TestSpectrumErrors(t *testing.T) {
	nan := []float32{1, 2, 3, 4, float32(math.NaN()), 6}
	inf := []float64{1, 2, 3, math.Inf(-1)}
	tests := []struct {
		name string
		run  func() error
		want error
	}{
		{"empty", func() error { _, err := Spectrum([]float32{}, 0, 0, Options{}); return err }, ErrShape},
		{"one row", func() error { _, err := Spectrum([]float32{1, 2}, 1, 2, Options{}); return err }, ErrShape},
		{"zero cols", func() error { _, err := Spectrum([]float32{}, 3, 0, Options{}); return err }, ErrShape},
		{"length mismatch", func() error { _, err := Spectrum([]float32{1, 2, 3}, 2, 2, Options{}); return err }, ErrShape},
		{"NaN", func() error { _, err := Spectrum(nan, 3, 2, Options{}); return err }, ErrNonFinite},
		{"Inf", func() error { _, err := Spectrum(inf, 2, 2, Options{Method: MethodSVD}); return err }, ErrNonFinite},
		{"bad method", func() error { _, err := Spectrum([]float32{1, 2, 3, 4}, 2, 2, Options{Method: 9}); return err }, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.run()
			if err == nil {
				t.Fatal("want error")
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			t.Log(err)
		})
	}
	_, err := Spectrum(nan, 3, 2, Options{})
	if want := "row 2, column 0"; err == nil || !contains(err.Error(), want) {
		t.Errorf("NaN error %q should name %q", err, want)
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

func TestParseMethod(t *testing.T) {
	for _, m := range []Method{MethodCovariance, MethodCovariance64, MethodSVD, MethodCovariance32} {
		got, err := ParseMethod(m.String())
		if err != nil || got != m {
			t.Errorf("ParseMethod(%q) = %v, %v", m.String(), got, err)
		}
	}
	if _, err := ParseMethod("pca"); err == nil {
		t.Error("want error for unknown method")
	}
}

func TestBenchSpectrumSmall(t *testing.T) {
	med, secs, r, err := BenchSpectrum(3000, 64, 3, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(secs) != 3 || med <= 0 || r.AUC <= 0.5 || r.AUC >= 1 {
		t.Errorf("median %g, runs %v, AUC %g", med, secs, r.AUC)
	}
}

func BenchmarkSpectrum(b *testing.B) {
	for _, sz := range []struct{ n, d int }{{10000, 128}, {50000, 512}} {
		b.Run(strconv.Itoa(sz.n)+"x"+strconv.Itoa(sz.d), func(b *testing.B) {
			x := RandomFeatures(sz.n, sz.d, 1)
			b.ResetTimer()
			for range b.N {
				if _, err := Spectrum(x, sz.n, sz.d, Options{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
