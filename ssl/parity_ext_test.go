package ssl_test

// The full-step PyTorch parity of SimSiam, BYOL and MoCo v3 lives in
// backend/backendtest (every backend's conformance suite replays them); here they
// run on the default backend, as before.

import (
	"testing"

	"github.com/siam-ssl/siam/backend/backendtest"
)

// TestSimSiamStepMatchesPyTorch replays one and two SGD steps of the width-8
// SimSiam fixture (backendtest.SimSiamSteps).
func TestSimSiamStepMatchesPyTorch(t *testing.T) {
	backendtest.SimSiamSteps(t, "../testdata/torch/simsiam_w8.safetensors")
}

// TestBYOLStepsMatchPyTorch replays two BYOL training steps (SGD and the EMA
// target update) of the width-4 model of scripts/fixtures_byol_mocov3.py.
func TestBYOLStepsMatchPyTorch(t *testing.T) {
	backendtest.MomentumSteps(t, "../testdata/torch/byol_w4.safetensors", "byol")
}

// TestMoCoV3StepsMatchPyTorch replays two MoCo v3 training steps (SGD and the
// momentum-encoder update) of the width-4 model of scripts/fixtures_byol_mocov3.py,
// at temperature 0.2 so that the 1/T and 2T scalings are exercised.
func TestMoCoV3StepsMatchPyTorch(t *testing.T) {
	backendtest.MomentumSteps(t, "../testdata/torch/mocov3_w4.safetensors", "mocov3")
}
