package report

import (
	"fmt"
	"math"
)

// RunMetrics is what the label-free predictor needs from one run folder: the
// validation SimSiam loss, the collapse AUC and, when evaluated, the linear-probe
// and k-NN accuracies (fractions). Unknown values are NaN.
type RunMetrics struct {
	Name, Dir      string
	ValLoss, AUC   float64
	Linear, KNN    float64
	AUCFromMonitor bool // AUC is the last monitored value, not a `siam collapse` result
	KNNFromMonitor bool
	Steps          int
	// Warnings name what was skipped or odd in the run folder's files (file:line).
	Warnings []string
}

// LoadRunMetrics reads a run folder (metrics.jsonl required; results.jsonl and
// spectra.jsonl used when present) and picks each value as the report does: the
// latest evaluation result of its kind, else the last monitored value.
func LoadRunMetrics(dir string) (RunMetrics, error) {
	r, err := loadRun(dir)
	if err != nil {
		return RunMetrics{}, err
	}
	s := r.summarize()
	return RunMetrics{Name: r.name, Dir: dir, ValLoss: s.ValLoss, AUC: s.AUC, Linear: s.Linear, KNN: s.KNN,
		AUCFromMonitor: s.AUCFrom != "", KNNFromMonitor: s.KNNFrom != "", Steps: s.Steps,
		Warnings: r.warnings}, nil
}

// Accuracy returns the linear-probe accuracy, or the k-NN accuracy when kind is
// "knn" (or when kind is "" and no probe was run), with an error naming what is
// missing.
func (m RunMetrics) Accuracy(kind string) (float64, error) {
	switch kind {
	case "linear":
		if math.IsNaN(m.Linear) {
			return m.Linear, fmt.Errorf("%s: no linear-probe result (run siam eval linear --checkpoint %s)", m.Dir, m.Dir)
		}
		return m.Linear, nil
	case "knn":
		if math.IsNaN(m.KNN) {
			return m.KNN, fmt.Errorf("%s: no k-NN result (run siam eval knn --checkpoint %s)", m.Dir, m.Dir)
		}
		return m.KNN, nil
	case "":
		if !math.IsNaN(m.Linear) {
			return m.Linear, nil
		}
		return m.Accuracy("knn")
	}
	return math.NaN(), fmt.Errorf("accuracy %q: want linear or knn", kind)
}
