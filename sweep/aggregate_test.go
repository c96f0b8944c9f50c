package sweep

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/siam-ssl/siam/train"
)

// fakeSweep writes a sweep folder of 3 orderings x 3 seeds whose runs hold
// hand-made records (no training): k-NN = base + seed/100, AUC, val loss and a
// spectrum per run; run order=hybrid,seed=3 is unfinished (its k-NN record is of
// an earlier step and it has no done.json).
func fakeSweep(t *testing.T) (string, *Sweep) {
	t.Helper()
	s, err := Parse([]byte("name: fake\nbase: {width: 4, steps: 10}\ngrid:\n  order: [multi, single, hybrid]\n  seed: [1, 2, 3]\neval: [collapse, knn, loss]\n"))
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "fake")
	if err := Init(dir, s, "fake.yaml"); err != nil {
		t.Fatal(err)
	}
	base := map[string]float64{"multi": 0.60, "single": 0.70, "hybrid": 0.75}
	for _, p := range s.Points {
		rd := p.Dir(dir)
		os.MkdirAll(rd, 0o755)
		os.WriteFile(filepath.Join(rd, train.ConfigFile), p.Config.YAML(), 0o644)
		seed := float64(p.Config.Seed)
		acc := base[p.Config.Order] + seed/100
		auc := 0.9 - base[p.Config.Order]/4 + seed/1000
		loss := -0.5 - acc/2 + auc/3 + math.Sin(seed+acc*10)/50
		step := 10
		unfinished := p.Name == "order=hybrid,seed=3"
		if unfinished {
			step = 5
		}
		var metrics []byte
		for i := 1; i <= step; i++ {
			extra := ""
			if i%5 == 0 {
				extra = fmt.Sprintf(`,"knn_acc":%g,"auc":0.8`, acc*float64(i)/10)
			}
			metrics = append(metrics, fmt.Sprintf(`{"step":%d,"loss":%g%s}`+"\n", i, -float64(i)/10-seed/100, extra)...)
		}
		os.WriteFile(filepath.Join(rd, train.MetricsFile), metrics, 0o644)
		recs := fmt.Sprintf(`{"kind":"knn","step":%d,"accuracy":%g}
{"kind":"collapse","step":%d,"auc":%g,"rankme":%g,"singular_values":[4,2,1,%g]}
`, step, acc, step, auc, 3+seed, seed/10)
		if !unfinished {
			recs += fmt.Sprintf(`{"kind":"loss","step":10,"val_loss":%g}`+"\n", loss)
			os.WriteFile(filepath.Join(rd, DoneFile), []byte(`{"step":10}`), 0o644)
		}
		os.WriteFile(filepath.Join(rd, train.ResultsFile), []byte(recs), 0o644)
	}
	return dir, s
}

