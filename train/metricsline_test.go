package train

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/siam-ssl/siam/ssl"
	"github.com/siam-ssl/siam/tbevent/tbeventtest"
)

// TestMetricsMarshalNonFinite: a NaN or Inf in images_per_s or a monitored value
// must not lose the line (json.Marshal used to fail and an empty line was
// written): the field is written as null and its value named in "nonfinite".
func TestMetricsMarshalNonFinite(t *testing.T) {
	tests := []struct {
		name      string
		m         Metrics
		nulls     []string
		nonfinite map[string]string
	}{
		{"finite", Metrics{Step: 3, Loss: -0.5, LR: 0.1, ImagesPerS: 200, Extra: map[string]float64{"auc": 0.7}}, nil, nil},
		{"Inf images/s", Metrics{Step: 4, Loss: -0.5, ImagesPerS: math.Inf(1)}, []string{"images_per_s"}, map[string]string{"images_per_s": "+Inf"}},
		{"NaN and -Inf monitor values", Metrics{Step: 5, Loss: -0.6, ImagesPerS: 10,
			Extra: map[string]float64{"auc": math.NaN(), "knn_acc": math.Inf(-1), "rankme": 4}},
			[]string{"auc", "knn_acc"}, map[string]string{"auc": "NaN", "knn_acc": "-Inf"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := json.Marshal(tc.m)
			if err != nil {
				t.Fatalf("marshal: %v", err)
			}
			var got map[string]any
			if err := json.Unmarshal(b, &got); err != nil {
				t.Fatalf("%s: %v", b, err)
			}
			if got["step"] != float64(tc.m.Step) || got["loss"] != tc.m.Loss {
				t.Errorf("step/loss lost: %s", b)
			}
			for _, k := range tc.nulls {
				if v, ok := got[k]; !ok || v != nil {
					t.Errorf("%s: want the field kept as null, got %v (%s)", k, v, b)
				}
			}
			nf, _ := got["nonfinite"].(map[string]any)
			if len(nf) != len(tc.nonfinite) {
				t.Errorf("nonfinite = %v, want %v", got["nonfinite"], tc.nonfinite)
			}
			for k, v := range tc.nonfinite {
				if nf[k] != v {
					t.Errorf("nonfinite[%s] = %v, want %s", k, nf[k], v)
				}
			}
			if tc.nonfinite == nil && got["auc"] != nil && got["auc"] != tc.m.Extra["auc"] {
				t.Errorf("auc %v, want %v", got["auc"], tc.m.Extra["auc"])
			}
		})
	}
}

// TestRunKeepsNonFiniteMonitorLines: a monitor that reports NaN must leave a full
// metrics line, not an empty one.
func TestRunKeepsNonFiniteMonitorLines(t *testing.T) {
	c := tinyConfig()
	c.Steps, c.LogEvery, c.MonitorEvery, c.CheckpointEvery = 4, 1, 2, 0
	dir := filepath.Join(t.TempDir(), "run")
	mon := func(step int, _ ssl.Method) (map[string]float64, []float64, error) {
		return map[string]float64{"auc": math.NaN(), "rankme": 2.5}, []float64{2, 1}, nil
	}
	if _, err := Run(context.Background(), c, RunOptions{Dir: dir, Monitor: mon}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, MetricsFile))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(lines) != 4 {
		t.Fatalf("%d lines, want 4:\n%s", len(lines), b)
	}
	for i, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("line %d %q: %v", i+1, l, err)
		}
		if m["step"] != float64(i+1) {
			t.Errorf("line %d: step %v", i+1, m["step"])
		}
		if (i+1)%2 == 0 {
			nf, _ := m["nonfinite"].(map[string]any)
			if v, ok := m["auc"]; !ok || v != nil || nf["auc"] != "NaN" || m["rankme"] != 2.5 {
				t.Errorf("monitored line %d: %s", i+1, l)
			}
		}
	}
	// TensorBoard gets the NaN as it is.
	files, _ := filepath.Glob(filepath.Join(dir, TensorBoardDir, "events.out.tfevents.*"))
	if len(files) != 1 {
		t.Fatalf("event files %v", files)
	}
	evs, err := tbeventtest.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	var nan int
	for _, e := range evs {
		if v, ok := e.Scalars["monitor/auc"]; ok && v != v {
			nan++
		}
	}
	if nan != 2 {
		t.Errorf("%d NaN AUC scalars in TensorBoard, want 2", nan)
	}
}

// TestTruncateMetricsLongLine: a resume must keep every line up to the checkpoint
// step, however long (a bufio.Scanner limit used to cut the file silently there).
func TestTruncateMetricsLongLine(t *testing.T) {
	dir := t.TempDir()
	long := `{"step":2,"loss":-0.5,"pad":"` + strings.Repeat("x", 1<<26+100) + `"}`
	content := `{"step":1,"loss":-0.1}` + "\n" + long + "\n" + `{"step":3,"loss":-0.7}` + "\n"
	if err := os.WriteFile(filepath.Join(dir, MetricsFile), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := truncateMetrics(dir, 2, io.Discard); err != nil {
		t.Logf("error: %v", err) // an error is acceptable; silent loss is not
		b, _ := os.ReadFile(filepath.Join(dir, MetricsFile))
		if string(b) != content {
			t.Fatal("failed, but changed the file")
		}
		return
	}
	b, err := os.ReadFile(filepath.Join(dir, MetricsFile))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"step":1,"loss":-0.1}` + "\n" + long + "\n"
	if !bytes.Equal(b, []byte(want)) {
		t.Fatalf("kept %d bytes, want %d (the first two lines)", len(b), len(want))
	}
}

// TestTruncateMetricsOddLines: blank lines go, a torn last line goes with a
// warning, an unreadable middle line stays with a warning; nothing silently.
func TestTruncateMetricsOddLines(t *testing.T) {
	tests := []struct {
		name, in, want, warn string
	}{
		{"drops later steps", "{\"step\":1}\n{\"step\":2}\n{\"step\":3}\n", "{\"step\":1}\n{\"step\":2}\n", ""},
		{"blank lines", "{\"step\":1}\n\n  \n{\"step\":2}\n", "{\"step\":1}\n{\"step\":2}\n", ""},
		{"torn last line", "{\"step\":1}\n{\"step\":2,\"lo", "{\"step\":1}\n", "incomplete last line"},
		{"unreadable middle line", "{\"step\":1}\ngarbage\n{\"step\":2}\n", "{\"step\":1}\ngarbage\n{\"step\":2}\n", ":2: no readable step"},
		{"no newline at the end", "{\"step\":1}\n{\"step\":2}", "{\"step\":1}\n{\"step\":2}\n", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			os.WriteFile(filepath.Join(dir, MetricsFile), []byte(tc.in), 0o644)
			var log bytes.Buffer
			if err := truncateMetrics(dir, 2, &log); err != nil {
				t.Fatal(err)
			}
			b, _ := os.ReadFile(filepath.Join(dir, MetricsFile))
			if string(b) != tc.want {
				t.Errorf("kept %q, want %q", b, tc.want)
			}
			if (tc.warn == "") != (log.Len() == 0) || !strings.Contains(log.String(), tc.warn) {
				t.Errorf("log %q, want a warning containing %q", log.String(), tc.warn)
			}
		})
	}
}
