package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/siam-ssl/siam/sweep"
)

// sweepFile writes a sweep file over the fixture dataset: 2 orderings x 2 seeds,
// width 4, 20 steps.
func sweepFile(t *testing.T, dataDir, extra string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "tiny.yaml")
	src := fmt.Sprintf(`name: tiny
base: {data: %q, width: 4, batch: 16, steps: 20, lr: 0.5, chunks: 4, checkpoint_every: 5, workers: 1%s}
grid:
  order: [multi, single]
  seed: [1, 2]
eval: [collapse, knn, loss]
`, dataDir, extra)
	if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestSweepCommands(t *testing.T) {
	_, dataDir := fixture(t)
	t.Setenv("SIAM_TEST_MAIN", "1") // the run processes are this test binary running main
	file := sweepFile(t, dataDir, "")
	dir := filepath.Join(t.TempDir(), "sweep")
	out, err := runCLI("sweep", file, "--out", dir, "--shard", "0/2")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "shard 0/2: 2 runs; 2 finished now") {
		t.Errorf("shard 0 output:\n%s", out)
	}
	out, err = runCLI("sweep", file, "--out", dir, "--shard", "1/2", "--parallel", "2")
	if err != nil || !strings.Contains(out, "shard 1/2: 2 runs; 2 finished now") {
		t.Fatalf("shard 1: %v\n%s", err, out)
	}
	out, err = runCLI("sweep", "status", dir)
	if err != nil || !strings.Contains(out, "4 runs: 4 finished, 0 running, 0 waiting, 0 failed") || !strings.Contains(out, "order=single,seed=2") {
		t.Fatalf("status: %v\n%s", err, out)
	}
	out, err = runCLI("sweep", file, "--out", dir)
	if err != nil || !strings.Contains(out, "0 finished now, 4 were finished") {
		t.Fatalf("second invocation: %v\n%s", err, out)
	}
	md := filepath.Join(t.TempDir(), "tiny.md")
	html := filepath.Join(t.TempDir(), "tiny.html")
	out, err = runCLI("report", dir, "--markdown", md, "--out", html)
	if err != nil || !strings.Contains(out, "order=multi") || !strings.Contains(out, "± ") {
		t.Fatalf("report: %v\n%s", err, out)
	}
	for _, f := range []string{md, html, strings.TrimSuffix(md, ".md") + ".json", filepath.Join(strings.TrimSuffix(md, ".md"), "knn.svg")} {
		if st, err := os.Stat(f); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
	out, err = runCLI("sweep", "status", dir, "--json")
	if err != nil || strings.Count(out, `"state":"finished"`) != 4 {
		t.Fatalf("status --json: %v\n%s", err, out)
	}
	// A second sweep folder of the same file with one run left out: the summary
	// line gives the compute left at the finished runs' cost, and the total.
	other := filepath.Join(t.TempDir(), "other")
	if out, err := runCLI("sweep", file, "--out", other, "--shard", "0/4"); err != nil {
		t.Fatalf("other: %v\n%s", err, out)
	}
	out, err = runCLI("sweep", "status", dir, other)
	if err != nil || !strings.Contains(out, "4 runs: 1 finished, 0 running, 3 waiting, 0 failed; about ") ||
		!strings.Contains(out, "core-hours left") || !strings.Contains(out, "all 2 sweeps: 8 runs: 5 finished") {
		t.Fatalf("status of two folders: %v\n%s", err, out)
	}
}

