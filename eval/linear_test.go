package eval

import (
	"math"
	"reflect"
	"testing"
)

func TestLinearProbeCachedLearns(t *testing.T) {
	m := tinyModel(t, 3)
	train, val := templates(400, 4, 16, 1), templates(200, 4, 16, 2)
	opts := LinearOptions{Epochs: 40, Batch: 32, LR: 30, Seed: 5, CachedFeatures: true}
	r, err := LinearProbe(m, train, val, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("train %.3f val %.3f, loss %.4f -> %.4f, %d steps, %.2fs", r.TrainAccuracy, r.ValAccuracy,
		r.EpochLoss[0], r.EpochLoss[len(r.EpochLoss)-1], r.Steps, r.Seconds)
	if r.ValAccuracy < 0.8 || r.TrainAccuracy < 0.8 { // chance is 0.25
		t.Errorf("accuracy train %.3f, val %.3f; want >= 0.8 on an easy problem", r.TrainAccuracy, r.ValAccuracy)
	}
	if len(r.EpochLoss) != 40 || len(r.EpochAccuracy) != 40 || r.Steps != 40*13 || !r.Cached || r.Dim != 32 || r.Classes != 4 {
		t.Errorf("bookkeeping: %+v", r)
	}
	if !(r.EpochLoss[39] < r.EpochLoss[0]) {
		t.Errorf("loss did not fall: %v", r.EpochLoss)
	}
	if math.Abs(r.LR-30*32/256.0) > 1e-12 {
		t.Errorf("scaled lr %v, want %v", r.LR, 30*32/256.0)
	}
	// Deterministic for a seed.
	r2, err := LinearProbe(m, train, val, opts)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(r.EpochLoss, r2.EpochLoss) || r.ValAccuracy != r2.ValAccuracy {
		t.Errorf("same seed, different results: %v vs %v", r.EpochLoss, r2.EpochLoss)
	}
	if !m.All.BNs[0].Training {
		t.Error("model left in eval mode")
	}
}

func TestLinearProbeAugmentedRuns(t *testing.T) {
	m := tinyModel(t, 3)
	train, val := templates(64, 4, 16, 1), templates(32, 4, 16, 2)
	opts := LinearOptions{Epochs: 2, Batch: 16, LR: 30, Seed: 5, Workers: 2}
	r, err := LinearProbe(m, train, val, opts)
	if err != nil {
		t.Fatal(err)
	}
	if r.Cached || r.Steps != 8 || len(r.EpochLoss) != 2 {
		t.Errorf("bookkeeping: %+v", r)
	}
	for _, l := range r.EpochLoss {
		if math.IsNaN(l) || l <= 0 {
			t.Errorf("epoch losses %v", r.EpochLoss)
		}
	}
	opts.Workers = 1 // the augmentation does not depend on the worker count
	r2, err := LinearProbe(m, train, val, opts)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(r.EpochLoss, r2.EpochLoss) {
		t.Errorf("augmented probe not deterministic: %v vs %v", r.EpochLoss, r2.EpochLoss)
	}
}

func TestLinearProbeErrors(t *testing.T) {
	m := tinyModel(t, 3)
	train, val := templates(8, 2, 16, 1), templates(8, 2, 16, 2)
	other := templates(8, 2, 12, 2)
	for name, o := range map[string]LinearOptions{"negative epochs": {Epochs: -1}, "negative batch": {Batch: -2}, "NaN lr": {LR: math.NaN()}} {
		if _, err := LinearProbe(m, train, val, o); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if _, err := LinearProbe(m, train, nil, LinearOptions{}); err == nil {
		t.Error("nil val: no error")
	}
	if _, err := LinearProbe(m, train, other, LinearOptions{Epochs: 1}); err == nil {
		t.Error("mismatched image sizes: no error")
	}
}
