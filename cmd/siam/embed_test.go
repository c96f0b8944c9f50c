package main

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/siam-ssl/siam/data"
	"github.com/siam-ssl/siam/npy"
	"github.com/siam-ssl/siam/safetensors"
	"github.com/siam-ssl/siam/train"
)

// collapseJSON runs `siam collapse ARGS --json` and decodes its one output object.
func collapseJSON(t *testing.T, args ...string) map[string]any {
	t.Helper()
	out, err := runCLI(append([]string{"collapse", "--json"}, args...)...)
	if err != nil {
		t.Fatalf("collapse %v: %v", args, err)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatalf("%q: %v", out, err)
	}
	return m
}

// TestEmbedThenCollapse: `siam collapse --embeddings` on the file `siam embed`
// writes gives exactly the numbers of `siam collapse --checkpoint` on the run,
// for .npy and .safetensors, whole splits and samples; labels come along.
func TestEmbedThenCollapse(t *testing.T) {
	run := copyRun(t)
	_, dataDir := fixture(t)
	tr, te, err := data.Open(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, file string
		args       []string
		ds         *data.Dataset
		rows       int
	}{
		{"train split to npy", "train.npy", []string{"--split", "train"}, tr, 200},
		{"test sample to safetensors", "test.safetensors", []string{"--split", "test", "--samples", "60", "--seed", "3"}, te, 60},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), tc.file)
			msg, err := runCLI(append([]string{"embed", "--checkpoint", run, "--out", out}, tc.args...)...)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(msg, "x 32 features") {
				t.Errorf("message %q", msg)
			}
			var feats []float32
			var labels []int64
			if strings.HasSuffix(out, ".npy") {
				a, err := npy.ReadFile(out)
				if err != nil {
					t.Fatal(err)
				}
				l, err := npy.ReadFile(strings.TrimSuffix(out, ".npy") + ".labels.npy")
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(a.Shape, []int{tc.rows, 32}) || !slices.Equal(l.Shape, []int{tc.rows}) {
					t.Fatalf("shapes %v and %v", a.Shape, l.Shape)
				}
				feats, labels = a.F32, l.I64
			} else {
				f, err := safetensors.ReadFile(out)
				if err != nil {
					t.Fatal(err)
				}
				x, _ := f.Get("features")
				l, _ := f.Get("labels")
				if x == nil || l == nil || !slices.Equal(x.Shape, []int{tc.rows, 32}) || l.DType != safetensors.I64 {
					t.Fatalf("tensors %v", f.Names())
				}
				if f.Metadata["split"] != "test" || f.Metadata["samples"] != "60" || f.Metadata[train.MetaInputChannels] != "1" {
					t.Errorf("metadata %v", f.Metadata)
				}
				feats, labels = x.F32, l.I64
			}
			if len(feats) != tc.rows*32 {
				t.Fatalf("%d feature values", len(feats))
			}
			// Labels are the dataset's: the whole split in order, or a sample of it.
			if tc.rows == tc.ds.N {
				for i, l := range labels {
					if int(l) != tc.ds.Labels[i] {
						t.Fatalf("label %d = %d, dataset %d", i, l, tc.ds.Labels[i])
					}
				}
			}
			fromFile := collapseJSON(t, "--embeddings", out)
			fromRun := collapseJSON(t, append([]string{"--checkpoint", run}, tc.args...)...)
			for _, k := range []string{"auc", "rankme", "effective_rank", "mean_dim_std", "n", "d"} {
				if fromFile[k] != fromRun[k] {
					t.Errorf("%s: embeddings %v, checkpoint %v", k, fromFile[k], fromRun[k])
				}
			}
			a, b := fromFile["singular_values"].([]any), fromRun["singular_values"].([]any)
			if !slices.Equal(a, b) {
				t.Errorf("singular values differ:\n%v\n%v", a, b)
			}
		})
	}
}

func TestEmbedErrors(t *testing.T) {
	run, _ := fixture(t)
	dir := t.TempDir()
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"embed", "--out", filepath.Join(dir, "x.npy")}, "--checkpoint"},
		{[]string{"embed", "--checkpoint", run}, "--out"},
		{[]string{"embed", "--checkpoint", run, "--out", filepath.Join(dir, "x.txt")}, ".npy or .safetensors"},
		{[]string{"embed", "--checkpoint", run, "--out", filepath.Join(dir, "x.npy"), "--split", "val"}, `--split "val"`},
		{[]string{"embed", "--checkpoint", run, "--out", filepath.Join(dir, "x.npy"), "--samples", "-1"}, "--samples"},
		{[]string{"embed", "--checkpoint", filepath.Join(dir, "nowhere"), "--out", filepath.Join(dir, "x.npy")}, "no checkpoint"},
		{[]string{"embed", "--checkpoint", run, "--out", filepath.Join(dir, "missing", "x.npy")}, "missing"},
	}
	for _, tc := range tests {
		_, err := runCLI(tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %v, want one mentioning %q", tc.args, err, tc.want)
		}
	}
}
