package report

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"gonum.org/v1/plot/vg"

	"github.com/siam-ssl/siam/plots"
)

// fixtureRuns lists the run folders under testdata/runs, sorted.
func fixtureRuns(t testing.TB) []string {
	t.Helper()
	dirs, err := filepath.Glob(filepath.Join("testdata", "runs", "*"))
	if err != nil || len(dirs) < MinPredictorRuns {
		t.Fatalf("fixtures: %v, %v", dirs, err)
	}
	return dirs
}

func TestBuildFull(t *testing.T) {
	if dir := os.Getenv("REPORT_PNG_DIR"); dir != "" { // for eyeballing the figures
		n := 0
		figureHook = func(f *plots.Figure, _ string) {
			n++
			if err := plots.Save(f, filepath.Join(dir, fmt.Sprintf("fig%02d.png", n)), 6.5*vg.Inch, 3.4*vg.Inch); err != nil {
				t.Error(err)
			}
		}
		defer func() { figureHook = nil }()
	}
	html, err := Build(fixtureRuns(t), Options{Title: "Orderings <test>"})
	if err != nil {
		t.Fatal(err)
	}
	if out := os.Getenv("REPORT_OUT"); out != "" {
		if err := os.WriteFile(out, html, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, want := range []string{
		"<!DOCTYPE html>", "<title>Orderings &lt;test&gt;</title>",
		`id="summary"`, `id="compare"`, `id="predictor"`, "Run r18-hybrid", "Run r18-multi-pass",
		"Training loss", "Collapse AUC", "k-NN accuracy", "Spectra over training", "Explained variance over training",
		"Final singular value spectra", "Final cumulative explained variance", "k-NN accuracy, all runs",
		"Predicted vs. actual accuracy (R² = ", "linear accuracy (%) ≈", "predicted acc",
		"<dt>order</dt><dd>hybrid</dd>", "<dt>augment</dt><dd>{blur: false, crop_scale: [0.2, 1]}</dd>", "<dt>future_key</dt>",
		"48.3%", // linear accuracy of r18-hybrid
		"44.1%", // the latest knn result wins over the superseded 5%
	} {
		if !strings.Contains(string(html), want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if n := strings.Count(string(html), "<svg"); n != 5*5+5+1 {
		t.Errorf("%d figures, want %d", n, 5*5+5+1)
	}
	if bytes.Contains(html, []byte("<?xml")) {
		t.Error("XML prolog inside HTML")
	}
	// Self-contained: no external references.
	if m := regexp.MustCompile(`(?i)(src|href)="(https?:)?//`).Find(html); m != nil {
		t.Errorf("external reference %s", m)
	}
	if strings.Contains(string(html), "<script") {
		t.Error("script in report")
	}
	// The predictor's fits: joint and both single-feature fits.
	for _, k := range []string{"<td>loss&#43;auc</td>", "<td>loss</td>", "<td>auc</td>"} {
		if !strings.Contains(string(html), k) {
			t.Errorf("predictor table lacks %s", k)
		}
	}
}

func TestBuildPartial(t *testing.T) {
	runs := append(fixtureRuns(t)[:2], filepath.Join("testdata", "partial", "metrics-only"))
	html, err := Build(runs, Options{})
	if err != nil {
		t.Fatal(err)
	}
	s := string(html)
	for _, want := range []string{
		"Run metrics-only", "no config.yaml in this folder", "No monitored steps", "spectra.jsonl: file not found",
		"Predictor skipped: the label-free predictor needs at least 4 runs", "metrics-only: missing val_loss",
		`id="summary"`, `id="compare"`,
	} {
		if !strings.Contains(s, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if strings.Contains(s, `id="predictor"`) {
		t.Error("predictor section with 2 evaluated runs")
	}
	// Only one section requested: no other figure.
	html, err = Build(runs[:1], Options{Sections: []Section{SectionLoss}})
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(html), "<svg"); n != 1 {
		t.Errorf("loss-only report has %d figures", n)
	}
	if strings.Contains(string(html), `id="summary"`) {
		t.Error("summary not requested but shown")
	}
	// knn accuracy chosen explicitly.
	html, err = Build(fixtureRuns(t), Options{Accuracy: "knn", Sections: []Section{SectionPredictor}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(html), "knn accuracy (%) ≈") {
		t.Error("knn predictor formula missing")
	}
}

// writeRun creates a run folder with the given files.
func writeRun(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "run")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestBuildErrors(t *testing.T) {
	const okMetrics = `{"step":0,"loss":0.1,"lr":0.05,"chunk":0,"images_per_s":1000,"time":"2025-01-01T00:00:00Z"}
{"step":10,"loss":-0.2,"lr":0.05,"chunk":0,"images_per_s":1000,"time":"2025-01-01T00:00:10Z"}
`
	cases := []struct {
		name  string
		files map[string]string // nil: the folder does not exist
		opts  Options
		want  []string // substrings of the error; "DIR" is replaced by the folder
	}{
		{"no-folder", nil, Options{}, []string{"DIR", "no such file"}},
		{"no-metrics", map[string]string{ConfigFile: "arch: resnet18\n"}, Options{}, []string{"DIR has no metrics.jsonl"}},
		{"empty-metrics", map[string]string{MetricsFile: "\n  \n"}, Options{}, []string{"DIR/metrics.jsonl: no parsable lines"}},
		{"malformed-metrics", map[string]string{MetricsFile: okMetrics + `{"step":20,"loss":` + "\n"}, Options{}, []string{"DIR/metrics.jsonl:3: malformed JSON"}},
		{"not-object", map[string]string{MetricsFile: "[1,2]\n"}, Options{}, []string{"DIR/metrics.jsonl:1: want a JSON object"}},
		{"no-step", map[string]string{MetricsFile: `{"loss":1}` + "\n"}, Options{}, []string{"DIR/metrics.jsonl:1: missing \"step\""}},
		{"no-loss", map[string]string{MetricsFile: "\n" + `{"step":1}` + "\n"}, Options{}, []string{"DIR/metrics.jsonl:2: missing \"loss\""}},
		{"wrong-type", map[string]string{MetricsFile: `{"step":"one","loss":1}` + "\n"}, Options{}, []string{"DIR/metrics.jsonl:1: malformed JSON"}},
		{"bad-yaml", map[string]string{MetricsFile: okMetrics, ConfigFile: "arch: [resnet\n"}, Options{}, []string{"DIR/config.yaml"}},
		{"yaml-not-map", map[string]string{MetricsFile: okMetrics, ConfigFile: "- a\n- b\n"}, Options{}, []string{"DIR/config.yaml: line 1: want a mapping"}},
		{"malformed-spectra", map[string]string{MetricsFile: okMetrics, SpectraFile: `{"step":0,"singular_values":[1,2]}` + "\n{oops}\n"}, Options{}, []string{"DIR/spectra.jsonl:2: malformed JSON"}},
		{"empty-spectrum", map[string]string{MetricsFile: okMetrics, SpectraFile: `{"step":0,"singular_values":[]}` + "\n"}, Options{}, []string{"DIR/spectra.jsonl:1: missing or empty \"singular_values\""}},
		{"negative-sigma", map[string]string{MetricsFile: okMetrics, SpectraFile: `{"step":0,"singular_values":[1,-2]}` + "\n"}, Options{}, []string{"DIR/spectra.jsonl:1: singular value 2 is -2"}},
		{"malformed-results", map[string]string{MetricsFile: okMetrics, ResultsFile: `{"kind":"knn","accuracy":0.3}` + "\n" + `{"kind":"linear","accuracy":}` + "\n"}, Options{}, []string{"DIR/results.jsonl:2: malformed JSON"}},
		{"results-no-kind", map[string]string{MetricsFile: okMetrics, ResultsFile: `{"accuracy":0.3}` + "\n"}, Options{}, []string{"DIR/results.jsonl:1: missing \"kind\""}},
		{"results-no-accuracy", map[string]string{MetricsFile: okMetrics, ResultsFile: `{"kind":"linear","epochs":90}` + "\n"}, Options{}, []string{"DIR/results.jsonl:1: \"linear\" result without \"accuracy\""}},
		{"results-no-val-loss", map[string]string{MetricsFile: okMetrics, ResultsFile: `{"kind":"loss"}` + "\n"}, Options{}, []string{"\"loss\" result without \"val_loss\""}},
		{"need-monitor", map[string]string{MetricsFile: okMetrics}, Options{Sections: []Section{SectionMonitor}}, []string{"DIR/metrics.jsonl: no monitored step", `section "monitor"`}},
		{"need-spectra", map[string]string{MetricsFile: okMetrics}, Options{Sections: []Section{SectionSpectra}}, []string{"DIR/spectra.jsonl: file not found", `section "spectra"`}},
		{"need-compare", map[string]string{MetricsFile: okMetrics}, Options{Sections: []Section{SectionCompare}}, []string{"DIR: no final spectrum", `section "compare"`}},
		{"need-predictor", map[string]string{MetricsFile: okMetrics}, Options{Sections: []Section{SectionPredictor}}, []string{"needs at least 4 runs", "run: missing val_loss", "DIR/results.jsonl"}},
		{"need-loss-weights-folder", map[string]string{ResultsFile: `{"kind":"knn","accuracy":0.3}` + "\n"}, Options{Sections: []Section{SectionLoss}}, []string{"DIR: no training history (no metrics.jsonl)", `section "loss"`}},
		{"bad-section", map[string]string{MetricsFile: okMetrics}, Options{Sections: []Section{"plots"}}, []string{`unknown section "plots"`}},
		{"bad-accuracy", map[string]string{MetricsFile: okMetrics}, Options{Accuracy: "top5"}, []string{`accuracy "top5"`}},
		{"bad-names", map[string]string{MetricsFile: okMetrics}, Options{Names: []string{"a", "b"}}, []string{"2 names for 1 run folders"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var dir string
			if c.files == nil {
				dir = filepath.Join(t.TempDir(), "missing")
			} else {
				dir = writeRun(t, c.files)
			}
			_, err := Build([]string{dir}, c.opts)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range c.want {
				w = strings.ReplaceAll(w, "DIR", dir)
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
	if _, err := Build(nil, Options{}); err == nil {
		t.Error("no run folders accepted")
	}
}

// TestWeightsFolder: the results folder of a model measured with --weights
// has results.jsonl and config.yaml but no training history; it is reported
// (summary, final spectrum) and read by LoadRunMetrics.
func TestWeightsFolder(t *testing.T) {
	dir := writeRun(t, map[string]string{
		ConfigFile: "weights: /models/r50.pth\narch: resnet50\n",
		ResultsFile: `{"kind":"collapse","auc":0.7,"rankme":12.5,"singular_values":[3,2,1,0.5],"arch":"resnet50","mean":[0.485,0.456,0.406]}
{"kind":"knn","accuracy":0.42,"weights":"/models/r50.pth"}
`})
	html, err := Build([]string{dir, fixtureRuns(t)[0]}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	s := string(html)
	for _, want := range []string{"No metrics.jsonl: a model measured without its training history", "/models/r50.pth",
		"<td>run</td><td>–</td><td>–</td><td>0.700</td><td>12.5</td><td>42.0%</td>", `id="compare"`} {
		if !strings.Contains(s, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	m, err := LoadRunMetrics(dir)
	if err != nil {
		t.Fatal(err)
	}
	if m.AUC != 0.7 || m.KNN != 0.42 || m.Steps != 0 {
		t.Errorf("LoadRunMetrics = %+v", m)
	}
}

func TestResultsLatestWinsAndDuplicateNames(t *testing.T) {
	metrics := `{"step":0,"loss":0.1}` + "\n"
	results := `{"kind":"linear","accuracy":0.40,"time":"2025-01-02T00:00:00Z"}
{"kind":"linear","accuracy":0.10,"time":"2025-01-01T00:00:00Z"}
{"kind":"future","whatever":1}
{"kind":"loss","val_loss":-0.5}
{"kind":"loss","val_loss":-0.7}
`
	a := writeRun(t, map[string]string{MetricsFile: metrics, ResultsFile: results})
	b := writeRun(t, map[string]string{MetricsFile: metrics})
	html, err := Build([]string{a, b}, Options{Sections: []Section{SectionSummary}})
	if err != nil {
		t.Fatal(err)
	}
	s := string(html)
	for _, want := range []string{"40.0%", "-0.7000", filepath.ToSlash(a), filepath.ToSlash(b)} {
		if !strings.Contains(s, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if strings.Contains(s, "10.0%") {
		t.Error("an older result won over a newer one")
	}
}
