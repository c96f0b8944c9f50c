package plots

import (
	"bytes"
	"github.com/siam-ssl/siam/collapse"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gonum.org/v1/plot/vg"
)

// synthSpectrum returns a d-dimensional spectrum whose trailing `dead` values decay
// to about zero, like a partially collapsed representation.
func synthSpectrum(d, dead int, decay float64) []float64 {
	s := make([]float64, d)
	for i := range s {
		s[i] = 10 * math.Exp(-decay*float64(i))
		if i >= d-dead {
			s[i] *= 1e-6
		}
	}
	if dead > 0 {
		s[d-1] = 0 // exercises the log-axis floor
	}
	return s
}

var pngMagic = []byte("\x89PNG\r\n\x1a\n")

func checkRender(t *testing.T, f *Figure) {
	t.Helper()
	svg, err := Render(f, "svg", DefaultWidth, DefaultHeight)
	if err != nil {
		t.Fatalf("svg: %v", err)
	}
	if !bytes.Contains(svg, []byte("<svg")) || !bytes.Contains(svg, []byte("</svg>")) {
		t.Fatalf("svg output is not an SVG document: %.200s", svg)
	}
	if !bytes.Contains(svg, []byte("sans-serif")) {
		t.Errorf("svg text has no font fallback")
	}
	png, err := Render(f, "png", DefaultWidth, DefaultHeight)
	if err != nil {
		t.Fatalf("png: %v", err)
	}
	if !bytes.HasPrefix(png, pngMagic) || len(png) < 1000 {
		t.Fatalf("png output: %d bytes, prefix %q", len(png), png[:min(8, len(png))])
	}
}

func TestFiguresRender(t *testing.T) {
	spectra := []Series{
		{Name: "1% subset", Y: synthSpectrum(64, 0, 0.02)},
		{Name: "10% subset", Y: synthSpectrum(64, 10, 0.05)},
		{Name: "100% subset, a rather long run name that must be shortened", Y: synthSpectrum(64, 20, 0.08)},
	}
	steps := []float64{0, 100, 200, 300, 400}
	cases := []struct {
		name  string
		build func() (*Figure, error)
		want  []string // texts that must appear in the SVG
	}{
		{"spectrum-log", func() (*Figure, error) { return Spectrum(spectra, Options{LogY: true}) },
			[]string{"Singular value spectrum", "1% subset", "drawn at", "…"}},
		{"spectrum-linear-normalized-sequential", func() (*Figure, error) {
			return Spectrum(spectra, Options{Normalize: true, Sequential: true, Title: "T"})
		}, []string{"singular value / largest"}},
		{"explained", func() (*Figure, error) { return ExplainedVariance(spectra, Options{}) },
			[]string{"Cumulative explained variance", "(AUC 0.", "flat (AUC 0.5)"}},
		{"lines", func() (*Figure, error) {
			return Lines("k-NN accuracy", "step", "accuracy", []Series{
				{Name: "multiple pass", X: steps, Y: []float64{0.1, 0.2, 0.25, 0.24, 0.22}},
				{Name: "single pass", X: steps, Y: []float64{0.1, math.NaN(), 0.3, 0.35, 0.4}},
			})
		}, []string{"k-NN accuracy", "single pass"}},
		{"lines-single", func() (*Figure, error) {
			return Lines("Loss", "step", "loss", []Series{{Name: "loss", X: steps, Y: []float64{-0.1, -0.5, -0.8, -0.85, -0.9}}})
		}, []string{"Loss"}},
		{"scatter", func() (*Figure, error) {
			return Scatter([]float64{30, 40, 45, 50}, []float64{31, 38, 46, 50}, []string{"a", "b", "c", "d"}, 0.95)
		}, []string{"R² = 0.950", "y = x", "model"}},
		{"scatter-nolabels", func() (*Figure, error) {
			return Scatter([]float64{0.3, 0.3}, []float64{0.3, 0.3}, nil, math.NaN())
		}, []string{"Predicted vs. actual accuracy"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f, err := c.build()
			if err != nil {
				t.Fatal(err)
			}
			checkRender(t, f)
			svg, _ := Render(f, "svg", DefaultWidth, DefaultHeight)
			for _, w := range c.want {
				// vgsvg escapes text with html.EscapeString.
				if !bytes.Contains(svg, []byte(w)) && !bytes.Contains(svg, []byte(strings.ReplaceAll(w, "'", "&#39;"))) {
					t.Errorf("svg lacks %q", w)
				}
			}
			if dir := os.Getenv("PLOTS_OUT"); dir != "" { // for eyeballing
				for _, ext := range []string{"svg", "png"} {
					if err := Save(f, filepath.Join(dir, c.name+"."+ext), DefaultWidth, DefaultHeight); err != nil {
						t.Fatal(err)
					}
				}
			}
		})
	}
}

