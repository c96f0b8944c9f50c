package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/siam-ssl/siam/ssl"
	"github.com/siam-ssl/siam/train"
)

// TestTrainMethods trains BYOL and MoCo v3 for a few steps through the CLI on
// the embedded data and checks the run folder records the method.
func TestTrainMethods(t *testing.T) {
	for _, method := range []string{"byol", "mocov3"} {
		t.Run(method, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "run")
			if _, err := runCLI("train", "--method", method, "--out", out, "--width", "4", "--batch", "16",
				"--steps", "3", "--workers", "1", "--checkpoint-every", "0"); err != nil {
				t.Fatal(err)
			}
			_, ck, err := train.ReadCheckpointMeta(out)
			if err != nil {
				t.Fatal(err)
			}
			if ck.Step != 3 || ck.Config.Method != method {
				t.Fatalf("checkpoint at step %d of method %q, want 3 of %s", ck.Step, ck.Config.Method, method)
			}
		})
	}
}

// TestTrainUnknownMethod: an unknown method is one error line that lists the
// valid ones, and no run folder is made.
func TestTrainUnknownMethod(t *testing.T) {
	out := filepath.Join(t.TempDir(), "run")
	_, err := runCLI("train", "--method", "swav", "--out", out, "--steps", "2")
	if err == nil {
		t.Fatal("unknown method accepted")
	}
	msg := err.Error()
	if strings.Contains(msg, "\n") || !strings.Contains(msg, `unknown method "swav"`) {
		t.Fatalf("want one line naming the method, got %q", msg)
	}
	for _, name := range ssl.Names() {
		if !strings.Contains(msg, name) {
			t.Errorf("error %q does not list %s", msg, name)
		}
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Fatalf("a rejected run left %s behind", out)
	}
}

// TestBenchTrainMethods: `siam bench train --method M` prints one JSON line of
// the usual fields for each method, and an unknown method is an error.
func TestBenchTrainMethods(t *testing.T) {
	for _, method := range []string{"simsiam", "byol", "mocov3"} {
		out, err := runCLI("bench", "train", "--method", method, "--width", "2", "--size", "8", "--batch", "4",
			"--steps", "1", "--warmup", "0")
		if err != nil {
			t.Fatal(err)
		}
		var r train.BenchResult
		if err := json.Unmarshal([]byte(out), &r); err != nil || strings.Count(out, "\n") != 1 {
			t.Fatalf("%s: want one JSON line, got %q (%v)", method, out, err)
		}
		if r.Method != method || r.Arch != "resnet18" || r.StepSMedian <= 0 || r.FLOPsPerStep <= 0 {
			t.Fatalf("%s: %+v", method, r)
		}
	}
	if _, err := runCLI("bench", "train", "--method", "swav", "--steps", "1"); err == nil || !strings.Contains(err.Error(), "byol") {
		t.Fatalf("want an unknown-method error listing the methods, got %v", err)
	}
}
