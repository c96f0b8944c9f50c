package ssl

import (
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/siam-ssl/siam/nn"
	"github.com/siam-ssl/siam/optim"
	"github.com/siam-ssl/siam/tensor"
)

// momentumMethod is what BYOL and MoCo v3 add to Method for these tests.
type momentumMethod interface {
	Method
	Momentum(step, total int) float64
	Target() *nn.Collection
}

func maxAbs(x []float32) float64 {
	var m float64
	for _, v := range x {
		m = math.Max(m, math.Abs(float64(v)))
	}
	return m
}

func tensorNames(ts []*tensor.Tensor) []string {
	var n []string
	for _, x := range ts {
		n = append(n, x.Name)
	}
	return n
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// TestEMATargetStartsAsCopy checks that a momentum encoder starts equal to the
// online encoder, under target.* names, outside the trainable modules, and that
// its momentum follows the cosine schedule from m0 to 1 with each method's lag.
func TestEMATargetStartsAsCopy(t *testing.T) {
	for _, name := range []string{"byol", "mocov3"} {
		t.Run(name, func(t *testing.T) {
			mm, err := New(name, Config{Backbone: nn.BackboneSpec{Arch: "resnet18", Width: 4, InChannels: 1}}, 7)
			if err != nil {
				t.Fatal(err)
			}
			m := mm.(momentumMethod)
			online := map[string]*tensor.Tensor{}
			for _, x := range m.Modules().StateDict() {
				online[x.Name] = x
			}
			extra := m.ExtraState()
			if len(extra) == 0 {
				t.Fatal("no target state")
			}
			for _, x := range extra {
				o, ok := online[strings.TrimPrefix(x.Name, TargetPrefix)]
				if !strings.HasPrefix(x.Name, TargetPrefix) || !ok {
					t.Fatalf("target tensor %s has no online twin", x.Name)
				}
				if !slices.Equal(x.Data, o.Data) {
					t.Fatalf("%s does not start as a copy of %s", x.Name, o.Name)
				}
			}
			for _, p := range m.Modules().Params {
				if strings.HasPrefix(p.Name, TargetPrefix) {
					t.Fatalf("target parameter %s is trainable", p.Name)
				}
			}
			if len(m.Target().BNs) == 0 {
				t.Fatal("target has no BN layers")
			}
			m.SetTraining(false)
			for _, bn := range m.Target().BNs {
				if bn.Training {
					t.Fatal("SetTraining(false) left a target BN layer in training mode")
				}
			}
			m.SetTraining(true)
			// m(k) = 1 - (1-0.99)(cos(pi k/100)+1)/2 at k = step - lag: BYOL
			// updates after step i (0-based) with m(i), MoCo v3 before step i.
			lag := map[string]int{"byol": 1, "mocov3": 0}[name]
			for _, k := range []int{0, 25, 50, 99} {
				want := 1 - 0.01*(math.Cos(math.Pi*float64(k)/100)+1)/2
				if got := m.Momentum(k+lag, 100); math.Abs(got-want) > 1e-12 {
					t.Errorf("momentum after step %d of 100: %v, want %v", k+lag, got, want)
				}
			}
		})
	}
}

// TestMomentumStepReusesMemory: a BYOL / MoCo v3 training step, target
// included, keeps the graph's arena constant from the second step on, and the
// target's forward passes add no memory to the step (their buffers go back to
// the arena before the online network runs): the arena is no larger than the
// one of the same step without the target.
func TestMomentumStepReusesMemory(t *testing.T) {
	const n, side = 8, 16
	x1, x2 := make([]float32, n*3*side*side), make([]float32, n*3*side*side)
	for i := range x1 {
		x1[i], x2[i] = float32(i%7)-3, float32(i%5)-2
	}
	for _, name := range []string{"byol", "mocov3"} {
		m, err := New(name, Config{Backbone: nn.BackboneSpec{Arch: "resnet18", Width: 4}}, 1)
		if err != nil {
			t.Fatal(err)
		}
		opt := optim.NewSGD(m.ParamGroups(0.05, 1e-4, true), 0.9)
		g := tensor.NewGraph()
		for i := 1; i <= 5; i++ {
			g.Reset()
			l := m.Loss(g, g.Input(x1, n, 3, side, side), g.Input(x2, n, 3, side, side))
			m.Modules().ZeroGrad()
			if err := g.Backward(l); err != nil {
				t.Fatal(err)
			}
			opt.Step(0.05)
			m.AfterStep(i, 5)
		}
		arena := g.ArenaBytes()
		g.Reset()
		l := m.Loss(g, g.Input(x1, n, 3, side, side), g.Input(x2, n, 3, side, side))
		if err := g.Backward(l); err != nil || g.ArenaBytes() != arena {
			t.Fatalf("%s: arena %d bytes after a further step, %d before (%v)", name, g.ArenaBytes(), arena, err)
		}
		// The same step with the target's passes left out of the graph.
		g2 := tensor.NewGraph()
		var online func() *tensor.Tensor
		switch mm := m.(type) {
		case *BYOL:
			online = func() *tensor.Tensor {
				z1 := mm.proj.Forward(g2, mm.Net.Forward(g2, g2.Input(x1, n, 3, side, side)))
				z2 := mm.proj.Forward(g2, mm.Net.Forward(g2, g2.Input(x2, n, 3, side, side)))
				return g2.Add(g2.Sum(mm.pred.Forward(g2, z1)), g2.Sum(mm.pred.Forward(g2, z2)))
			}
		case *MoCoV3:
			online = func() *tensor.Tensor {
				q1 := mm.pred.Forward(g2, mm.proj.Forward(g2, mm.Net.Forward(g2, g2.Input(x1, n, 3, side, side))))
				q2 := mm.pred.Forward(g2, mm.proj.Forward(g2, mm.Net.Forward(g2, g2.Input(x2, n, 3, side, side))))
				return g2.Add(g2.Sum(q1), g2.Sum(q2))
			}
		}
		if err := g2.Backward(online()); err != nil {
			t.Fatal(err)
		}
		if g.ArenaBytes() > g2.ArenaBytes()*11/10 {
			t.Fatalf("%s: step arena %d bytes, online network alone %d: the target holds memory", name, g.ArenaBytes(), g2.ArenaBytes())
		}
		t.Logf("%s: arena %d bytes with the target, %d without", name, g.ArenaBytes(), g2.ArenaBytes())
	}
}
