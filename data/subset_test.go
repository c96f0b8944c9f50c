package data

import (
	"slices"
	"testing"
)

func TestSubset(t *testing.T) {
	ds := synth(1000, 1, 4, 4)
	for _, tc := range []struct {
		frac float64
		want int
	}{{0.01, 10}, {0.05, 50}, {0.1, 100}, {0.5, 500}, {1, 1000}, {0.0001, 1}, {0.0125, 13}} {
		sub, err := Subset(ds, tc.frac, 7)
		if err != nil {
			t.Fatal(err)
		}
		if sub.N != tc.want {
			t.Errorf("fraction %v: %d images, want %d", tc.frac, sub.N, tc.want)
		}
		if err := sub.Validate(); err != nil {
			t.Fatal(err)
		}
	}
	a, _ := SubsetIndices(1000, 0.1, 7)
	b, _ := SubsetIndices(1000, 0.1, 7)
	c, _ := SubsetIndices(1000, 0.1, 8)
	if !slices.Equal(a, b) || slices.Equal(a, c) || !slices.IsSorted(a) {
		t.Fatal("subset indices not seeded, sorted and distinct per seed")
	}
	if len(slices.Compact(slices.Clone(a))) != len(a) {
		t.Fatal("duplicate indices")
	}
	for _, f := range []float64{0, -0.5, 1.5} {
		if _, err := Subset(ds, f, 1); err == nil {
			t.Errorf("fraction %v accepted", f)
		}
	}
}

func TestSelectAndStats(t *testing.T) {
	ds := &Dataset{Name: "s", N: 2, C: 1, H: 1, W: 2, Classes: 2, Pixels: []uint8{0, 255, 255, 255}, Labels: []int{0, 1}}
	sub, err := ds.Select([]int{1, 1, 0})
	if err != nil || sub.N != 3 || sub.Labels[0] != 1 || sub.Pixels[4] != 0 {
		t.Fatalf("select: %+v %v", sub, err)
	}
	if _, err := ds.Select([]int{2}); err == nil {
		t.Fatal("out-of-range select accepted")
	}
	mean, std := ds.ChannelStats()
	if d := mean[0] - 0.75; d > 1e-6 || d < -1e-6 {
		t.Fatalf("mean %v", mean)
	}
	if d := std[0] - 0.4330127; d > 1e-5 || d < -1e-5 {
		t.Fatalf("std %v", std)
	}
	if counts := ds.ClassCounts(); counts[0] != 1 || counts[1] != 1 {
		t.Fatal(counts)
	}
}
