package ssl

import (
	"math"
	"strings"
	"testing"

	"github.com/siam-ssl/siam/nn"
	"github.com/siam-ssl/siam/tensor"
)

// tinyViews returns two [n,1,8,8] views with distinct values.
func tinyViews(g *tensor.Graph, n int) (*tensor.Tensor, *tensor.Tensor) {
	a, b := make([]float32, n*64), make([]float32, n*64)
	for i := range a {
		a[i], b[i] = float32(math.Sin(float64(i))), float32(math.Cos(float64(3*i)))
	}
	return g.Input(a, n, 1, 8, 8), g.Input(b, n, 1, 8, 8)
}

func tinyNNSiam(t *testing.T, queue int) *NNSiam {
	t.Helper()
	m, err := New("nnsiam", Config{Backbone: nn.BackboneSpec{Arch: "resnet18", Width: 2, InChannels: 1}, Queue: queue}, 3)
	if err != nil {
		t.Fatal(err)
	}
	return m.(*NNSiam)
}

// The queue starts as unit rows drawn from the seed, on a stream of its own: the
// networks are SimSiam's for the same seed.
func TestNNSiamInit(t *testing.T) {
	m := tinyNNSiam(t, 0)
	if m.QueueLen() != DefaultQueue || m.Name() != "nnsiam" || m.Views() != 2 {
		t.Fatalf("queue %d, name %s, views %d", m.QueueLen(), m.Name(), m.Views())
	}
	p := m.Config.ProjDim
	for i := range 50 {
		var s float64
		for _, v := range m.Queue.Data[i*p : (i+1)*p] {
			s += float64(v) * float64(v)
		}
		if math.Abs(s-1) > 1e-5 {
			t.Fatalf("queue row %d has squared norm %v", i, s)
		}
	}
	s, _ := NewSimSiam(m.SimSiam.Config, 3)
	for i, w := range s.All.StateDict() {
		if relErr(m.All.StateDict()[i].Data, w.Data) != 0 {
			t.Fatalf("%s differs from SimSiam's at the same seed", w.Name)
		}
	}
	if len(m.ExtraState()) != 2 || m.ExtraState()[0].Name != "queue" || m.ExtraState()[1].Name != "queue_ptr" {
		t.Fatalf("extra state %v", m.ExtraState())
	}
}

// A target is the nearest queue row of the other view's projection (checked by
// brute force), a validation pass (no-grad) does not enqueue, and AfterStep
// enqueues z1 once.
func TestNNSiamNeighboursAndQueue(t *testing.T) {
	m := tinyNNSiam(t, 10)
	g := tensor.NewGraph()
	x1, x2 := tinyViews(g, 4)
	z1, z2 := m.Encode(g, x1), m.Encode(g, x2)
	n1, n2 := m.Neighbours(g, z1, z2)
	if err := g.Err(); err != nil {
		t.Fatal(err)
	}
	p := m.Config.ProjDim
	for v, pair := range [][2]*tensor.Tensor{{z1, n1}, {z2, n2}} {
		for i := range 4 {
			best, bestD := -1, math.Inf(1)
			for r := range 10 {
				var d float64
				for j := range p {
					e := float64(pair[0].Data[i*p+j]) - float64(m.Queue.Data[r*p+j])
					d += e * e
				}
				if d < bestD {
					best, bestD = r, d
				}
			}
			if relErr(pair[1].Data[i*p:(i+1)*p], m.Queue.Data[best*p:(best+1)*p]) != 0 {
				t.Fatalf("view %d row %d: neighbour is not queue row %d", v+1, i, best)
			}
		}
	}
	before := append([]float32(nil), m.Queue.Data...)
	g.Reset()
	g.SetNoGrad(true)
	x1, x2 = tinyViews(g, 4)
	m.Loss(g, x1, x2)
	g.SetNoGrad(false)
	m.AfterStep(1, 1)
	if relErr(m.Queue.Data, before) != 0 || m.Ptr.Data[0] != 0 {
		t.Fatal("a no-grad pass changed the queue")
	}
	g.Reset()
	x1, x2 = tinyViews(g, 4)
	m.Loss(g, x1, x2)
	z := append([]float32(nil), m.Encode(g, x1).Data...) // same BN batch: same z1
	m.AfterStep(1, 2)
	m.AfterStep(2, 2) // nothing pending: no second enqueue
	if m.Ptr.Data[0] != 4 || relErr(m.Queue.Data[:4*p], z) > 1e-6 || relErr(m.Queue.Data[4*p:], before[4*p:]) != 0 {
		t.Fatalf("after one step: ptr %v; the first 4 rows must be z1, the rest unchanged", m.Ptr.Data[0])
	}
}

func TestNNSiamErrors(t *testing.T) {
	if _, err := New("nnsiam", Config{Backbone: nn.BackboneSpec{Arch: "resnet18", Width: 2}, Queue: -1}, 1); err == nil {
		t.Error("negative queue accepted")
	}
	m := tinyNNSiam(t, 3)
	g := tensor.NewGraph()
	x1, x2 := tinyViews(g, 4)
	m.Loss(g, x1, x2)
	if err := g.Err(); err == nil || !strings.Contains(err.Error(), "batch 4 is larger than the queue (3 rows)") {
		t.Errorf("queue smaller than the batch: %v", err)
	}
	m = tinyNNSiam(t, 8)
	m.Ptr.Data[0] = 8.5
	g.Reset()
	x1, x2 = tinyViews(g, 4)
	m.Loss(g, x1, x2)
	if err := g.Err(); err == nil || !strings.Contains(err.Error(), "queue_ptr") {
		t.Errorf("corrupt write position: %v", err)
	}
}
