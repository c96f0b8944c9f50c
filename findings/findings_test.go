package findings

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/siam-ssl/siam/sweep"
)

// result is one synthetic run's final numbers (fractions; loss and AUC plain).
type result struct{ knn, linear, auc, loss float64 }

// writeSweep makes results/NAME from a sweep source whose every run gets the
// numbers f(point) as its finished records (done.json and results.jsonl at the
// final step), as a study machine would leave them.
func writeSweep(t *testing.T, dir, name, src string, f func(s *sweep.Sweep, p sweep.Point) (result, bool)) {
	t.Helper()
	s, err := sweep.Parse([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	d := filepath.Join(dir, name)
	if err := sweep.Init(d, s, name+".yaml"); err != nil {
		t.Fatal(err)
	}
	for _, p := range s.Points {
		r, ok := f(s, p)
		if !ok {
			continue
		}
		rd := p.Dir(d)
		os.MkdirAll(rd, 0o755)
		steps := p.Config.Steps
		var b bytes.Buffer
		for _, rec := range []map[string]any{
			{"kind": "knn", "step": steps, "accuracy": r.knn},
			{"kind": "linear", "step": steps, "accuracy": r.linear},
			{"kind": "collapse", "step": steps, "auc": r.auc, "rankme": 10.0, "singular_values": []float64{4, 2, 1, 0.01 + 1 - r.auc}},
			{"kind": "loss", "step": steps, "val_loss": r.loss},
		} {
			j, _ := json.Marshal(rec)
			b.Write(append(j, '\n'))
		}
		os.WriteFile(filepath.Join(rd, "results.jsonl"), b.Bytes(), 0o644)
		os.WriteFile(filepath.Join(rd, "metrics.jsonl"), []byte(fmt.Sprintf(`{"step": %d, "loss": %g}`+"\n", steps, r.loss)), 0o644)
		done := fmt.Sprintf(`{"step": %d, "evals": ["collapse", "knn", "loss", "linear"], "seconds": 900, "cores": 1}`, steps)
		os.WriteFile(filepath.Join(rd, "done.json"), []byte(done), 0o644)
	}
}

const evals = "eval: [collapse, knn, loss, linear]\n"

// jitter is a small seed-dependent offset (sd ≈ 0.005).
func jitter(s *sweep.Sweep, p sweep.Point) float64 {
	switch s.Value(p, "seed") {
	case "1":
		return -0.005
	case "2":
		return 0
	}
	return 0.005
}

func TestVerdicts(t *testing.T) {
	for _, tc := range []struct {
		name string
		// gain is single/hybrid's linear gain over multi; seeds the seed axis.
		gain  float64
		seeds string
		want  string
	}{
		{"clear gain", 0.10, "[1, 2, 3]", Reproduced},
		{"reversed", -0.10, "[1, 2, 3]", NotHere},
		{"within spread", 0.002, "[1, 2, 3]", Partly},
		{"two seeds", 0.10, "[1, 2]", Pending},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeSweep(t, dir, OrderingsSweep, "name: "+OrderingsSweep+"\nbase: {data: cifar10, width: 4, steps: 100, batch: 256, chunks: 10, switch_at: 4}\ngrid:\n  order: [multi, single, hybrid, cumulative]\n  seed: "+tc.seeds+"\n"+evals,
				func(s *sweep.Sweep, p sweep.Point) (result, bool) {
					r := result{knn: 0.4, linear: 0.4 + jitter(s, p), auc: 0.8, loss: -0.8}
					switch s.Value(p, "order") {
					case "single", "hybrid":
						r.linear += tc.gain
					case "cumulative":
						r.linear += tc.gain / 4
					}
					return r, true
				})
			rows, err := Evaluate(dir)
			if err != nil {
				t.Fatal(err)
			}
			if len(rows) != 6 {
				t.Fatalf("%d rows", len(rows))
			}
			r := rows[3]
			if r.Verdict != tc.want {
				t.Fatalf("finding 4: verdict %q, want %q (%s)", r.Verdict, tc.want, r.Measured)
			}
			if !strings.Contains(r.Measured, "single − multi") || !strings.Contains(r.Setting, "CIFAR-10") {
				t.Errorf("row: %+v", r)
			}
			if r.CoreHours <= 0 || rows[0].Verdict != Pending {
				t.Errorf("compute %v, finding 1 %q", r.CoreHours, rows[0].Verdict)
			}
		})
	}
}

