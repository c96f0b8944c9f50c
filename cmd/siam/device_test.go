package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/siam-ssl/siam/kernels/cuda"
)

// TestDeviceFlag checks --device on a computing command: a bad value and, on a
// machine without a driver, cuda are one error each, and no run folder is made.
func TestDeviceFlag(t *testing.T) {
	out := filepath.Join(t.TempDir(), "run")
	if _, err := runCLI("train", "--device", "tpu", "--steps", "1", "--out", out); err == nil || !strings.Contains(err.Error(), "want auto, cpu, cuda or cuda:N") {
		t.Fatalf("--device tpu: %v", err)
	}
	if cuda.ProbeMachine().Err == nil {
		t.Skip("a CUDA driver is present: the no-driver path is not exercised here")
	}
	_, err := runCLI("train", "--device", "cuda", "--steps", "1", "--out", out)
	if err == nil || !strings.Contains(err.Error(), "libcuda.so.1") {
		t.Fatalf("--device cuda without a driver: %v", err)
	}
	if _, statErr := os.Stat(out); !os.IsNotExist(statErr) {
		t.Fatalf("a failed --device check left %s behind", out)
	}
	if s, err := runCLI("devices"); err != nil || !strings.Contains(s, "no usable GPU") {
		t.Fatalf("siam devices: %q %v", s, err)
	}
}
