package ssl

import (
	"math"
	"testing"

	"github.com/siam-ssl/siam/nn"
	"github.com/siam-ssl/siam/optim"
	"github.com/siam-ssl/siam/tensor"
)

// parityStep is one recorded optimiser step of a two-step PyTorch fixture: the
// views it trains on, the loss tensor's name and the prefix of the state after it.
type parityStep struct {
	x1, x2 string // fixture names of the views ("" for none)
	loss   string
	prefix string
}

// checkTwoSteps replays steps on m with PyTorch's SGD (lr 0.05, momentum 0.9,
// weight decay 5e-4 on every parameter) and checks against the fixture fx, all
// within tol relative (relErr): each step's loss, the first step's gradient of
// every parameter, and after each step every tensor of ssl.State(m) — weights,
// BN statistics and the method's extra state (queue, moving statistics).
func checkTwoSteps(t *testing.T, m Method, fx map[string]*tensor.Tensor, steps []parityStep, tol float64) {
	t.Helper()
	if err := LoadState(m, fx); err != nil {
		t.Fatal(err)
	}
	opt := optim.NewSGD([]optim.Group{{Params: m.Modules().Params, WeightDecay: 5e-4}}, 0.9)
	g := tensor.NewGraph()
	input := func(name string) *tensor.Tensor {
		if name == "" {
			return nil
		}
		x, ok := fx[name]
		if !ok {
			t.Fatalf("fixture lacks %s", name)
		}
		return g.Input(x.Data, x.Shape()...)
	}
	var worstGrad, worstState float64
	defer func() { t.Logf("worst gradient error %.2g, worst state error %.2g", worstGrad, worstState) }()
	for i, s := range steps {
		g.Reset()
		loss := m.Loss(g, input(s.x1), input(s.x2))
		if err := g.Err(); err != nil {
			t.Fatal(err)
		}
		want := fx[s.loss].Data[0]
		if d := math.Abs(float64(loss.Item() - want)); d > tol*math.Max(1, math.Abs(float64(want))) {
			t.Errorf("step %d: loss %v, PyTorch %v", i+1, loss.Item(), want)
		}
		m.Modules().ZeroGrad()
		if err := g.Backward(loss); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			for _, p := range m.Modules().Params {
				ref, ok := fx["grad/"+p.Name]
				if !ok {
					t.Fatalf("fixture lacks grad/%s", p.Name)
				}
				e := relErr(p.Grad, ref.Data)
				worstGrad = math.Max(worstGrad, e)
				if e > tol {
					t.Errorf("grad %s: relative error %.2g > %g", p.Name, e, tol)
				}
			}
		}
		opt.Step(0.05)
		m.AfterStep(i+1, len(steps))
		for _, p := range State(m) {
			ref, ok := fx[s.prefix+p.Name]
			if !ok {
				t.Fatalf("fixture lacks %s%s", s.prefix, p.Name)
			}
			e := relErr(p.Data, ref.Data)
			worstState = math.Max(worstState, e)
			if e > tol {
				t.Errorf("%s%s: relative error %.2g > %g", s.prefix, p.Name, e, tol)
			}
		}
	}
}

// TestNNSiamStepsMatchPyTorch replays two NNSiam steps of the width-4 model
// (queue of 20, batch 12: the second step's enqueue wraps around) from the fixture written by
// scripts/fixtures_nnsiam_distill.py, starting from the fixture's queue: the
// loss, every gradient, then every weight, BN statistic, the queue and its
// write position after each step.
func TestNNSiamStepsMatchPyTorch(t *testing.T) {
	fx, _, err := nn.LoadTensors("../testdata/torch/nnsiam_w4.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	m, err := NewNNSiam(Config{Backbone: nn.BackboneSpec{Arch: "resnet18", Width: 4}, Queue: 20}, 0)
	if err != nil {
		t.Fatal(err)
	}
	checkTwoSteps(t, m, fx, []parityStep{{"x1", "x2", "loss", "after/"}, {"x1", "x2", "loss2", "after2/"}}, 1e-4)
	if got := m.Ptr.Data[0]; got != 4 {
		t.Errorf("queue_ptr %v after two batches of 12 in 20 rows, want 4", got)
	}
}
