//go:build linux && !nocuda

package cuda

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestProbeWithoutDriver runs where no NVIDIA driver is installed (CI): the
// probe must fail cleanly, naming the library and the folders it searched.
func TestProbeWithoutDriver(t *testing.T) {
	p := ProbeMachine()
	if p.Err == nil {
		t.Skipf("a CUDA driver is present (%s, %d devices): the no-GPU path is not exercised here", p.Driver, len(p.Devices))
	}
	msg := p.Err.Error()
	if !strings.Contains(msg, "libcuda.so.1") || !strings.Contains(msg, "SIAM_CUDA_LIBS") {
		t.Fatalf("the error must name the library and how to point at it: %s", msg)
	}
	if _, _, err := Resolve(DeviceSpec{Kind: GPU}, p); err == nil || !strings.Contains(err.Error(), "--device cuda:0") {
		t.Fatalf("--device cuda without a driver: %v", err)
	}
}

// TestProbeRejectsImpostor puts a shared library that is not the driver (the C
// maths library) where libcuda.so.1 is looked for: dlopen succeeds, and the
// probe must refuse it by its missing entry points instead of crashing.
func TestProbeRejectsImpostor(t *testing.T) {
	var libm string
	for _, c := range []string{"/lib/x86_64-linux-gnu/libm.so.6", "/usr/lib/x86_64-linux-gnu/libm.so.6", "/lib/aarch64-linux-gnu/libm.so.6", "/usr/lib64/libm.so.6"} {
		if _, err := os.Stat(c); err == nil {
			libm = c
			break
		}
	}
	if libm == "" {
		t.Skip("no libm.so.6 to stand in for the driver")
	}
	if ProbeMachine().Err == nil {
		t.Skip("a real driver is installed; the loader would find it first")
	}
	dir := t.TempDir()
	if err := os.Symlink(libm, filepath.Join(dir, "libcuda.so.1")); err != nil {
		t.Fatal(err)
	}
	p := probe(func(k string) string {
		if k == "SIAM_CUDA_LIBS" {
			return dir
		}
		return ""
	})
	if p.Err == nil || !strings.Contains(p.Err.Error(), "lacks cuInit") {
		t.Fatalf("an impostor libcuda must be refused by its symbols: %v", p.Err)
	}
}
