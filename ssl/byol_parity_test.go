package ssl

import "testing"

// TestBYOLStepsMatchPyTorch replays two BYOL training steps (SGD and the EMA
// target update) of the width-4 model of scripts/fixtures_byol_mocov3.py.
func TestBYOLStepsMatchPyTorch(t *testing.T) {
	replayTwoSteps(t, "../testdata/torch/byol_w4.safetensors", func(c Config) (momentumMethod, error) {
		return NewBYOL(c, 0)
	})
}
