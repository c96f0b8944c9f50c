package tensor_test

// PyTorch parity of every tensor op: the harness lives in backend/backendtest
// (TorchOps), which every backend's conformance suite also runs; here it runs on
// the default backend.

import (
	"testing"

	"github.com/siam-ssl/siam/backend/backendtest"
)

const parityDir = "../testdata/torch/ops"

func TestParity(t *testing.T) { backendtest.TorchOps(t, parityDir) }

// TestParityFixturesPresent guards against the fixture directory going missing
// from a checkout (TestParity would also fail, but this names the cause).
func TestParityFixturesPresent(t *testing.T) { backendtest.TorchFixturesPresent(t, parityDir) }