// TestSweepBadInput: every bad input is one error line, and nothing is written.
func TestSweepBadInput(t *testing.T) {
	_, dataDir := fixture(t)
	good := sweepFile(t, dataDir, "")
	write := func(src string) string {
		p := filepath.Join(t.TempDir(), "bad.yaml")
		os.WriteFile(p, []byte(src), 0o644)
		return p
	}
	// A folder that holds another sweep.
	other := filepath.Join(t.TempDir(), "other")
	s, err := sweep.Parse([]byte("base: {width: 4, steps: 30}\ngrid: {seed: [1, 2]}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := sweep.Init(other, s, "other.yaml"); err != nil {
		t.Fatal(err)
	}
	record, _ := os.ReadFile(filepath.Join(other, sweep.RecordFile))
	foreign := t.TempDir()
	os.WriteFile(filepath.Join(foreign, "notes.txt"), []byte("mine"), 0o644)
	tests := []struct {
		name string
		args []string // OUT is a fresh folder path
		msg  string
	}{
		{"unknown config key", []string{"sweep", write("base: {width: 4, widht: 8}\ngrid: {seed: [1]}\n"), "--out", "OUT"}, `line 1: base: unknown config key "widht"`},
		{"unknown axis", []string{"sweep", write("grid:\n  seed: [1]\n  colour: [red]\n"), "--out", "OUT"}, `line 3: grid axis "colour" is not a config key`},
		{"empty grid", []string{"sweep", write("base: {width: 4}\ngrid: {}\n"), "--out", "OUT"}, "grid is empty"},
		{"invalid run", []string{"sweep", write("grid: {width: [4, 0]}\n"), "--out", "OUT"}, "run width=0"},
		{"missing dataset", []string{"sweep", write("base: {data: /nonexistent/data}\ngrid: {seed: [1]}\n"), "--out", "OUT"}, "/nonexistent/data"},
		{"shard 3/2", []string{"sweep", good, "--out", "OUT", "--shard", "3/2"}, "--shard"},
		{"shard 0/0", []string{"sweep", good, "--out", "OUT", "--shard", "0/0"}, "--shard"},
		{"shard -1/2", []string{"sweep", good, "--out", "OUT", "--shard=-1/2"}, "--shard"},
		{"shard junk", []string{"sweep", good, "--out", "OUT", "--shard", "junk"}, "--shard"},
		{"shard from an unset variable", []string{"sweep", good, "--out", "OUT", "--shard", "/"}, "is the environment variable set"},
		{"parallel 0", []string{"sweep", good, "--out", "OUT", "--parallel", "0"}, "--parallel"},
		{"no out", []string{"sweep", good}, "--out"},
		{"missing file", []string{"sweep", filepath.Join(t.TempDir(), "nope.yaml"), "--out", "OUT"}, "nope.yaml"},
		{"folder of another sweep", []string{"sweep", good, "--out", other}, "holds another sweep"},
		{"foreign folder", []string{"sweep", good, "--out", foreign}, "not a sweep folder"},
		{"status of a non-sweep folder", []string{"sweep", "status", foreign}, "not a sweep folder"},
		{"markdown of run folders", []string{"report", foreign, "--markdown", "x.md"}, "--markdown needs a sweep folder"},
		{"run-folder flag on a sweep", []string{"report", other, "--sections", "summary", "--out", "OUT"}, "--sections applies to run folders"},
		{"sweep among run folders", []string{"report", foreign, other, "--out", "OUT"}, "is a sweep folder"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			outDir := filepath.Join(t.TempDir(), "out")
			args := make([]string, len(tc.args))
			for i, a := range tc.args {
				args[i] = strings.ReplaceAll(a, "OUT", outDir)
			}
			out, err := runCLI(args...)
			if err == nil {
				t.Fatalf("%v: no error; output:\n%s", args, out)
			}
			if !strings.Contains(err.Error(), tc.msg) || strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q: want one line mentioning %q", err, tc.msg)
			}
			if _, err := os.Stat(outDir); err == nil {
				t.Errorf("%s was created", outDir)
			}
		})
	}
	if after, _ := os.ReadFile(filepath.Join(other, sweep.RecordFile)); string(after) != string(record) {
		t.Error("the other sweep's record changed")
	}
	if entries, _ := os.ReadDir(other); len(entries) != 1 {
		t.Errorf("runs created in the other sweep's folder: %v", entries)
	}
	if entries, _ := os.ReadDir(foreign); len(entries) != 1 {
		t.Errorf("files added to the foreign folder: %v", entries)
	}
}

// TestSweepFindings: the verdict table of a study with no sweep started yet lists
// all six findings as pending and writes the files it is asked for.
func TestSweepFindings(t *testing.T) {
	dir := t.TempDir()
	md, js := filepath.Join(dir, "f.md"), filepath.Join(dir, "f.json")
	out, err := runCLI("sweep", "findings", dir, "--markdown", md, "--json", js)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	b, err := os.ReadFile(md)
	if err != nil || strings.Count(string(b), "pending (n = 0)") != 6 {
		t.Fatalf("markdown: %v\n%s", err, b)
	}
	if st, err := os.Stat(js); err != nil || st.Size() == 0 {
		t.Fatalf("json: %v", err)
	}
	if _, err := runCLI("sweep", "findings"); err == nil {
		t.Fatal("no folder: no error")
	}
}
