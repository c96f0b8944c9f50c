package eval

import (
	"math"
	"slices"
	"testing"
)

func TestValLossFiniteAndDeterministic(t *testing.T) {
	m := tinyModel(t, 4)
	ds := templates(50, 5, 16, 3)
	r, err := ValLoss(m, ds, LossOptions{Batch: 16, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	if math.IsNaN(r.Loss) || r.Loss < -1 || r.Loss > 1 || r.Images != 50 || r.Seed != DefaultLossSeed {
		t.Fatalf("result %+v", r)
	}
	// Eval-mode BN: neither the batch size nor the worker count changes the loss.
	r2, err := ValLoss(m, ds, LossOptions{Batch: 7, Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(r.Loss-r2.Loss) > 1e-5 {
		t.Errorf("batch 16: %v, batch 7: %v", r.Loss, r2.Loss)
	}
	// Another seed gives other views, hence (slightly) another loss.
	r3, err := ValLoss(m, ds, LossOptions{Seed: 99})
	if err != nil {
		t.Fatal(err)
	}
	if r3.Loss == r.Loss {
		t.Errorf("seed has no effect: %v", r.Loss)
	}
	// A sample.
	r4, err := ValLoss(m, ds, LossOptions{Samples: 10})
	if err != nil {
		t.Fatal(err)
	}
	if r4.Images != 10 {
		t.Errorf("sample of %d images, want 10", r4.Images)
	}
	if !m.All.BNs[0].Training {
		t.Error("model left in eval mode")
	}
}

func TestSampleIndices(t *testing.T) {
	a, b := SampleIndices(100, 10, 3), SampleIndices(100, 10, 3)
	if len(a) != 10 || !slices.Equal(a, b) || !slices.IsSorted(a) {
		t.Errorf("%v vs %v", a, b)
	}
	if c := SampleIndices(5, 10, 3); !slices.Equal(c, []int{0, 1, 2, 3, 4}) {
		t.Errorf("k > n: %v", c)
	}
	if slices.Equal(a, SampleIndices(100, 10, 4)) {
		t.Error("seed has no effect")
	}
}
