package ssl

import (
	"math"
	"runtime"
	"testing"

	"github.com/siam-ssl/siam/nn"
	"github.com/siam-ssl/siam/optim"
	"github.com/siam-ssl/siam/tensor"
)

// relErr is max|a-b| / max(1e-3, max|b|): the error relative to the reference
// tensor's scale, so tiny entries of a large tensor do not dominate.
func relErr(a, b []float32) float64 {
	var num, den float64
	for i := range b {
		num = math.Max(num, math.Abs(float64(a[i])-float64(b[i])))
		den = math.Max(den, math.Abs(float64(b[i])))
	}
	return num / math.Max(den, 1e-3)
}

// TestSimSiamStepMatchesPyTorch replays one and two SGD steps of the width-8 model
// of ../shared/bench/torch_simsiam.py from the fixture written by
// scripts/gen_fixtures.py: loss, every gradient, the weights and BN running
// statistics after each step.
func TestSimSiamStepMatchesPyTorch(t *testing.T) {
	fx, _, err := nn.LoadTensors("../testdata/torch/simsiam_w8.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	m, err := NewSimSiam(Config{Backbone: nn.BackboneSpec{Arch: "resnet18", Width: 8}}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.All.LoadStateDict(fx); err != nil {
		t.Fatal(err)
	}
	x1, x2 := fx["x1"], fx["x2"]
	opt := optim.NewSGD([]optim.Group{{Params: m.All.Params, WeightDecay: 5e-4}}, 0.9)
	g := tensor.NewGraph()
	const outTol, gradTol = 1e-4, 1e-4 // measured worst: 1.6e-5 (gradients), 3e-5 (weights after two steps)
	var worstGrad, worstWeight float64
	defer func() { t.Logf("worst gradient error %.2g, worst weight/statistic error %.2g", worstGrad, worstWeight) }()
	for step, prefix := range []string{"after/", "after2/"} {
		g.Reset()
		loss := m.Loss(g, g.Input(x1.Data, x1.Shape()...), g.Input(x2.Data, x2.Shape()...))
		m.All.ZeroGrad()
		if err := g.Backward(loss); err != nil {
			t.Fatal(err)
		}
		if step == 0 {
			want := fx["loss"].Data[0]
			if d := math.Abs(float64(loss.Item() - want)); d > outTol*math.Max(1, math.Abs(float64(want))) {
				t.Errorf("loss %v, PyTorch %v", loss.Item(), want)
			}
			for _, p := range m.All.Params {
				ref, ok := fx["grad/"+p.Name]
				if !ok {
					t.Fatalf("fixture lacks grad/%s", p.Name)
				}
				e := relErr(p.Grad, ref.Data)
				worstGrad = math.Max(worstGrad, e)
				if e > gradTol {
					t.Errorf("grad %s: relative error %.2g > %g", p.Name, e, gradTol)
				}
			}
		}
		opt.Step(0.05)
		for _, p := range m.All.StateDict() {
			ref, ok := fx[prefix+p.Name]
			if !ok {
				t.Fatalf("fixture lacks %s%s", prefix, p.Name)
			}
			tol := outTol
			e := relErr(p.Data, ref.Data)
			worstWeight = math.Max(worstWeight, e)
			if e > tol {
				t.Errorf("%s%s: relative error %.2g > %g", prefix, p.Name, e, tol)
			}
		}
	}
}

// TestStepReusesMemory checks the engine's memory discipline on whole training
// steps: after the first step the graph's arena holds the same bytes and the Go
// heap does not grow.
func TestStepReusesMemory(t *testing.T) {
	m, err := NewSimSiam(Config{Backbone: nn.BackboneSpec{Arch: "resnet18", Width: 4}}, 1)
	if err != nil {
		t.Fatal(err)
	}
	opt := optim.NewSGD(m.ParamGroups(0.05, 1e-4, true), 0.9)
	x1, x2 := make([]float32, 8*3*16*16), make([]float32, 8*3*16*16)
	for i := range x1 {
		x1[i], x2[i] = float32(i%7)-3, float32(i%5)-2
	}
	g := tensor.NewGraph()
	step := func() {
		g.Reset()
		l := m.Loss(g, g.Input(x1, 8, 3, 16, 16), g.Input(x2, 8, 3, 16, 16))
		m.All.ZeroGrad()
		if err := g.Backward(l); err != nil {
			t.Fatal(err)
		}
		opt.Step(0.05)
	}
	step()
	step()
	arena := g.ArenaBytes()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for range 5 {
		step()
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if g.ArenaBytes() != arena {
		t.Fatalf("arena grew from %d to %d bytes", arena, g.ArenaBytes())
	}
	if grow := int64(after.HeapInuse) - int64(before.HeapInuse); grow > 1<<20 {
		t.Fatalf("heap in use grew by %d bytes over 5 steps", grow)
	}
}
