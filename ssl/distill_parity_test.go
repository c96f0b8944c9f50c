package ssl

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/siam-ssl/siam/nn"
	"github.com/siam-ssl/siam/tensor"
)

// fixtureTeacher builds the frozen width-8 ResNet-18 teacher of the distillation
// fixture from its teacher/* tensors.
func fixtureTeacher(t *testing.T, fx map[string]*tensor.Tensor) *Teacher {
	t.Helper()
	c := &nn.Collection{}
	bb, err := nn.NewBackbone(c, "backbone.", nn.BackboneSpec{Arch: "resnet18", Width: 8}, rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		t.Fatal(err)
	}
	ts := map[string]*tensor.Tensor{}
	for k, v := range fx {
		if name, ok := strings.CutPrefix(k, "teacher/"); ok {
			ts[name] = v
		}
	}
	if err := c.LoadStateDict(ts); err != nil {
		t.Fatal(err)
	}
	return &Teacher{Backbone: bb, Modules: c}
}

// TestDistillStepsMatchPyTorch replays two distillation steps (student ResNet-18
// width 4 with a linear head to the width-8 teacher's 64 features; step 1 on x1,
// step 2 on x2, batch 12) from the fixture written by
// scripts/fixtures_nnsiam_distill.py: the losses, every gradient, then every
// weight, BN statistic and the moving mean and standard deviation of the teacher
// features after each step; the teacher must come out unchanged.
func TestDistillStepsMatchPyTorch(t *testing.T) {
	fx, _, err := nn.LoadTensors("../testdata/torch/distill_w4.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	teacher := fixtureTeacher(t, fx)
	m, err := NewDistill(Config{Backbone: nn.BackboneSpec{Arch: "resnet18", Width: 4}, Teacher: teacher}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if m.Views() != 1 || m.Head.W.Shape()[0] != 64 {
		t.Fatalf("views %d, head %v: want one view and 64 outputs (the teacher's features)", m.Views(), m.Head.W.Shape())
	}
	// The teacher's digest is siam's own fingerprint, not a PyTorch quantity: the
	// fixture's teacher is the one loaded, so every snapshot holds its digest.
	for _, pfx := range []string{"", "after/", "after2/"} {
		fx[pfx+m.Digest.Name] = m.Digest
	}
	checkTwoSteps(t, m, fx, []parityStep{{"x1", "", "loss", "after/"}, {"x2", "", "loss2", "after2/"}}, 1e-4)
	if got := m.Updates.Data[0]; got != 2 {
		t.Errorf("teacher_updates %v after two steps", got)
	}
	for _, p := range teacher.Modules.StateDict() {
		if e := relErr(p.Data, fx["teacher/"+p.Name].Data); e != 0 {
			t.Errorf("teacher %s changed (%.2g)", p.Name, e)
		}
		if p.Grad != nil {
			for _, v := range p.Grad {
				if v != 0 {
					t.Fatalf("teacher %s received a gradient", p.Name)
				}
			}
		}
	}
}
