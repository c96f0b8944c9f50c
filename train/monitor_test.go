package train

import (
	"bufio"
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/siam-ssl/siam/data"
)

// monitorTestConfig is a width-4 run on the embedded set with monitoring.
func monitorTestConfig() Config {
	c := DefaultConfig()
	c.Width, c.Batch, c.Steps, c.LR = 4, 16, 4, 0.5
	c.CheckpointEvery, c.LogEvery, c.MonitorEvery, c.MonitorSamples = 0, 2, 2, 300
	return c
}

func TestMonitorFields(t *testing.T) {
	cfg := monitorTestConfig()
	tr, te, err := data.Open(cfg.Data)
	if err != nil {
		t.Fatal(err)
	}
	m, err := BuildModel(cfg, InputOf(cfg, tr))
	if err != nil {
		t.Fatal(err)
	}
	mon, err := NewMonitor(tr, te, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	fields, sigma, err := mon(1, m)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("fields %v, %d singular values, %v", fields, len(sigma), time.Since(t0))
	for _, k := range []string{"auc", "rankme", "effective_rank", "dim_std", "knn_acc", "monitor_s"} {
		v, ok := fields[k]
		if !ok || math.IsNaN(v) || math.IsInf(v, 0) {
			t.Errorf("field %s = %v, %v", k, v, ok)
		}
	}
	if a := fields["auc"]; a < 0.5 || a > 1 {
		t.Errorf("auc %v out of [0.5, 1]", a)
	}
	if a := fields["knn_acc"]; a < 0 || a > 1 {
		t.Errorf("knn_acc %v out of [0, 1]", a)
	}
	if len(sigma) != m.Backbone().FeatureDim() {
		t.Errorf("%d singular values, want %d", len(sigma), m.Backbone().FeatureDim())
	}
	// Same samples every call: the same model gives the same numbers.
	f2, _, err := mon(2, m)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"auc", "rankme", "knn_acc"} {
		if f2[k] != fields[k] {
			t.Errorf("%s: %v then %v", k, fields[k], f2[k])
		}
	}
	// Without a validation set there is no k-NN.
	mon2, err := NewMonitor(tr, nil, cfg)
	if err != nil {
		t.Fatal(err)
	}
	f3, _, err := mon2(1, m)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := f3["knn_acc"]; ok {
		t.Error("knn_acc without a validation set")
	}
	if _, err := NewMonitorWith(tr, te, MonitorOptions{Samples: 1, Recipe: AugmentRecipe(cfg, tr)}); err == nil {
		t.Error("1 sample: no error")
	}
}

func TestRunWithMonitorFactory(t *testing.T) {
	cfg := monitorTestConfig()
	dir := filepath.Join(t.TempDir(), "run")
	if _, err := Run(context.Background(), cfg, RunOptions{Dir: dir, NewMonitor: NewMonitor}); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(dir, MetricsFile))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var monitored int
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var l map[string]any
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatal(err)
		}
		if _, ok := l["auc"]; ok {
			monitored++
			if _, ok := l["knn_acc"]; !ok {
				t.Errorf("line without knn_acc: %s", sc.Text())
			}
		}
	}
	if monitored != 2 {
		t.Errorf("%d monitored lines, want 2 (steps 2 and 4)", monitored)
	}
	b, err := os.ReadFile(filepath.Join(dir, SpectraFile))
	if err != nil {
		t.Fatal(err)
	}
	if len(b) == 0 {
		t.Error("empty spectra file")
	}
}