func TestFigureErrors(t *testing.T) {
	cases := []struct {
		name  string
		build func() (*Figure, error)
		want  string
	}{
		{"spectrum-empty", func() (*Figure, error) { return Spectrum(nil, Options{}) }, "no series"},
		{"spectrum-no-values", func() (*Figure, error) { return Spectrum([]Series{{Name: "a"}}, Options{}) }, `("a") has no singular values`},
		{"spectrum-negative", func() (*Figure, error) { return Spectrum([]Series{{Name: "a", Y: []float64{1, -1}}}, Options{}) }, "singular value 2 is -1"},
		{"spectrum-nan", func() (*Figure, error) {
			return ExplainedVariance([]Series{{Name: "a", Y: []float64{math.NaN()}}}, Options{})
		}, "singular value 1 is NaN"},
		{"spectrum-x-len", func() (*Figure, error) {
			return Spectrum([]Series{{Name: "a", X: []float64{1}, Y: []float64{1, 2}}}, Options{})
		}, "1 x values for 2"},
		{"spectrum-all-zero-log", func() (*Figure, error) {
			return Spectrum([]Series{{Name: "a", Y: []float64{0, 0}}}, Options{LogY: true})
		}, "every singular value is 0"},
		{"lines-empty", func() (*Figure, error) { return Lines("t", "x", "y", nil) }, "no series"},
		{"lines-len", func() (*Figure, error) {
			return Lines("t", "x", "y", []Series{{Name: "a", X: []float64{1}, Y: nil}})
		}, "1 x values and 0 y values"},
		{"lines-nan", func() (*Figure, error) {
			return Lines("t", "x", "y", []Series{{Name: "a", X: []float64{1}, Y: []float64{math.NaN()}}})
		}, "no finite point"},
		{"scatter-len", func() (*Figure, error) { return Scatter([]float64{1}, []float64{1, 2}, nil, 1) }, "1 predicted and 2 actual"},
		{"scatter-labels", func() (*Figure, error) { return Scatter([]float64{1}, []float64{1}, []string{"a", "b"}, 1) }, "2 labels for 1 points"},
		{"scatter-inf", func() (*Figure, error) { return Scatter([]float64{math.Inf(1)}, []float64{1}, nil, 1) }, "point 0"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := c.build()
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want it to contain %q", err, c.want)
			}
		})
	}
}

