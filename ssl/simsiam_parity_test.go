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
