package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDemoChecksEveryRunFirst: a setting that one of the demo's orderings cannot
// use fails before the first run trains, and leaves no folder.
func TestDemoChecksEveryRunFirst(t *testing.T) {
	out := filepath.Join(t.TempDir(), "demo")
	_, err := runCLI("demo", "--steps", "3", "--orders", "multi,hybrid", "--out", out)
	if err == nil || !strings.Contains(err.Error(), "hybrid") || !strings.Contains(err.Error(), "steps >= chunks") {
		t.Fatalf("want the hybrid run's ordering error, got %v", err)
	}
	if _, statErr := os.Stat(out); !os.IsNotExist(statErr) {
		t.Fatalf("the failed demo left %s behind", out)
	}
}

// TestDemoEffect: the effect line says "measured" only beyond twice the standard
// error, and asks for seeds when there is no spread.
func TestDemoEffect(t *testing.T) {
	for _, tc := range []struct {
		name string
		rs   []demoResult
		want string
	}{
		{"clear", []demoResult{{order: "multi", auc: 0.804, knn: 0.6}, {order: "multi", auc: 0.806, knn: 0.61}, {order: "single", auc: 0.790, knn: 0.6}, {order: "single", auc: 0.792, knn: 0.61}},
			"Effect: AUC multi − single = +0.0140 ± 0.0014 — larger than twice its standard error"},
		{"spread", []demoResult{{order: "multi", auc: 0.80}, {order: "multi", auc: 0.81}, {order: "single", auc: 0.80}, {order: "single", auc: 0.805}},
			"NOT larger than twice its standard error"},
		{"one seed", []demoResult{{order: "multi", auc: 0.80}, {order: "single", auc: 0.79}}, "needs 2 or more seeds"},
	} {
		if got := demoEffect(tc.rs); !strings.Contains(got, tc.want) {
			t.Errorf("%s: want %q in:\n%s", tc.name, tc.want, got)
		}
	}
}