func TestRenderErrors(t *testing.T) {
	f, err := Lines("t", "x", "y", []Series{{Name: "a", X: []float64{1, 2}, Y: []float64{1, 2}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Render(f, "bmp", DefaultWidth, DefaultHeight); err == nil || !strings.Contains(err.Error(), `"bmp"`) {
		t.Errorf("unknown format: %v", err)
	}
	if _, err := Render(f, "svg", 0, DefaultHeight); err == nil {
		t.Error("zero width accepted")
	}
	if _, err := Render(nil, "svg", DefaultWidth, DefaultHeight); err == nil {
		t.Error("nil figure accepted")
	}
	if err := Save(f, filepath.Join(t.TempDir(), "noext"), DefaultWidth, DefaultHeight); err == nil {
		t.Error("path without extension accepted")
	}
	pdf, err := Render(f, "pdf", 4*vg.Inch, 3*vg.Inch)
	if err != nil || !bytes.HasPrefix(pdf, []byte("%PDF")) {
		t.Errorf("pdf: %v, %.8q", err, pdf)
	}
}

func TestCollapseFigures(t *testing.T) {
	prefix := filepath.Join(t.TempDir(), "sub", "r18")
	paths, err := CollapseFigures(prefix, []Series{
		{Name: "multiple pass", Y: synthSpectrum(32, 8, 0.1)},
		{Name: "single pass", Y: synthSpectrum(32, 0, 0.03)},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{prefix + "-spectrum.svg", prefix + "-spectrum.png", prefix + "-explained.svg", prefix + "-explained.png"}
	if strings.Join(paths, ",") != strings.Join(want, ",") {
		t.Fatalf("paths %v, want %v", paths, want)
	}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(p, ".png") && !bytes.HasPrefix(b, pngMagic) {
			t.Errorf("%s is not a PNG", p)
		}
		if strings.HasSuffix(p, ".svg") && !bytes.Contains(b, []byte("<svg")) {
			t.Errorf("%s is not an SVG", p)
		}
	}
	if _, err := CollapseFigures("", nil); err == nil {
		t.Error("empty prefix accepted")
	}
	if _, err := CollapseFigures(prefix, nil); err == nil {
		t.Error("no series accepted")
	}
}

func TestCumulativeExplainedAndTicks(t *testing.T) {
	ev := collapse.ExplainedVariance([]float64{1, 3, 0, 1}) // sorted: 3 1 1 0, sum 5
	want := []float64{0.6, 0.8, 1, 1}
	for i := range want {
		if math.Abs(ev[i]-want[i]) > 1e-12 {
			t.Fatalf("ExplainedVariance = %v, want %v", ev, want)
		}
	}
	if ev := collapse.ExplainedVariance([]float64{0, 0}); ev[0] != 1 || ev[1] != 1 {
		t.Errorf("all-zero spectrum: %v", ev)
	}
	for _, c := range []struct {
		lo, hi    float64
		minLabels int
	}{{1e-7, 10, 3}, {0.003, 0.8, 2}, {2, 9, 2}, {1e-12, 1e3, 4}} {
		labels := 0
		for _, tk := range (logTicks{}).Ticks(c.lo, c.hi) {
			if tk.Value < c.lo*(1-1e-9) || tk.Value > c.hi*(1+1e-9) {
				t.Errorf("[%g, %g]: tick %g out of range", c.lo, c.hi, tk.Value)
			}
			if tk.Label != "" {
				labels++
			}
		}
		if labels < c.minLabels || labels > 10 {
			t.Errorf("[%g, %g]: %d labels", c.lo, c.hi, labels)
		}
	}
	for _, c := range []struct {
		lo, hi float64
		want   string
	}{{0, 400, "0,100,200,300,400"}, {0, 1, "0.0,0.2,0.4,0.6,0.8,1.0"}, {28.4, 51.6, "30,35,40,45,50"},
		{0.61, 0.88, "0.65,0.70,0.75,0.80,0.85"}, {-0.93, -0.1, "-0.8,-0.6,-0.4,-0.2"}, {1, 1, "1"}} {
		var labels []string
		for _, tk := range (niceTicks{}).Ticks(c.lo, c.hi) {
			if tk.Label != "" {
				labels = append(labels, tk.Label)
			}
		}
		if got := strings.Join(labels, ","); got != c.want {
			t.Errorf("niceTicks(%g, %g) labels %s, want %s", c.lo, c.hi, got, c.want)
		}
	}
	for in, want := range map[float64]string{1e-5: "1e-5", 0.01: "0.01", 100: "100", 1e10: "1e10", 2e-7: "2e-7"} {
		if got := formatTick(in); got != want {
			t.Errorf("formatTick(%g) = %q, want %q", in, got, want)
		}
	}
}

func TestErrorBars(t *testing.T) {
	s := []ErrorSeries{
		{Name: "width 8", X: []float64{0.01, 0.1, 1}, Y: []float64{60, 70, 65}, Err: []float64{1, math.NaN(), 2}},
		{Name: "width 16", X: []float64{0.01, 0.1, 1}, Y: []float64{62, math.NaN(), 70}, Err: []float64{0.5, 1, 1}},
	}
	f, err := ErrorBars("k-NN vs subset", "subset", "k-NN accuracy (%)", s, ErrorBarOptions{LogX: true})
	if err != nil {
		t.Fatal(err)
	}
	svg, err := Render(f, "svg", DefaultWidth, DefaultHeight)
	if err != nil || !bytes.Contains(svg, []byte("width 16")) {
		t.Fatalf("render: %v", err)
	}
	cat := []ErrorSeries{{Name: "acc", X: []float64{0, 1, 2}, Y: []float64{30, 44, 48}, Err: []float64{1, 2, 1}}}
	if _, err := ErrorBars("orderings", "ordering", "acc", cat, ErrorBarOptions{Categories: []string{"multi", "single", "hybrid"}}); err != nil {
		t.Fatal(err)
	}
	bad := []struct {
		name string
		s    []ErrorSeries
		o    ErrorBarOptions
	}{
		{"none", nil, ErrorBarOptions{}},
		{"lengths", []ErrorSeries{{X: []float64{1}, Y: []float64{1, 2}, Err: []float64{0}}}, ErrorBarOptions{}},
		{"no finite point", []ErrorSeries{{X: []float64{1}, Y: []float64{math.NaN()}, Err: []float64{0}}}, ErrorBarOptions{}},
		{"log of zero", []ErrorSeries{{X: []float64{0}, Y: []float64{1}, Err: []float64{0}}}, ErrorBarOptions{LogX: true}},
		{"category out of range", cat, ErrorBarOptions{Categories: []string{"multi"}}},
	}
	for _, tc := range bad {
		if _, err := ErrorBars("t", "x", "y", tc.s, tc.o); err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
}
