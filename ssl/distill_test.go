package ssl

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/siam-ssl/siam/nn"
	"github.com/siam-ssl/siam/tensor"
)

func tinyDistill(t *testing.T) *Distill {
	t.Helper()
	c := &nn.Collection{}
	bb, err := nn.NewBackbone(c, "backbone.", nn.BackboneSpec{Arch: "resnet18", Width: 3, InChannels: 1}, rand.New(rand.NewPCG(5, 5)))
	if err != nil {
		t.Fatal(err)
	}
	m, err := New("distill", Config{Backbone: nn.BackboneSpec{Arch: "resnet18", Width: 2, InChannels: 1}, Teacher: &Teacher{Backbone: bb, Modules: c}}, 1)
	if err != nil {
		t.Fatal(err)
	}
	return m.(*Distill)
}

func TestDistillNeedsTeacher(t *testing.T) {
	_, err := New("distill", Config{Backbone: nn.BackboneSpec{Arch: "resnet18", Width: 2}}, 1)
	if err == nil || !strings.Contains(err.Error(), "no teacher") {
		t.Fatalf("err = %v", err)
	}
}

// The first step standardises with its own batch statistics, AfterStep then sets
// the averages to them and later steps move them by DistillAlpha; a no-grad pass
// leaves them alone; the teacher stays in eval mode whatever SetTraining says.
func TestDistillStatistics(t *testing.T) {
	m := tinyDistill(t)
	if m.Head.W.Shape()[0] != 24 || len(m.Mean.Data) != 24 {
		t.Fatalf("head %v: want the teacher's 24 features", m.Head.W.Shape())
	}
	m.SetTraining(true)
	for _, bn := range m.Teacher.Modules.BNs {
		if bn.Training {
			t.Fatal("teacher BN in training mode")
		}
	}
	g := tensor.NewGraph()
	x1, _ := tinyViews(g, 6)
	tf := append([]float32(nil), m.TeacherFeatures(g, x1).Data...)
	mean, std := make([]float64, 24), make([]float64, 24)
	for j := range 24 {
		for i := range 6 {
			mean[j] += float64(tf[i*24+j]) / 6
		}
		for i := range 6 {
			e := float64(tf[i*24+j]) - mean[j]
			std[j] += e * e / 5
		}
		std[j] = math.Sqrt(std[j])
	}
	g.Reset()
	g.SetNoGrad(true)
	x1, _ = tinyViews(g, 6)
	m.Loss(g, x1, nil)
	g.SetNoGrad(false)
	m.AfterStep(1, 2)
	if m.Updates.Data[0] != 0 {
		t.Fatal("a no-grad pass updated the statistics")
	}
	g.Reset()
	x1, _ = tinyViews(g, 6)
	loss := m.Loss(g, x1, nil)
	s := m.Predict(g, x1)
	var want float64
	for i := range 6 {
		for j := range 24 {
			d := float64(s.Data[i*24+j]) - (float64(tf[i*24+j])-mean[j])/(std[j]+DistillEps)
			want += d * d / (6 * 24)
		}
	}
	if math.Abs(float64(loss.Item())-want) > 1e-5*want {
		t.Fatalf("first-step loss %v, want %v (its own batch statistics)", loss.Item(), want)
	}
	m.AfterStep(1, 2)
	for j := range 24 {
		if math.Abs(float64(m.Mean.Data[j])-mean[j]) > 1e-6 || math.Abs(float64(m.Std.Data[j])-std[j]) > 1e-6 {
			t.Fatalf("dim %d: averages %v %v after the first batch, want %v %v", j, m.Mean.Data[j], m.Std.Data[j], mean[j], std[j])
		}
	}
	m.Mean.Data[0], m.Std.Data[0] = 1, 2
	g.Reset()
	x1, _ = tinyViews(g, 6)
	m.Loss(g, x1, nil)
	m.AfterStep(2, 2)
	if got, w := float64(m.Mean.Data[0]), 0.95+0.05*mean[0]; math.Abs(got-w) > 1e-6 {
		t.Errorf("mean %v, want %v", got, w)
	}
	if got, w := float64(m.Std.Data[0]), 1.9+0.05*std[0]; math.Abs(got-w) > 1e-6 {
		t.Errorf("std %v, want %v", got, w)
	}
	if m.Updates.Data[0] != 2 {
		t.Errorf("updates %v", m.Updates.Data[0])
	}
}

func TestDistillOneImageBatch(t *testing.T) {
	m := tinyDistill(t)
	g := tensor.NewGraph()
	x1, _ := tinyViews(g, 1)
	m.SetTraining(false)
	m.Loss(g, x1, nil)
	if err := g.Err(); err == nil || !strings.Contains(err.Error(), "at least 2") {
		t.Fatalf("err = %v", err)
	}
}

// A student whose recorded teacher digest differs from the teacher loaded now
// (the teacher's run was continued) refuses to compute its loss; the same
// teacher passes.
func TestDistillTeacherDigest(t *testing.T) {
	m := tinyDistill(t)
	state := map[string]*tensor.Tensor{}
	for _, p := range State(m) {
		state[p.Name] = p
	}
	same, err := NewDistill(m.Config, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := LoadState(same, state); err != nil {
		t.Fatal(err)
	}
	g := tensor.NewGraph()
	x1, _ := tinyViews(g, 4)
	same.Loss(g, x1, nil)
	if err := g.Err(); err != nil {
		t.Fatalf("same teacher: %v", err)
	}
	m.Teacher.Modules.Params[0].Data[0] += 1e-3
	changed, err := NewDistill(m.Config, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := LoadState(changed, state); err != nil {
		t.Fatal(err)
	}
	g.Reset()
	x1, _ = tinyViews(g, 4)
	changed.Loss(g, x1, nil)
	if err := g.Err(); err == nil || !strings.Contains(err.Error(), "not the one this student was trained with") {
		t.Fatalf("changed teacher: %v", err)
	}
}
