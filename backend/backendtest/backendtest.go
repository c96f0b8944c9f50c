// Package backendtest is the conformance suite of compute backends: a backend
// package passes it with one line in a test,
//
//	func TestConformance(t *testing.T) { backendtest.Run(t, mybackend) }
//
// It checks every operation of backend.Backend against float64 references and
// finite differences (edge shapes included: 1x1, odd sizes, vector tails, the
// empty batch), then, with the backend made the default, the tensor ops against
// the committed PyTorch fixtures (testdata/torch/ops) and two full training steps
// of SimSiam, BYOL and MoCo v3 against PyTorch's (testdata/torch).
//
// It is a test-support package: it sits beside the backends but imports the
// layers above them (tensor, nn, optim, ssl) to run those end-to-end checks, as
// tensor/tensortest does for tensor; no non-test code may import it.
package backendtest

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/siam-ssl/siam/backend"
)

// Run runs the whole conformance suite on b.
func Run(t *testing.T, b backend.Backend) {
	t.Run("Ops", func(t *testing.T) { Ops(t, b) })
	t.Run("TorchOps", func(t *testing.T) {
		defer WithDefault(b)()
		TorchOps(t, filepath.Join(RepoRoot(t), "testdata", "torch", "ops"))
	})
	t.Run("TrainingSteps", func(t *testing.T) {
		defer WithDefault(b)()
		TrainingSteps(t, filepath.Join(RepoRoot(t), "testdata", "torch"))
	})
}

// Ops checks every operation of b against float64 references.
func Ops(t *testing.T, b backend.Backend) {
	for _, c := range []struct {
		name string
		f    func(*testing.T, backend.Backend)
	}{
		{"Memory", testMemory},
		{"GEMM", testGEMM},
		{"Conv", testConv},
		{"Norm", testNorm},
		{"Elementwise", testElementwise},
		{"FiniteDifferences", testFiniteDifferences},
		{"Softmax", testSoftmax},
		{"Optimizer", testOptimizer},
		{"Nearest", testNearest},
		{"Float64", testFloat64},
	} {
		t.Run(c.name, func(t *testing.T) { c.f(t, b) })
	}
}

// WithDefault makes b the default backend (what tensor graphs compute on) and
// returns the function that restores the previous one.
func WithDefault(b backend.Backend) func() {
	prev := backend.Default()
	backend.SetDefault(b)
	return func() { backend.SetDefault(prev) }
}

// RepoRoot returns the module root (the directory holding go.mod), found upwards
// from the test's working directory.
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		up := filepath.Dir(dir)
		if up == dir {
			t.Fatal("backendtest: no go.mod above the working directory")
		}
		dir = up
	}
}
