package train

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func tinyConfig() Config {
	c := DefaultConfig()
	c.Width, c.Batch, c.Steps, c.LR = 4, 16, 40, 1.0
	c.CheckpointEvery, c.LogEvery = 10, 5
	return c
}

func TestTinyModelLossFalls(t *testing.T) {
	c := tinyConfig()
	var losses []float64
	sum, err := Run(context.Background(), c, RunOptions{Dir: filepath.Join(t.TempDir(), "run"),
		OnStep: func(_ int, l float64) { losses = append(losses, l) }})
	if err != nil {
		t.Fatal(err)
	}
	mean := func(x []float64) float64 {
		s := 0.0
		for _, v := range x {
			s += v
		}
		return s / float64(len(x))
	}
	first, last := mean(losses[:5]), mean(losses[len(losses)-5:])
	if !(last < first-0.1) {
		t.Fatalf("loss did not fall: first steps %.4f, last steps %.4f (%v)", first, last, losses)
	}
	if sum.Step != c.Steps {
		t.Fatalf("stopped at %d", sum.Step)
	}
	for _, f := range []string{ConfigFile, MetricsFile, CheckpointFile} {
		if _, err := os.Stat(filepath.Join(sum.Dir, f)); err != nil {
			t.Error(err)
		}
	}
}

// TestResumeIsExact interrupts a run between checkpoints, resumes it, and checks
// the final weights equal those of an uninterrupted run bit for bit.
func TestResumeIsExact(t *testing.T) {
	for _, tc := range []struct{ ord, opt string }{{"multi", "sgd"}, {"hybrid", "sgd"}, {"multi", "adamw"}} {
		ord := tc.ord
		t.Run(ord+"-"+tc.opt, func(t *testing.T) {
			c := tinyConfig()
			c.Steps, c.Order, c.Chunks, c.SwitchAt, c.Optimizer = 12, ord, 4, 2, tc.opt
			if tc.opt == "adamw" {
				c.LR = 1e-3
			}
			c.CheckpointEvery = 5
			dir := t.TempDir()
			full, err := Run(context.Background(), c, RunOptions{Dir: filepath.Join(dir, "full")})
			if err != nil {
				t.Fatal(err)
			}
			part := filepath.Join(dir, "part")
			res := interruptAndResume(t, c, part, 7)
			if res.StartStep != 7 {
				t.Fatalf("resumed from %d, want 7", res.StartStep)
			}
			requireSameState(t, full.Model, res.Model)
			m, _ := os.ReadFile(filepath.Join(part, MetricsFile))
			if n := strings.Count(string(m), `"step":10,`); n != 1 {
				t.Fatalf("metrics.jsonl has step 10 %d times:\n%s", n, m)
			}
			again, err := Run(context.Background(), Config{}, RunOptions{Dir: part, Resume: true})
			if err != nil || !again.AlreadyDone {
				t.Fatalf("resuming a finished run: %v %+v", err, again)
			}
		})
	}
}

func TestRunRejectsBadInput(t *testing.T) {
	dir := t.TempDir()
	c := tinyConfig()
	c.Data = filepath.Join(dir, "nowhere")
	out := filepath.Join(dir, "run")
	if _, err := Run(context.Background(), c, RunOptions{Dir: out}); err == nil {
		t.Fatal("missing dataset must fail")
	}
	if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("a failed start must not leave a run folder")
	}
	os.MkdirAll(out, 0o755)
	os.WriteFile(filepath.Join(out, "x"), []byte("keep me"), 0o644)
	if _, err := Run(context.Background(), tinyConfig(), RunOptions{Dir: out}); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Fatalf("want a not-empty error, got %v", err)
	}
	// A checkpoint of another architecture: resume must fail and change nothing.
	ok := filepath.Join(dir, "ok")
	c = tinyConfig()
	c.Steps = 2
	if _, err := Run(context.Background(), c, RunOptions{Dir: ok}); err != nil {
		t.Fatal(err)
	}
	c.Width = 8
	os.WriteFile(filepath.Join(ok, ConfigFile), c.YAML(), 0o644)
	if _, err := Run(context.Background(), Config{}, RunOptions{Dir: ok, Resume: true}); err == nil || !strings.Contains(err.Error(), "shape") {
		t.Fatalf("want an architecture mismatch, got %v", err)
	}
}

// TestNaNStopsAndKeepsCheckpoint blows the loss up with an absurd learning rate:
// the run must stop with an error naming the step, and the checkpoint on disk must
// be the last good one (finite weights).
func TestNaNStopsAndKeepsCheckpoint(t *testing.T) {
	c := tinyConfig()
	c.LR, c.Steps, c.CheckpointEvery = 1e12, 30, 2
	dir := filepath.Join(t.TempDir(), "run")
	_, err := Run(context.Background(), c, RunOptions{Dir: dir})
	if err == nil || !strings.Contains(err.Error(), "step ") ||
		!(strings.Contains(err.Error(), "loss is") || errors.Is(err, ErrNonFiniteState)) {
		t.Fatalf("want a non-finite loss or state error naming the step, got %v", err)
	}
	ts, ck, err := ReadCheckpointMeta(dir)
	if err != nil {
		t.Fatal(err)
	}
	for name, v := range ts {
		for _, x := range v.Data {
			if x != x || x > 3e38 || x < -3e38 {
				t.Fatalf("checkpoint at step %d holds a non-finite %s", ck.Step, name)
			}
		}
	}
}
