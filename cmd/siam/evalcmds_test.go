package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/siam-ssl/siam/collapse"
	"github.com/siam-ssl/siam/data"
	"github.com/siam-ssl/siam/internal/jsonltest"
	"github.com/siam-ssl/siam/nn"
	"github.com/siam-ssl/siam/npy"
	"github.com/siam-ssl/siam/tensor"
	"github.com/siam-ssl/siam/train"
)

// The fixture: a 200/100-image IDX copy of part of the embedded set and a run
// trained on it for 5 steps at width 4, made once per test binary.
var (
	fixtureOnce sync.Once
	fixtureDir  string // holds data/ and run/
	fixtureErr  error
)

func fixture(t *testing.T) (runDir, dataDir string) {
	t.Helper()
	fixtureOnce.Do(func() {
		fixtureDir, fixtureErr = os.MkdirTemp("", "siam-evalcmds-")
		if fixtureErr != nil {
			return
		}
		fixtureErr = makeFixture(fixtureDir)
	})
	if fixtureErr != nil {
		t.Fatal(fixtureErr)
	}
	return filepath.Join(fixtureDir, "run"), filepath.Join(fixtureDir, "data")
}

func makeFixture(dir string) error {
	tr, te, err := data.Open("")
	if err != nil {
		return err
	}
	dd := filepath.Join(dir, "data")
	if err := os.MkdirAll(dd, 0o755); err != nil {
		return err
	}
	for _, s := range []struct {
		ds     *data.Dataset
		n      int
		prefix string
	}{{tr, 200, "train"}, {te, 100, "t10k"}} {
		idx := make([]int, s.n)
		for i := range idx {
			idx[i] = i * (s.ds.N / s.n)
		}
		sub, err := s.ds.Select(idx)
		if err != nil {
			return err
		}
		if err := data.WriteIDX(sub, filepath.Join(dd, s.prefix+"-images-idx3-ubyte"), filepath.Join(dd, s.prefix+"-labels-idx1-ubyte")); err != nil {
			return err
		}
	}
	c := train.DefaultConfig()
	c.Data, c.Width, c.Batch, c.Steps, c.LR, c.Workers = dd, 4, 16, 5, 0.5, 1
	c.CheckpointEvery, c.LogEvery = 0, 1
	_, err = train.Run(context.Background(), c, train.RunOptions{Dir: filepath.Join(dir, "run")})
	return err
}

