package report

import (
	"math"
	"strings"
	"testing"
)

// TestNonFiniteMetricsReadBack: metrics lines written by train with a NaN or Inf
// value (null + "nonfinite") are read back with the exact value, drawn without it,
// and the page says which steps had it.
func TestNonFiniteMetricsReadBack(t *testing.T) {
	metrics := `{"step":1,"loss":-0.1,"lr":0.05,"chunk":0,"images_per_s":null,"nonfinite":{"images_per_s":"+Inf"},"time":"t"}
{"step":2,"loss":-0.2,"lr":0.05,"chunk":0,"images_per_s":900,"auc":null,"knn_acc":0.4,"rankme":null,"nonfinite":{"auc":"NaN","rankme":"-Inf"},"time":"t"}
{"step":3,"loss":-0.3,"lr":0.05,"chunk":0,"images_per_s":900,"auc":0.8,"knn_acc":0.5,"rankme":3,"time":"t"}
`
	dir := writeRun(t, map[string]string{MetricsFile: metrics})
	r, err := loadRun(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.metrics) != 3 {
		t.Fatalf("%d metrics lines, want 3", len(r.metrics))
	}
	m0, m1 := r.metrics[0], r.metrics[1]
	if m0.ImagesPerS == nil || !math.IsInf(*m0.ImagesPerS, 1) {
		t.Errorf("images_per_s of step 1: %v, want +Inf", m0.ImagesPerS)
	}
	if m1.AUC == nil || !math.IsNaN(*m1.AUC) || m1.RankMe == nil || !math.IsInf(*m1.RankMe, -1) || *m1.KNN != 0.4 {
		t.Errorf("step 2: auc %v rankme %v knn %v", m1.AUC, m1.RankMe, m1.KNN)
	}
	html, err := Build([]string{dir}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(html), "auc is NaN at step 2") {
		t.Error("the page does not say that the AUC of step 2 is NaN")
	}
	// A nonfinite entry that is not NaN/Inf is an error naming the line.
	bad := writeRun(t, map[string]string{MetricsFile: `{"step":1,"loss":0,"auc":null,"nonfinite":{"auc":"huge"}}` + "\n"})
	if _, err := loadRun(bad); err == nil || !strings.Contains(err.Error(), "metrics.jsonl:1") {
		t.Errorf("bad nonfinite value: %v", err)
	}
}

// TestSkippedLinesAreReported: a blank line or a torn last line (no newline; the
// run died while writing it) is skipped with a warning naming file:line, shown
// in the page, passed to Options.Warn and returned by LoadRunMetrics.
func TestSkippedLinesAreReported(t *testing.T) {
	metrics := `{"step":1,"loss":-0.1}` + "\n\n" + `{"step":2,"loss":-0.2}` + "\n" + `{"step":3,"lo`
	dir := writeRun(t, map[string]string{MetricsFile: metrics})
	var warned []string
	html, err := Build([]string{dir}, Options{Warn: func(s string) { warned = append(warned, s) }})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"metrics.jsonl:2: blank line skipped", "metrics.jsonl:4: incomplete last line skipped"}
	if len(warned) != len(want) {
		t.Fatalf("warnings %q, want %d", warned, len(want))
	}
	for i, w := range want {
		if !strings.Contains(warned[i], w) {
			t.Errorf("warning %q lacks %q", warned[i], w)
		}
		if !strings.Contains(string(html), w) {
			t.Errorf("page lacks %q", w)
		}
	}
	rm, err := LoadRunMetrics(dir)
	if err != nil || len(rm.Warnings) != 2 || rm.Steps != 2 {
		t.Errorf("LoadRunMetrics: %+v, %v", rm, err)
	}
}

// TestAllNonFiniteCurve: a monitored field that is never finite gives a note, not
// an empty-figure error.
func TestAllNonFiniteCurve(t *testing.T) {
	metrics := `{"step":1,"loss":null,"auc":null,"knn_acc":null,"nonfinite":{"loss":"NaN","auc":"NaN","knn_acc":"+Inf"}}
{"step":2,"loss":-0.2,"auc":null,"nonfinite":{"auc":"NaN"}}
`
	dir := writeRun(t, map[string]string{MetricsFile: metrics})
	var warned []string
	html, err := Build([]string{dir}, Options{Warn: func(s string) { warned = append(warned, s) }})
	if err != nil {
		t.Fatal(err)
	}
	all := strings.Join(warned, "\n")
	for _, w := range []string{"auc is NaN at steps 1, 2", "loss is NaN at step 1", "knn_acc is +Inf at step 1"} {
		if !strings.Contains(all, w) {
			t.Errorf("warnings lack %q", w)
		}
		if !strings.Contains(string(html), strings.ReplaceAll(w, "+", "&#43;")) {
			t.Errorf("page lacks %q", w)
		}
	}
}

// TestAlarmsReported: collapse alarms recorded in metrics.jsonl reach the page and
// Options.Warn.
func TestAlarmsReported(t *testing.T) {
	metrics := `{"step":2,"loss":-0.1,"auc":0.8}
{"step":4,"loss":-0.2,"auc":0.95,"alarm":"auc 0.95 > 0.9"}
{"step":6,"loss":-0.3,"auc":0.97,"rankme":2,"alarm":"auc 0.97 > 0.9; rankme 2 < 3"}
`
	dir := writeRun(t, map[string]string{MetricsFile: metrics})
	var warned []string
	html, err := Build([]string{dir}, Options{Warn: func(s string) { warned = append(warned, s) }})
	if err != nil {
		t.Fatal(err)
	}
	want := "at step 4 (auc 0.95 &gt; 0.9), step 6 (auc 0.97 &gt; 0.9; rankme 2 &lt; 3)"
	if !strings.Contains(string(html), "Collapse alarm in") || !strings.Contains(string(html), want) {
		t.Errorf("page lacks the alarms %q", want)
	}
	if len(warned) != 1 || !strings.Contains(warned[0], "step 4 (auc 0.95 > 0.9)") {
		t.Errorf("warnings %q", warned)
	}
}
