package optim

import (
	"math"
	"testing"

	"github.com/siam-ssl/siam/tensor"
)

func param(name string, vals, grad []float32, shape ...int) *tensor.Tensor {
	p := tensor.NewParam(name, shape...)
	copy(p.Data, vals)
	copy(p.Grad, grad)
	return p
}

func near(t *testing.T, what string, got []float32, want []float64, tol float64) {
	t.Helper()
	for i := range want {
		if math.Abs(float64(got[i])-want[i]) > tol*math.Max(1, math.Abs(want[i])) {
			t.Fatalf("%s[%d] = %v, want %v", what, i, got[i], want[i])
		}
	}
}

func TestSGDMomentumTwoSteps(t *testing.T) {
	p := param("w", []float32{1, -2}, []float32{0.5, 0.25}, 2)
	o := NewSGD([]Group{{Params: []*tensor.Tensor{p}, WeightDecay: 0.1}}, 0.9)
	o.Step(0.1)
	// d = g + 0.1 p = [0.6, 0.05]; buf = d; p = p - 0.1 d
	near(t, "step1", p.Data, []float64{1 - 0.06, -2 - 0.005}, 1e-6)
	o.Step(0.1)
	d := []float64{0.5 + 0.1*0.94, 0.25 + 0.1*-2.005}
	b := []float64{0.9*0.6 + d[0], 0.9*0.05 + d[1]}
	near(t, "step2", p.Data, []float64{0.94 - 0.1*b[0], -2.005 - 0.1*b[1]}, 1e-6)
	if o.Steps() != 2 || len(o.State()) != 1 || o.State()[0].Name != "sgd.momentum.w" {
		t.Fatalf("state %v steps %d", o.State(), o.Steps())
	}
}

func TestFixedLRGroup(t *testing.T) {
	a := param("a", []float32{1}, []float32{1}, 1)
	b := param("b", []float32{1}, []float32{1}, 1)
	o := NewSGD([]Group{{Params: []*tensor.Tensor{a}}, {Params: []*tensor.Tensor{b}, FixedLR: true, LR: 0.5}}, 0)
	o.Step(0.01)
	near(t, "scheduled", a.Data, []float64{0.99}, 1e-7)
	near(t, "fixed", b.Data, []float64{0.5}, 1e-7)
}

func TestLARSScalesOnlyMatrices(t *testing.T) {
	w := param("w", []float32{3, 4, 0, 0}, []float32{1, 0, 0, 0}, 2, 2)
	bias := param("b", []float32{1}, []float32{2}, 1)
	o := NewLARS([]Group{{Params: []*tensor.Tensor{w, bias}, WeightDecay: 0}}, 0.9)
	o.Step(1)
	// ||w|| = 5, ||d|| = 1 -> q = 0.001*5
	near(t, "w", w.Data, []float64{3 - 0.005, 4, 0, 0}, 1e-6)
	near(t, "bias", bias.Data, []float64{1 - 2}, 1e-6)
}

func TestAdamWFirstStep(t *testing.T) {
	p := param("w", []float32{1}, []float32{0.3}, 1)
	o := NewAdamW([]Group{{Params: []*tensor.Tensor{p}, WeightDecay: 0.1}})
	o.Step(0.01)
	// first step: mhat = g, vhat = g^2 -> update = lr * g/(|g|+eps) = 0.01
	near(t, "w", p.Data, []float64{1*(1-0.001) - 0.01}, 1e-6)
}

func TestCosineSchedule(t *testing.T) {
	s := Cosine{Base: 1, Total: 110, Warmup: 10}
	cases := []struct {
		step int
		want float64
	}{{0, 0.1}, {9, 1}, {10, 1}, {60, 0.5}, {110, 0}, {200, 0}}
	for _, c := range cases {
		if got := s.At(c.step); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("At(%d) = %v, want %v", c.step, got, c.want)
		}
	}
	if ScaledLR(0.05, 512) != 0.1 {
		t.Error("ScaledLR")
	}
}

func TestEMA(t *testing.T) {
	on := param("w", []float32{1, 2}, nil, 2)
	tg := tensor.New(2)
	e, err := NewEMA([]*tensor.Tensor{tg}, []*tensor.Tensor{on}, 0.99)
	if err != nil {
		t.Fatal(err)
	}
	on.Data[0] = 2
	e.Update(0)
	near(t, "target", tg.Data, []float64{0.99 + 0.02, 2}, 1e-6)
	e.Cosine, e.Total = true, 100
	if m := e.Momentum(100); m != 1 {
		t.Errorf("cosine momentum at end = %v", m)
	}
	if _, err := NewEMA([]*tensor.Tensor{tensor.New(3)}, []*tensor.Tensor{on}, 0.9); err == nil {
		t.Error("shape mismatch must fail")
	}
}
