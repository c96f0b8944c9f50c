package train

import (
	"context"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/siam-ssl/siam/ssl"
)

// momentumMethods are the methods with an EMA target encoder, whose state
// (target weights and BN statistics) a checkpoint must carry.
var momentumMethods = []string{"byol", "mocov3"}

// TestMomentumMethodsTrainAndResumeExactly trains BYOL and MoCo v3 on the
// embedded data, interrupts a second run between checkpoints and resumes it:
// the resumed run must end bit for bit where the uninterrupted one does, the
// target encoder included, and the target must have moved away from both its
// initial value and the online encoder.
func TestMomentumMethodsTrainAndResumeExactly(t *testing.T) {
	for _, method := range momentumMethods {
		t.Run(method, func(t *testing.T) {
			c := tinyConfig()
			c.Method, c.Steps, c.CheckpointEvery = method, 12, 5
			dir := t.TempDir()
			var losses []float64
			full, err := Run(context.Background(), c, RunOptions{Dir: filepath.Join(dir, "full"),
				OnStep: func(_ int, l float64) { losses = append(losses, l) }})
			if err != nil {
				t.Fatal(err)
			}
			if full.Model.Name() != method {
				t.Fatalf("trained %s, want %s", full.Model.Name(), method)
			}
			for i, l := range losses {
				if math.IsNaN(l) || math.IsInf(l, 0) || l < 0 {
					t.Fatalf("step %d: loss %v", i+1, l)
				}
			}
			// The target moved: it is neither its initial copy nor the online encoder.
			init, err := BuildModel(c, InputOf(c, full.Train))
			if err != nil {
				t.Fatal(err)
			}
			online := map[string][]float32{}
			for _, x := range full.Model.Modules().StateDict() {
				online[x.Name] = x.Data
			}
			initial := map[string][]float32{}
			for _, x := range init.ExtraState() {
				initial[x.Name] = x.Data
			}
			movedFromInit, differsFromOnline := false, false
			for _, x := range full.Model.ExtraState() {
				if !strings.HasPrefix(x.Name, ssl.TargetPrefix) {
					t.Fatalf("extra state %s is not a target tensor", x.Name)
				}
				movedFromInit = movedFromInit || !slices.Equal(x.Data, initial[x.Name])
				differsFromOnline = differsFromOnline || !slices.Equal(x.Data, online[strings.TrimPrefix(x.Name, ssl.TargetPrefix)])
			}
			if !movedFromInit || !differsFromOnline {
				t.Fatalf("target after %d steps: moved from init %v, differs from online %v", c.Steps, movedFromInit, differsFromOnline)
			}
			// Every target tensor is in the checkpoint.
			ts, _, err := ReadCheckpointMeta(full.Dir)
			if err != nil {
				t.Fatal(err)
			}
			for _, x := range full.Model.ExtraState() {
				if v, ok := ts[x.Name]; !ok || !slices.Equal(v.Data, x.Data) {
					t.Fatalf("checkpoint lacks or differs in %s", x.Name)
				}
			}

			res := interruptAndResume(t, c, filepath.Join(dir, "part"), 7)
			if res.StartStep != 7 || res.Model.Name() != method {
				t.Fatalf("resumed %s from %d, want %s from 7", res.Model.Name(), res.StartStep, method)
			}
			requireSameState(t, full.Model, res.Model)
		})
	}
}