func TestMain(m *testing.M) {
	// With SIAM_TEST_MAIN=1 the test binary is the siam command itself: the child
	// processes `siam sweep` starts (os.Executable) in the sweep tests.
	if os.Getenv("SIAM_TEST_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	code := m.Run()
	if fixtureDir != "" {
		os.RemoveAll(fixtureDir)
	}
	os.Exit(code)
}

// copyRun copies the fixture run folder so a test can append to its results.
func copyRun(t *testing.T) string {
	t.Helper()
	src, _ := fixture(t)
	dst := filepath.Join(t.TempDir(), "run")
	if err := os.MkdirAll(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{train.ConfigFile, train.CheckpointFile, train.MetricsFile} {
		b, err := os.ReadFile(filepath.Join(src, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// runCLI runs the commands in-process and returns stdout and the error.
func runCLI(args ...string) (string, error) {
	root := newRoot()
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs(args)
	err := root.Execute()
	return out.String(), err
}

// results reads RUN_DIR/results.jsonl (nil when absent).
func results(t *testing.T, dir string) []map[string]any {
	t.Helper()
	p := filepath.Join(dir, train.ResultsFile)
	if _, err := os.Stat(p); os.IsNotExist(err) {
		return nil
	}
	return jsonltest.Read(t, p)
}

// matrices writes the embedding files of the tests into dir.
func matrices(t *testing.T, dir string) map[string]string {
	t.Helper()
	x := collapse.RandomFeatures(50, 8, 1)
	p := map[string]string{}
	write := func(name string, b []byte) {
		p[name] = filepath.Join(dir, name)
		if err := os.WriteFile(p[name], b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if err := npy.WriteMatrix32(&buf, 50, 8, x); err != nil {
		t.Fatal(err)
	}
	write("good.npy", buf.Bytes())
	buf.Reset()
	if err := npy.WriteMatrix64(&buf, 1, 8, make([]float64, 8)); err != nil {
		t.Fatal(err)
	}
	write("onerow.npy", buf.Bytes())
	write("complex.npy", npyRaw("<c8", "(4, 2)", make([]byte, 64)))
	write("badheader.npy", []byte("\x93NUMPY\x01\x00\xff\x00{'descr': garbage"))
	var csv strings.Builder
	csv.WriteString("a,b,c\n")
	for i := 0; i < 30; i++ {
		csv.WriteString(jsonFloat(float64(i%7)) + "," + jsonFloat(float64(i*i%11)) + "," + jsonFloat(float64(i%3)) + "\n")
	}
	write("good.csv", []byte(csv.String()))
	write("nan.csv", []byte("1,2,3\n4,NaN,6\n7,8,9\n"))
	write("inf.csv", []byte("1,2,3\n4,5,Inf\n7,8,9\n"))
	write("ragged.csv", []byte("1,2,3\n4,5\n"))
	write("onerow.csv", []byte("1,2,3\n"))
	write("empty.csv", []byte(""))
	ts := tensor.New(20, 4)
	ts.Name = "feats"
	copy(ts.Data, collapse.RandomFeatures(20, 4, 2))
	other := tensor.New(3)
	other.Name = "other"
	p["good.safetensors"] = filepath.Join(dir, "good.safetensors")
	if err := nn.SaveTensors(p["good.safetensors"], []*tensor.Tensor{ts, other}, nil); err != nil {
		t.Fatal(err)
	}
	return p
}

func jsonFloat(v float64) string { b, _ := json.Marshal(v); return string(b) }

// npyRaw builds a version 1.0 .npy file with the given dtype and shape.
func npyRaw(descr, shape string, payload []byte) []byte {
	h := "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + shape + ", }"
	for (10+len(h)+1)%64 != 0 {
		h += " "
	}
	h += "\n"
	var b bytes.Buffer
	b.WriteString("\x93NUMPY\x01\x00")
	binary.Write(&b, binary.LittleEndian, uint16(len(h)))
	b.WriteString(h)
	b.Write(payload)
	return b.Bytes()
}

func TestCommandsSucceed(t *testing.T) {
	files := matrices(t, t.TempDir())
	plotDir := t.TempDir()
	tests := []struct {
		name     string
		args     []string        // RUN is replaced by a fresh copy of the fixture run
		out      []string        // substrings of stdout
		jsonKeys []string        // keys of every stdout line, when set
		record   map[string]bool // keys of the one results.jsonl line, when set
		files    []string        // files that must exist afterwards
	}{
		{name: "collapse checkpoint text", args: []string{"collapse", "--checkpoint", "RUN"},
			out:    []string{"AUC", "RankMe", "effective rank", "mean per-dim std", "sigma:", "below 0.001*sigma_1", "N=200, d=32"},
			record: keys("kind", "auc", "rankme", "effective_rank", "mean_dim_std", "singular_values", "n", "d", "step", "time")},
		{name: "collapse checkpoint json sample test split", args: []string{"collapse", "--checkpoint", "RUN", "--samples", "50", "--split", "test", "--json", "--method", "svd"},
			jsonKeys: []string{"name", "n", "d", "auc", "rankme", "singular_values", "explained_variance"},
			out:      []string{`"n":50`, `"method":"svd"`, `"split":"test"`},
			record:   keys("kind", "auc", "split", "samples")},
		{name: "collapse embeddings npy csv safetensors", args: []string{"collapse", "--embeddings", files["good.npy"] + "," + files["good.csv"], "--embeddings", files["good.safetensors"], "--tensor", "feats", "--json", "--normalize-rows", "--method", "cov64"},
			jsonKeys: []string{"name", "n", "d", "auc", "rankme", "singular_values", "explained_variance"},
			out:      []string{`"name":"good.npy"`, `"name":"good.csv"`, `"name":"good.safetensors"`, `"normalized_rows":true`, `"n":30`, `"d":4`}},
		{name: "collapse two inputs plotted", args: []string{"collapse", "--checkpoint", "RUN", "--embeddings", files["good.npy"], "--samples", "64", "--plot", filepath.Join(plotDir, "fig")},
			out:    []string{"run: step 5", "good.npy:"},
			record: keys("kind", "auc"),
			files:  []string{filepath.Join(plotDir, "fig-spectrum.svg"), filepath.Join(plotDir, "fig-spectrum.png"), filepath.Join(plotDir, "fig-explained.svg"), filepath.Join(plotDir, "fig-explained.png")}},
		{name: "eval knn", args: []string{"eval", "knn", "--checkpoint", "RUN", "--max-k", "20"},
			out:    []string{"best k", "weighted 200-NN", "200 training images as memory, 100 validation queries"},
			record: keys("kind", "accuracy", "best_k", "weighted_accuracy", "k_sweep", "time")},
		{name: "eval linear cached", args: []string{"eval", "linear", "--checkpoint", "RUN", "--epochs", "2", "--cached-features", "--batch", "64"},
			out:    []string{"linear probe, 2 epochs, cached features", "top-1 accuracy: validation"},
			record: keys("kind", "accuracy", "train_accuracy", "epochs", "cached", "time")},
		{name: "eval linear augmented", args: []string{"eval", "linear", "--checkpoint", "RUN", "--epochs", "1", "--quiet"},
			out:    []string{"augmented (RandomResizedCrop + flip)"},
			record: keys("kind", "accuracy", "train_accuracy", "epochs", "cached")},
		{name: "eval loss", args: []string{"eval", "loss", "--checkpoint", "RUN", "--samples", "40"},
			out:    []string{"simsiam loss", "over 40 images"},
			record: keys("kind", "val_loss", "time")},
		{name: "eval loss explicit data", args: []string{"eval", "loss", "--checkpoint", "RUN", "--data", "DATA", "--split", "train", "--samples", "16"},
			out:    []string{"train: simsiam loss"},
			record: keys("kind", "val_loss")},
		{name: "bench collapse", args: []string{"bench", "collapse", "--n", "300", "--d", "16", "--runs", "2"},
			jsonKeys: []string{"bench", "seconds", "n", "d"}},
		{name: "bench knn", args: []string{"bench", "knn", "--queries", "50", "--keys", "300", "--dim", "16", "--k", "20", "--runs", "1"},
			jsonKeys: []string{"bench", "seconds", "queries", "keys"}},
		{name: "bench augment", args: []string{"bench", "augment", "--duration", "50ms", "--batch", "32", "--workers", "1"},
			jsonKeys: []string{"gray28_pairs_per_s", "color32_pairs_per_s"}},
		{name: "bench embed", args: []string{"bench", "embed", "--width", "2", "--size", "8", "--batch", "4", "--batches", "2", "--warmup", "0"},
			jsonKeys: []string{"bench", "images_per_s", "batch_s_median", "feature_dim"}},
	}
	_, dataDir := fixture(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			run := copyRun(t)
			args := make([]string, len(tc.args))
			for i, a := range tc.args {
				args[i] = strings.NewReplacer("RUN", run, "DATA", dataDir).Replace(a)
			}
			out, err := runCLI(args...)
			if err != nil {
				t.Fatalf("%v: %v", args, err)
			}
			for _, s := range tc.out {
				if !strings.Contains(out, s) {
					t.Errorf("output lacks %q:\n%s", s, out)
				}
			}
			if tc.jsonKeys != nil {
				lines := strings.Split(strings.TrimSpace(out), "\n")
				for _, l := range lines {
					var o map[string]any
					if err := json.Unmarshal([]byte(l), &o); err != nil {
						t.Fatalf("not a JSON line: %q", l)
					}
					for _, k := range tc.jsonKeys {
						if _, ok := o[k]; !ok {
							t.Errorf("JSON line lacks %q: %s", k, l)
						}
					}
				}
			}
			recs := results(t, run)
			if tc.record == nil {
				if len(recs) != 0 {
					t.Errorf("unexpected results lines: %v", recs)
				}
			} else {
				if len(recs) != 1 {
					t.Fatalf("%d results lines, want 1", len(recs))
				}
				for k := range tc.record {
					if _, ok := recs[0][k]; !ok {
						t.Errorf("results line lacks %q: %v", k, recs[0])
					}
				}
			}
			for _, f := range tc.files {
				if st, err := os.Stat(f); err != nil || st.Size() == 0 {
					t.Errorf("file %s: %v", f, err)
				}
			}
		})
	}
}

func keys(ks ...string) map[string]bool {
	m := map[string]bool{}
	for _, k := range ks {
		m[k] = true
	}
	return m
}

func TestCollapseJSONValues(t *testing.T) {
	files := matrices(t, t.TempDir())
	out, err := runCLI("collapse", "--embeddings", files["good.npy"], "--json")
	if err != nil {
		t.Fatal(err)
	}
	var o struct {
		AUC       float64   `json:"auc"`
		RankMe    float64   `json:"rankme"`
		Sigma     []float64 `json:"singular_values"`
		Explained []float64 `json:"explained_variance"`
		N, D      int
	}
	if err := json.Unmarshal([]byte(out), &o); err != nil {
		t.Fatal(err)
	}
	want, err := collapse.Spectrum(collapse.RandomFeatures(50, 8, 1), 50, 8, collapse.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if o.N != 50 || o.D != 8 || len(o.Sigma) != 8 || len(o.Explained) != 8 || o.AUC != want.AUC || o.RankMe != want.RankMe {
		t.Errorf("got %+v, want AUC %v RankMe %v", o, want.AUC, want.RankMe)
	}
}

func TestCommandsFail(t *testing.T) {
	files := matrices(t, t.TempDir())
	missing := filepath.Join(t.TempDir(), "missing.npy")
	tests := []struct {
		name string
		args []string
		msg  string // substring of the error
	}{
		{"no input", []string{"collapse"}, "nothing to measure"},
		{"missing file", []string{"collapse", "--checkpoint", "RUN", "--embeddings", missing}, "missing.npy"},
		{"NaN in CSV", []string{"collapse", "--checkpoint", "RUN", "--embeddings", files["nan.csv"]}, "nan.csv"},
		{"Inf in CSV", []string{"collapse", "--embeddings", files["inf.csv"]}, "inf.csv"},
		{"ragged CSV", []string{"collapse", "--embeddings", files["ragged.csv"]}, "ragged.csv"},
		{"empty CSV", []string{"collapse", "--checkpoint", "RUN", "--embeddings", files["empty.csv"]}, "empty.csv"},
		{"N<2 CSV", []string{"collapse", "--checkpoint", "RUN", "--embeddings", files["onerow.csv"]}, "onerow.csv"},
		{"N<2 npy", []string{"collapse", "--embeddings", files["onerow.npy"]}, "onerow.npy"},
		{"wrong dtype npy", []string{"collapse", "--checkpoint", "RUN", "--embeddings", files["complex.npy"]}, "complex.npy"},
		{"unreadable npy header", []string{"collapse", "--checkpoint", "RUN", "--embeddings", files["badheader.npy"]}, "badheader.npy"},
		{"missing tensor", []string{"collapse", "--embeddings", files["good.safetensors"], "--tensor", "nope"}, "nope"},
		{"ambiguous tensor", []string{"collapse", "--embeddings", files["good.safetensors"]}, "good.safetensors"},
		{"bad method", []string{"collapse", "--embeddings", files["good.npy"], "--method", "qr"}, "--method"},
		{"bad split", []string{"collapse", "--checkpoint", "RUN", "--split", "dev"}, "--split"},
		{"checkpoint missing", []string{"collapse", "--checkpoint", filepath.Join(t.TempDir(), "norun")}, "no checkpoint"},
		{"eval without checkpoint", []string{"eval", "knn"}, "--checkpoint"},
		{"eval missing run", []string{"eval", "loss", "--checkpoint", filepath.Join(t.TempDir(), "norun")}, "no checkpoint"},
		{"eval bad data", []string{"eval", "knn", "--checkpoint", "RUN", "--data", filepath.Join(t.TempDir(), "nodata")}, "nodata"},
		{"eval linear bad epochs", []string{"eval", "linear", "--checkpoint", "RUN", "--epochs", "-1"}, "epochs"},
		{"bench bad size", []string{"bench", "collapse", "--n", "1"}, "--n"},
		{"bench embed bad width", []string{"bench", "embed", "--width", "0"}, "width>=1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			run := copyRun(t)
			args := make([]string, len(tc.args))
			for i, a := range tc.args {
				args[i] = strings.ReplaceAll(a, "RUN", run)
			}
			out, err := runCLI(args...)
			if err == nil {
				t.Fatalf("%v: no error; output:\n%s", args, out)
			}
			if !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("error %q does not mention %q", err, tc.msg)
			}
			if recs := results(t, run); len(recs) != 0 {
				t.Errorf("results.jsonl written despite the error: %v", recs)
			}
			if out != "" {
				t.Errorf("partial output despite the error: %q", out)
			}
		})
	}
}
