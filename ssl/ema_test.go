package ssl

import (
	"encoding/json"
	"math"
	"slices"
	"strconv"
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

// replayTwoSteps loads a fixture written by scripts/fixtures_byol_mocov3.py into
// the method build makes and replays its two SGD steps with the target updates,
// comparing within 1e-4 relative (relErr) the loss and every gradient of both
// steps, every parameter and BN statistic of the online networks and of the
// target encoder after each step, and the momentum of each update.
//
// Step 2 starts from the reference's state after step 1 (online and target
// weights and statistics; the optimizer's momentum buffers stay the Go run's
// own), because the second step is ill-conditioned in that state. Measured
// with the pure-Go kernels (-tags purego) on the MoCo v3 fixture: the Go state
// after step 1 is within 1.3e-5 of the reference, yet carried on it moves the
// step-2 gradients of the first layers by 3e-3 and their weights after step 2
// by 7e-4 (with AVX-512: 1.4e-4 and 2e-5); from the same state the step-2
// gradients agree to 2e-5. PyTorch's own float32 run of these fixtures lands up
// to 4e-5 from the float64 reference. The two steps are also replayed end to
// end, checked at 1e-2: a wrong optimizer buffer or momentum schedule moves
// the weights after step 2 by far more (a wrong target momentum: 0.3).
func replayTwoSteps(t *testing.T, path string, build func(Config) (momentumMethod, error)) {
	t.Helper()
	fx, meta, err := nn.LoadTensors(path)
	if err != nil {
		t.Fatal(err)
	}
	num := func(key string) float64 {
		v, err := strconv.ParseFloat(meta[key], 64)
		if err != nil {
			t.Fatalf("fixture metadata %s: %v", key, err)
		}
		return v
	}
	cfg := Config{Backbone: nn.BackboneSpec{Arch: "resnet18", Width: int(num("width")), InChannels: 3},
		EMAMomentum: num("ema_momentum")}
	if _, ok := meta["temperature"]; ok {
		cfg.Temperature = num("temperature")
	}
	var names, tnames []string
	var wantMomenta []float64
	for key, dst := range map[string]any{"names": &names, "target_names": &tnames, "ema_momenta": &wantMomenta} {
		if err := json.Unmarshal([]byte(meta[key]), dst); err != nil {
			t.Fatalf("fixture metadata %s: %v", key, err)
		}
	}
	for _, perStep := range []bool{true, false} {
		tol, mode := 1e-4, "per step"
		if !perStep {
			tol, mode = 1e-2, "end to end"
		}
		m, err := build(cfg)
		if err != nil {
			t.Fatal(err)
		}
		// The Go model must hold exactly the fixture's tensors, online and target.
		if g := tensorNames(m.Modules().StateDict()); !slices.Equal(sorted(g), sorted(names)) {
			t.Fatalf("online state dict differs from the fixture's:\n go    %v\n torch %v", g, names)
		}
		if g := tensorNames(m.ExtraState()); !slices.Equal(sorted(g), sorted(tnames)) {
			t.Fatalf("target state differs from the fixture's:\n go    %v\n torch %v", g, tnames)
		}
		// load copies the fixture's state under prefix into m; the target
		// starts as a copy of the online encoder.
		load := func(prefix string) {
			values := map[string]*tensor.Tensor{}
			for _, x := range State(m) {
				name := x.Name
				if prefix == "" {
					name = strings.TrimPrefix(name, TargetPrefix)
				}
				values[x.Name] = fx[prefix+name]
			}
			if err := LoadState(m, values); err != nil {
				t.Fatal(err)
			}
		}
		load("")
		lr, total := num("lr"), int(num("total_steps"))
		opt := optim.NewSGD(m.ParamGroups(lr, num("weight_decay"), true), num("momentum"))
		x1, x2 := fx["x1"], fx["x2"]
		g := tensor.NewGraph()
		worst := map[string]float64{}
		check := func(group, name string, got, want []float32) {
			if maxAbs(want) < 1e-9 {
				// Zero up to float64 rounding (the gradient of a bias ahead of
				// BN, the running mean behind an affine-free BN): no relative
				// error exists; float32 leaves sums of O(1e-3) terms at 1e-7.
				worst["zero tensors, absolute"] = math.Max(worst["zero tensors, absolute"], maxAbs(got))
				if maxAbs(got) > 1e-6 {
					t.Errorf("%s: %s %s: max |value| %.2g where the reference is 0", mode, group, name, maxAbs(got))
				}
				return
			}
			e := relErr(got, want)
			worst[group] = math.Max(worst[group], e)
			if e > tol {
				t.Errorf("%s: %s %s: relative error %.2g > %g", mode, group, name, e, tol)
			}
		}
		for step, pfx := range []string{"", "2"} {
			if step == 1 && perStep {
				load("after/")
			}
			g.Reset()
			loss := m.Loss(g, g.Input(x1.Data, x1.Shape()...), g.Input(x2.Data, x2.Shape()...))
			m.Modules().ZeroGrad()
			if err := g.Backward(loss); err != nil {
				t.Fatal(err)
			}
			check("loss", "loss"+pfx, []float32{loss.Item()}, fx["loss"+pfx].Data)
			for _, p := range m.Modules().Params {
				ref, ok := fx["grad"+pfx+"/"+p.Name]
				if !ok {
					t.Fatalf("fixture lacks grad%s/%s", pfx, p.Name)
				}
				check("grad"+pfx, p.Name, p.Grad, ref.Data)
			}
			opt.Step(lr)
			if got, want := m.Momentum(step+1, total), wantMomenta[step]; math.Abs(got-want) > 1e-12 {
				t.Errorf("momentum after step %d: %v, reference %v", step+1, got, want)
			}
			m.AfterStep(step+1, total)
			for _, x := range State(m) {
				group := "after" + pfx
				if strings.HasPrefix(x.Name, TargetPrefix) {
					group += "/target"
				}
				ref, ok := fx["after"+pfx+"/"+x.Name]
				if !ok {
					t.Fatalf("fixture lacks after%s/%s", pfx, x.Name)
				}
				check(group, x.Name, x.Data, ref.Data)
			}
		}
		t.Logf("%s, worst relative errors: %v", mode, worst)
	}
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
