package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPredictCommands(t *testing.T) {
	runs, _ := filepath.Glob("../../report/testdata/runs/*")
	if len(runs) < 5 {
		t.Fatalf("report testdata runs missing: %v", runs)
	}
	model := filepath.Join(t.TempDir(), "m.json")
	out, err := runCLI(append([]string{"predict", "fit", "--out", model}, runs...)...)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"R^2 joint", "leave-one-out mean absolute error", "loss alone", "model saved"} {
		if !strings.Contains(out, want) {
			t.Errorf("fit output lacks %q:\n%s", want, out)
		}
	}
	out, err = runCLI(append([]string{"predict", "rank", "--model", model}, runs...)...)
	if err != nil || !strings.Contains(out, " 1  ") || !strings.Contains(out, "r18-hybrid") {
		t.Fatalf("rank: %v\n%s", err, out)
	}
	bad := filepath.Join(t.TempDir(), "bad.json")
	os.WriteFile(bad, []byte(`{"kind":"loss+auc","loss_coef":"x"}`), 0o644)
	noLoss := t.TempDir()
	os.WriteFile(filepath.Join(noLoss, "metrics.jsonl"), []byte(`{"step":1,"loss":-0.5}`+"\n"), 0o644)
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"too few runs", append([]string{"predict", "fit"}, runs[:3]...), "4"},
		{"run without val loss", append([]string{"predict", "fit", noLoss}, runs...), "validation loss"},
		{"missing folder", []string{"predict", "fit", "/nonexistent/run"}, "nonexistent"},
		{"no model flag", append([]string{"predict", "rank"}, runs...), "--model"},
		{"bad model", append([]string{"predict", "rank", "--model", bad}, runs...), "bad.json"},
		{"bad accuracy kind", append([]string{"predict", "fit", "--accuracy", "top5"}, runs...), "top5"},
	}
	for _, c := range cases {
		if _, err := runCLI(c.args...); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one mentioning %q", c.name, err, c.want)
		}
	}
}
