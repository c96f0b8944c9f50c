package main

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/siam-ssl/siam/data"
	"github.com/siam-ssl/siam/train"
)

// copyWeights copies a fixture of testdata/torchpt into a fresh folder, so
// that the default results folder (beside the file) is a temporary one.
func copyWeights(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "torchpt", name))
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestWeightsOutDir(t *testing.T) {
	for in, want := range map[string]string{
		"ck/checkpoint_0099.pth.tar": "ck/checkpoint_0099.siam",
		"r50.pth":                    "r50.siam",
		"m.pt":                       "m.siam",
		"a/b.safetensors":            "a/b.siam",
		"weights":                    "weights.siam",
		".pth":                       ".pth.siam",
	} {
		if got := weightsOutDir(in); got != want {
			t.Errorf("weightsOutDir(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestCollapseAndEvalWeights measures PyTorch checkpoints from the command
// line: collapse, k-NN and the linear probe write records describing the
// model and its input convention to the results folder, which siam report reads.
func TestCollapseAndEvalWeights(t *testing.T) {
	_, dataDir := fixture(t)
	w := copyWeights(t, "simsiam_r50_w2.pth.tar")
	out, err := runCLI("collapse", "--weights", w, "--data", dataDir, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var o map[string]any
	if err := json.Unmarshal([]byte(out), &o); err != nil {
		t.Fatalf("%v: %q", err, out)
	}
	if o["source"] != "weights" || o["arch"] != "resnet50" || o["prefix"] != "state_dict.module.encoder." || o["d"] != 64.0 || o["n"] != 200.0 {
		t.Errorf("collapse JSON %v", o)
	}
	dir := filepath.Join(filepath.Dir(w), "simsiam_r50_w2.siam")
	if _, err := runCLI("eval", "knn", "--weights", w, "--data", dataDir, "--size", "32", "--max-k", "5"); err != nil {
		t.Fatal(err)
	}
	if _, err := runCLI("eval", "linear", "--weights", w, "--data", dataDir, "--cached-features", "--epochs", "2", "--quiet",
		"--mean", "0.5", "--std", "0.25"); err != nil {
		t.Fatal(err)
	}
	recs := results(t, dir)
	if len(recs) != 3 || recs[0]["kind"] != "collapse" || recs[1]["kind"] != "knn" || recs[2]["kind"] != "linear" {
		t.Fatalf("records %v", recs)
	}
	abs, _ := filepath.Abs(w)
	for i, r := range recs {
		if r["weights"] != abs || r["arch"] != "resnet50" || r["stem"] != "imagenet" || r["width"] != 2.0 || r["epoch"] != "100" {
			t.Errorf("record %d describes %v", i, r)
		}
		if _, ok := r["step"]; ok {
			t.Errorf("record %d has a training step", i)
		}
	}
	// Default input convention of a 3-channel ImageNet-stem model: ImageNet's statistics
	// (the gray images are repeated to three channels), the dataset's size.
	if got := floats(recs[0]["mean"]); !near(got, data.ImageNetMean) || recs[0]["size"] != 28.0 {
		t.Errorf("collapse: mean %v size %v, want ImageNet's at 28", got, recs[0]["size"])
	}
	if recs[1]["size"] != 32.0 || !near(floats(recs[2]["mean"]), []float32{0.5}) || !near(floats(recs[2]["std"]), []float32{0.25}) {
		t.Errorf("knn size %v, linear mean/std %v %v", recs[1]["size"], recs[2]["mean"], recs[2]["std"])
	}
	html := filepath.Join(t.TempDir(), "r.html")
	if _, err := runCLI("report", dir, "-o", html); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(html); !strings.Contains(string(b), "resnet50") {
		t.Error("report does not show the model's config")
	}
}

// TestWeightsMatchCheckpoint: siam's own checkpoint read with --weights
// (backbone.*, CIFAR stem, the dataset's statistics) measures exactly what
// --checkpoint measures.
func TestWeightsMatchCheckpoint(t *testing.T) {
	run := copyRun(t)
	_, dataDir := fixture(t)
	a, err := runCLI("collapse", "--checkpoint", run, "--json")
	if err != nil {
		t.Fatal(err)
	}
	b, err := runCLI("collapse", "--weights", filepath.Join(run, train.CheckpointFile), "--data", dataDir, "--json", "--out", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var ra, rb map[string]any
	if err := json.Unmarshal([]byte(a), &ra); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(b), &rb); err != nil {
		t.Fatal(err)
	}
	if rb["prefix"] != "backbone." || rb["stem"] != "cifar" || rb["in_channels"] != 1.0 {
		t.Errorf("weights read as %v", rb)
	}
	sa, sb := floats(ra["singular_values"]), floats(rb["singular_values"])
	if len(sa) != len(sb) || len(sa) == 0 {
		t.Fatalf("%d vs %d singular values", len(sa), len(sb))
	}
	for i := range sa {
		if math.Abs(float64(sa[i]-sb[i])) > 1e-4*float64(sa[0]) {
			t.Fatalf("sigma_%d: %v with --checkpoint, %v with --weights", i+1, sa[i], sb[i])
		}
	}
}

func TestWeightsErrors(t *testing.T) {
	run := copyRun(t)
	_, dataDir := fixture(t)
	w := copyWeights(t, "torchvision_r18_w4.pth")
	evil := copyWeights(t, "evil_global_os_system.pth")
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"eval", "knn"}, "give --checkpoint RUN_DIR or --weights FILE"},
		{[]string{"eval", "knn", "--checkpoint", run, "--weights", w}, "not both"},
		{[]string{"eval", "knn", "--weights", evil}, "os.system"},
		{[]string{"collapse", "--weights", w, "--arch", "resnet34", "--data", dataDir}, "do not fit resnet34"},
		{[]string{"collapse", "--weights", w, "--mean", "0.5", "--data", dataDir}, "--mean and --std go together"},
		{[]string{"collapse", "--weights", w, "--mean", "0.5,0.5", "--std", "1,1", "--data", dataDir}, "2 normalisation values"},
		{[]string{"collapse", "--weights", w, "--size", "-1", "--data", dataDir}, "--size -1"},
		{[]string{"collapse", "--weights", w, "--stem", "vit", "--data", dataDir}, `stem "vit"`},
		{[]string{"collapse", "--weights", w, "--prefix", "module.encoder.", "--data", dataDir}, `--prefix "module.encoder."`},
		{[]string{"collapse", "--weights", w, "--weights", w, "--out", t.TempDir()}, "--out names one folder"},
		{[]string{"collapse", "--weights", filepath.Join(run, train.MetricsFile)}, "not a PyTorch checkpoint"},
	}
	for _, tc := range cases {
		_, err := runCLI(tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %v, want %q", tc.args, err, tc.want)
		}
	}
}

func floats(v any) []float32 {
	xs, _ := v.([]any)
	out := make([]float32, len(xs))
	for i, x := range xs {
		f, _ := x.(float64)
		out[i] = float32(f)
	}
	return out
}

func near(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Abs(float64(a[i]-b[i])) > 1e-6 {
			return false
		}
	}
	return true
}

// TestEmbedWeights exports the features of a PyTorch checkpoint with siam
// embed; collapse of that file gives the AUC collapse --weights gives.
func TestEmbedWeights(t *testing.T) {
	_, dataDir := fixture(t)
	w := copyWeights(t, "torchvision_r18_w4.pth")
	feats := filepath.Join(t.TempDir(), "f.npy")
	if _, err := runCLI("embed", "--weights", w, "--data", dataDir, "--out", feats); err != nil {
		t.Fatal(err)
	}
	auc := func(args ...string) float64 {
		out, err := runCLI(append([]string{"collapse", "--json"}, args...)...)
		if err != nil {
			t.Fatal(err)
		}
		var o map[string]any
		if err := json.Unmarshal([]byte(out), &o); err != nil {
			t.Fatalf("%v: %q", err, out)
		}
		return o["auc"].(float64)
	}
	a, b := auc("--embeddings", feats), auc("--weights", w, "--data", dataDir)
	if a != b {
		t.Fatalf("AUC of the embedded file %v, of --weights %v", a, b)
	}
}
