package ssl

import "testing"

// TestMoCoV3StepsMatchPyTorch replays two MoCo v3 training steps (SGD and the
// momentum-encoder update) of the width-4 model of scripts/fixtures_byol_mocov3.py,
// at temperature 0.2 so that the 1/T and 2T scalings are exercised.
func TestMoCoV3StepsMatchPyTorch(t *testing.T) {
	replayTwoSteps(t, "../testdata/torch/mocov3_w4.safetensors", func(c Config) (momentumMethod, error) {
		return NewMoCoV3(c, 0)
	})
}
