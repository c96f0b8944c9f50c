package eval

import (
	"math"
	"slices"
	"testing"
)

func TestFeaturesShapeAndDeterminism(t *testing.T) {
	m := tinyModel(t, 1)
	ds := templates(37, 3, 16, 1)
	f1, dim, labels, err := Features(m, ds, nil, 8) // batches of 8: the last one is short
	if err != nil {
		t.Fatal(err)
	}
	if dim != 32 || len(f1) != 37*dim || len(labels) != 37 {
		t.Fatalf("dim %d, %d values, %d labels; want 32, %d, 37", dim, len(f1), len(labels), 37*32)
	}
	if !slices.Equal(labels, ds.Labels) {
		t.Errorf("labels %v, want %v", labels, ds.Labels)
	}
	for i, v := range f1 {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			t.Fatalf("feature %d is %v", i, v)
		}
	}
	// Same result with another batch size (eval-mode BN: rows are independent) and
	// on a second call.
	f2, _, _, err := Features(m, ds, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i := range f1 {
		if d := math.Abs(float64(f1[i] - f2[i])); d > 1e-4*(1+math.Abs(float64(f1[i]))) {
			t.Fatalf("batch 8 vs 256 differ at %d: %v vs %v", i, f1[i], f2[i])
		}
	}
	f3, _, _, err := Features(m, ds, nil, 8)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(f1, f3) {
		t.Error("two calls with the same arguments differ")
	}
	// A selection gives the same rows as the full pass.
	idx := []int{5, 0, 36}
	fs, _, ls, err := Features(m, ds, idx, 2)
	if err != nil {
		t.Fatal(err)
	}
	for r, i := range idx {
		if ls[r] != ds.Labels[i] {
			t.Errorf("row %d label %d, want %d", r, ls[r], ds.Labels[i])
		}
		for j := 0; j < dim; j++ {
			if d := math.Abs(float64(fs[r*dim+j] - f1[i*dim+j])); d > 1e-4*(1+math.Abs(float64(f1[i*dim+j]))) {
				t.Fatalf("selected row %d (image %d) differs at %d", r, i, j)
			}
		}
	}
}

func TestFeaturesRestoresMode(t *testing.T) {
	m := tinyModel(t, 1)
	ds := templates(4, 2, 16, 1)
	m.All.BNs[0].Training = false // a mixed state must come back as it was
	if _, _, _, err := Features(m, ds, nil, 0); err != nil {
		t.Fatal(err)
	}
	if m.All.BNs[0].Training || !m.All.BNs[1].Training {
		t.Error("Features did not restore each BN layer's mode")
	}
}

func TestFeaturesErrors(t *testing.T) {
	m := tinyModel(t, 1)
	ds := templates(4, 2, 16, 1)
	for name, f := range map[string]func() error{
		"index out of range": func() error { _, _, _, err := Features(m, ds, []int{4}, 0); return err },
		"empty selection":    func() error { _, _, _, err := Features(m, ds, []int{}, 0); return err },
		"negative batch":     func() error { _, _, _, err := Features(m, ds, nil, -1); return err },
		"nil dataset":        func() error { _, _, _, err := Features(m, nil, nil, 0); return err },
	} {
		if f() == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