// TestSubsetsAndPredictor: a k-NN curve that rises then falls with a monotone
// loss is finding 1 reproduced; a monotone AUC finding 2; 24 models whose linear
// accuracy is an exact function of loss and AUC (each alone explaining less)
// finding 6.
func TestSubsetsAndPredictor(t *testing.T) {
	dir := t.TempDir()
	knn := map[string]float64{"0.01": 0.30, "0.05": 0.40, "0.2": 0.45, "1.0": 0.38}
	auc := map[string]float64{"0.01": 0.70, "0.05": 0.75, "0.2": 0.80, "1.0": 0.85}
	loss := map[string]float64{"0.01": -0.95, "0.05": -0.90, "0.2": -0.85, "1.0": -0.80}
	writeSweep(t, dir, SubsetsSweep, "name: "+SubsetsSweep+"\nbase: {data: cifar10, width: 4, steps: 100, batch: 256, order: subset}\ngrid:\n  subset: [0.01, 0.05, 0.2, 1.0]\n  seed: [1, 2, 3]\n"+evals,
		func(s *sweep.Sweep, p sweep.Point) (result, bool) {
			v := s.Value(p, "subset")
			j := jitter(s, p)
			// The linear accuracy is 0.5 - 0.6 loss - 1.2 AUC... with a seed term so
			// that the joint fit has two independent features.
			l := loss[v] + 2*j
			a := auc[v] - j
			return result{knn: knn[v] + j, linear: -0.2*l - 0.6*a + 0.7, auc: a, loss: l}, true
		})
	writeSweep(t, dir, OrderingsSweep, "name: "+OrderingsSweep+"\nbase: {data: cifar10, width: 4, steps: 100, batch: 256, chunks: 10, switch_at: 4}\ngrid:\n  order: [multi, single, hybrid, cumulative]\n  seed: [1, 2, 3]\n"+evals,
		func(s *sweep.Sweep, p sweep.Point) (result, bool) {
			i := float64(p.Index)
			l, a := -0.8-0.01*i, 0.8-0.004*i+0.003*float64(p.Index%3)
			return result{knn: 0.4, linear: -0.2*l - 0.6*a + 0.7, auc: a, loss: l}, true
		})
	rows, err := Evaluate(dir)
	if err != nil {
		t.Fatal(err)
	}
	if rows[0].Verdict != Reproduced || !strings.Contains(rows[0].Measured, "peak at 20%") {
		t.Errorf("finding 1: %q %s | %s", rows[0].Verdict, rows[0].Measured, rows[0].Detail)
	}
	if rows[1].Verdict != Reproduced || !strings.Contains(rows[1].Measured, "Spearman ρ 1.00") {
		t.Errorf("finding 2: %q %s", rows[1].Verdict, rows[1].Measured)
	}
	if rows[5].Verdict != Reproduced || rows[5].Seeds != 24 || !strings.Contains(rows[5].Measured, "R² joint 1.000") {
		t.Errorf("finding 6: %q %s", rows[5].Verdict, rows[5].Measured)
	}
	if rows[2].Verdict != Pending || rows[4].Verdict != Pending {
		t.Errorf("findings 3 and 5 should wait for their sweeps: %q %q", rows[2].Verdict, rows[4].Verdict)
	}
	var md bytes.Buffer
	if err := WriteMarkdown(&md, rows); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| 1 | k-NN accuracy rises", "**reproduced** (n = 3)", "pending (n = 0)", "siam sweep experiments/c10-1-subsets.yaml --out results/c10-1-subsets"} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("markdown lacks %q:\n%s", want, md.String())
		}
	}
	fig := filepath.Join(t.TempDir(), "predictor.svg")
	st, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := st.WritePredictorFigure(fig); err != nil || !ok {
		t.Fatalf("predictor figure: %v %v", ok, err)
	}
}

func TestSpearman(t *testing.T) {
	for _, tc := range []struct {
		x, y []float64
		want float64
	}{
		{[]float64{1, 2, 3, 4}, []float64{10, 20, 30, 40}, 1},
		{[]float64{1, 2, 3, 4}, []float64{4, 3, 2, 1}, -1},
		{[]float64{1, 2, 3}, []float64{1, 1, 1}, -2}, // NaN
	} {
		got := spearman(tc.x, tc.y)
		if tc.want == -2 {
			if got == got {
				t.Errorf("constant series: %v, want NaN", got)
			}
			continue
		}
		if got != tc.want {
			t.Errorf("spearman(%v, %v) = %v, want %v", tc.x, tc.y, got, tc.want)
		}
	}
}
