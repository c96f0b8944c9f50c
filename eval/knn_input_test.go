package eval

import (
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
)

// TestKNNLabelBound: the class count comes from the labels, so a stray huge label
// must be one clear error (it used to size the vote tables: gigabytes, or a
// makeslice panic in a worker).
func TestKNNLabelBound(t *testing.T) {
	keys := RandomUnitVectors(40, 8, 1)
	q := RandomUnitVectors(5, 8, 2)
	kl := make([]int, 40)
	for i := range kl {
		kl[i] = i % 3
	}
	ql := []int{0, 1, 2, 0, 1}
	huge := func(v, row int) []int { l := slices.Clone(kl); l[row] = v; return l }
	tests := []struct {
		name       string
		keyLabels  []int
		queryLabel []int
		nc         int
		want       string
	}{
		{"max int key label", huge(math.MaxInt-1, 17), ql, 0, "key label"},
		{"label beyond the class limit", huge(MaxClasses, 3), ql, 0, "MaxClasses"},
		{"huge query label", kl, []int{0, 1, 5_000_000, 0, 1}, 0, "query label 5000000 at row 2"},
		{"negative key label", huge(-4, 9), ql, 0, "key label -4 at row 9"},
		{"NumClasses beyond the limit", kl, ql, MaxClasses + 1, "MaxClasses"},
		{"label >= NumClasses", kl, []int{0, 1, 3, 0, 1}, 3, "outside [0, 3)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := KNN(keys, tc.keyLabels, q, tc.queryLabel, 8, KNNOptions{NumClasses: tc.nc})
			if !errors.Is(err, ErrKNN) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want ErrKNN mentioning %q", err, tc.want)
			}
			t.Log(err)
		})
	}
	// The largest allowed label works.
	l := huge(MaxClasses-1, 0)
	if _, err := KNN(keys, l, q, ql, 8, KNNOptions{}); err != nil {
		t.Fatalf("label MaxClasses-1: %v", err)
	}
}

// TestKNNInPlaceUntouchedOnError: with InPlace, a bad row anywhere in either set
// must leave both of the caller's slices exactly as they were (they used to be
// partly normalised: every row before the bad one, and all keys when the bad row
// was a query).
func TestKNNInPlaceUntouchedOnError(t *testing.T) {
	const nk, nq, dim = 3000, 500, 8
	scaled := func(x []float32) []float32 {
		for i := range x {
			x[i] *= 3 // not unit rows, so normalising would show
		}
		return x
	}
	kl, ql := make([]int, nk), make([]int, nq)
	tests := []struct {
		name           string
		badSet         string
		badRow, badCol int
		val            float32
	}{
		{"NaN in the last key row", "keys", nk - 1, 3, float32(math.NaN())},
		{"Inf in a middle key row", "keys", nk / 2, 0, float32(math.Inf(1))},
		{"NaN in the last query row", "queries", nq - 1, 7, float32(math.NaN())},
		{"Inf in the first query row", "queries", 0, 2, float32(math.Inf(-1))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			keys, q := scaled(RandomUnitVectors(nk, dim, 3)), scaled(RandomUnitVectors(nq, dim, 4))
			bad := keys
			if tc.badSet == "queries" {
				bad = q
			}
			bad[tc.badRow*dim+tc.badCol] = tc.val
			k0, q0 := slices.Clone(keys), slices.Clone(q)
			_, err := KNN(keys, kl, q, ql, dim, KNNOptions{InPlace: true})
			if !errors.Is(err, ErrKNN) || !strings.Contains(err.Error(), tc.badSet) {
				t.Fatalf("err = %v, want ErrKNN naming %s", err, tc.badSet)
			}
			t.Log(err)
			same := func(a, b []float32) bool {
				for i := range a {
					if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
						return false
					}
				}
				return true
			}
			if !same(keys, k0) || !same(q, q0) {
				t.Fatal("the caller's slices were changed by a failed call")
			}
		})
	}
	// NormalizeRows alone: all or nothing, and it names the first bad row.
	x := scaled(RandomUnitVectors(2000, 4, 5))
	x[1999*4] = float32(math.NaN())
	x[1500*4+1] = float32(math.NaN())
	x0 := slices.Clone(x)
	err := NormalizeRows(x, 4)
	if err == nil || !strings.Contains(err.Error(), "row 1500") {
		t.Fatalf("err = %v, want one naming row 1500", err)
	}
	for i := range x {
		if math.Float32bits(x[i]) != math.Float32bits(x0[i]) {
			t.Fatalf("NormalizeRows changed x[%d] before failing", i)
		}
	}
}

// TestNormalizeSubnormalRows: a row of subnormal values has a norm whose inverse
// does not fit a float32; it must still come out a unit row (it used to become
// Inf and NaN).
func TestNormalizeSubnormalRows(t *testing.T) {
	tiny := math.Float32frombits(1) // 1.4e-45
	x := []float32{tiny, 0, 3 * tiny, 4 * tiny, 1, 0}
	if err := NormalizeRows(x, 2); err != nil {
		t.Fatal(err)
	}
	want := []float32{1, 0, 0.6, 0.8, 1, 0}
	for i := range x {
		if math.Abs(float64(x[i]-want[i])) > 1e-6 {
			t.Fatalf("normalised %v, want %v", x, want)
		}
	}
}