func TestAggregate(t *testing.T) {
	dir, _ := fakeSweep(t)
	sum, err := Aggregate(dir)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Name != "fake" || len(sum.Groups) != 3 || len(sum.Runs) != 9 || sum.Counts[Finished] != 8 || sum.Counts[Waiting] != 1 {
		t.Fatalf("summary %+v", sum)
	}
	if strings.Join(sum.Axes, ",") != "order" || strings.Join(sum.Seeds, ",") != "1,2,3" {
		t.Fatalf("axes %v seeds %v", sum.Axes, sum.Seeds)
	}
	near := func(got, want float64) bool { return math.Abs(got-want) < 1e-12 }
	m := sum.Groups[0]
	// k-NN 0.61, 0.62, 0.63: mean 0.62, sd 0.01.
	if m.Name != "order=multi" || m.Finished != 3 || m.KNN.N != 3 || !near(m.KNN.Mean, 0.62) || !near(m.KNN.SD, 0.01) {
		t.Errorf("multi: %+v", m)
	}
	if !math.IsNaN(m.Linear.Mean) || m.Linear.N != 0 {
		t.Errorf("no linear records, got %+v", m.Linear)
	}
	// Mean spectrum of [4 2 1 s/10] over seeds 1..3 (sorted descending).
	if len(m.Sigma) != 4 || !near(m.Sigma[0], 4) || !near(m.Sigma[3], 0.2) {
		t.Errorf("mean spectrum %v", m.Sigma)
	}
	// Loss curve: mean of -i/10 - s/100 over seeds = -i/10 - 0.02.
	if len(m.LossStep) != 10 || !near(m.LossMean[9], -1.02) || !near(m.FinalLoss.Mean, -1.02) {
		t.Errorf("loss curve %v %v, final %+v", m.LossStep, m.LossMean, m.FinalLoss)
	}
	if len(m.KNNStep) != 2 || !near(m.KNNMean[1], 0.62) || len(m.AUCMean) != 2 || !near(m.AUCMean[0], 0.8) {
		t.Errorf("monitored curves %v %v, %v", m.KNNStep, m.KNNMean, m.AUCMean)
	}
	h := sum.Groups[2]
	// The unfinished run counts only with records at the final step: its k-NN
	// record is of step 5, so hybrid has two k-NN values.
	if h.Finished != 2 || h.KNN.N != 2 || !near(h.KNN.Mean, 0.765) || h.ValLoss.N != 2 || h.FinalLoss.N != 2 {
		t.Errorf("hybrid: %+v", h)
	}
	if len(h.LossStep) != 5 {
		t.Errorf("hybrid loss curve over the steps all runs logged: %v", h.LossStep)
	}
	p := sum.Predictor
	if p == nil || p.Accuracy != "knn" || p.Models != 8 || len(p.Fits) != 3 || math.IsNaN(float64(p.Fits[0].LOOMAE)) {
		t.Fatalf("predictor %+v", p)
	}
	if p.Fits[0].R2 < p.Fits[1].R2 || p.Fits[0].R2 < p.Fits[2].R2 {
		t.Errorf("joint R² below a single feature's: %+v", p.Fits)
	}

	var text strings.Builder
	if err := sum.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"8 finished", "order=multi", "62.0 ± 1.0", "mean ± sd over seeds 1, 2, 3", "predictor of knn accuracy over 8 runs"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, text.String())
		}
	}

	md := filepath.Join(t.TempDir(), "results", "fake.md")
	os.MkdirAll(filepath.Dir(md), 0o755)
	files, err := sum.WriteMarkdown(md)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(md)
	for _, want := range []string{"## fake", "| order=single | 3/3 | 72.0 ± 1.0 | – |", "![knn](fake/knn.svg) ![loss_curves](fake/loss_curves.svg)", "fake/spectra.svg", "fake/predictor.svg", "fake/knn_curves.svg", "fake/auc_curves.svg", "| loss+auc |"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("markdown lacks %q:\n%s", want, b)
		}
	}
	for _, f := range files {
		if st, err := os.Stat(f); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
	var js map[string]any
	jb, _ := os.ReadFile(strings.TrimSuffix(md, ".md") + ".json")
	if err := json.Unmarshal(jb, &js); err != nil {
		t.Fatalf("summary JSON: %v\n%s", err, jb)
	}
	g0 := js["groups"].([]any)[0].(map[string]any)
	if g0["linear"].(map[string]any)["mean"] != nil || g0["knn"].(map[string]any)["n"].(float64) != 3 {
		t.Errorf("JSON group %v", g0)
	}
	html, err := sum.HTML()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"<svg", "order=hybrid", "Label-free accuracy predictor", "Every run"} {
		if !strings.Contains(string(html), want) {
			t.Errorf("HTML lacks %q", want)
		}
	}
}

func TestAggregateNotASweep(t *testing.T) {
	if _, err := Aggregate(t.TempDir()); err == nil || !strings.Contains(err.Error(), "not a sweep folder") {
		t.Fatalf("got %v", err)
	}
}
