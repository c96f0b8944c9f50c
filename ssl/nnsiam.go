package ssl

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/siam-ssl/siam/backend"
	"github.com/siam-ssl/siam/tensor"
)

func init() {
	Register("nnsiam", func(cfg Config, seed uint64) (Method, error) { return NewNNSiam(cfg, seed) })
}

// DefaultQueue is the NNSiam support-queue length of the paper (Appendix A.5:
// 25,600 projector outputs).
const DefaultQueue = 25600

// MaxQueue bounds the queue length so that the write position, stored in the
// float32 checkpoint tensor queue_ptr, is an exact integer.
const MaxQueue = 1 << 24

// NNSiam is SimSiam whose targets are nearest neighbours (Appendix A.5, after
// NNCLR): each projector output z1, z2 is replaced by the entry of a FIFO support
// queue nearest to it in squared Euclidean distance (on the unnormalised
// projector outputs), and the predictions chase those neighbours:
//
//	L = -1/2 [cos(p1, sg(NN(z2))) + cos(p2, sg(NN(z1)))]
//
// with sg the stop-gradient. The queue starts as random unit vectors drawn from
// the seed and, after every optimizer step, the step's z1 (from the forward pass,
// before the update) replaces its oldest rows. The backbone, projector and
// predictor are SimSiam's, initialised identically for the same seed; the queue
// and its write position are ExtraState, so checkpoints carry them and a resumed
// run continues bit for bit.
type NNSiam struct {
	*SimSiam
	// Queue is the support set [queue, ProjDim] (state name "queue").
	Queue *tensor.Tensor
	// Ptr holds the next row to overwrite, as a float32 [1] (state name
	// "queue_ptr").
	Ptr *tensor.Tensor

	pending     []float32 // z1 of the last recorded Loss, enqueued by AfterStep
	pendingRows int
	keys        []float32 // z1 then z2 rows: one search for both views
}

// NewNNSiam builds SimSiam's networks from cfg and seed (the same weights
// NewSimSiam draws) and a queue of cfg.Queue rows (0: DefaultQueue) of random
// unit vectors, drawn from seed on a stream of their own.
func NewNNSiam(cfg Config, seed uint64) (*NNSiam, error) {
	q := cfg.Queue
	if q == 0 {
		q = DefaultQueue
	}
	if q < 1 || q > MaxQueue {
		return nil, fmt.Errorf("nnsiam: queue %d out of range [1, %d]", cfg.Queue, MaxQueue)
	}
	s, err := NewSimSiam(cfg, seed)
	if err != nil {
		return nil, err
	}
	s.Config.Queue = q
	p := s.Config.ProjDim
	m := &NNSiam{SimSiam: s, Queue: tensor.New(q, p), Ptr: tensor.New(1)}
	m.Queue.Name, m.Ptr.Name = "queue", "queue_ptr"
	rng := rand.New(rand.NewPCG(seed, 0x9a5e7e))
	row := make([]float64, p)
	for i := range q {
		var n float64
		for j := range row {
			row[j] = rng.NormFloat64()
			n += row[j] * row[j]
		}
		n = math.Sqrt(n)
		for j, v := range row {
			m.Queue.Data[i*p+j] = float32(v / n)
		}
	}
	return m, nil
}

// Name is "nnsiam".
func (m *NNSiam) Name() string { return "nnsiam" }

// QueueLen is the number of rows of the support queue.
func (m *NNSiam) QueueLen() int { return m.Queue.Shape()[0] }

// Loss runs both views through encoder and predictor (each view its own BN
// batch, as SimSiam) and returns the symmetrised negative cosine between each
// prediction and the nearest queue entry of the other view's projection. When
// the graph records gradients, z1 is kept for AfterStep to enqueue; a
// validation pass (no-grad graph) leaves the queue alone. A batch larger than
// the queue, a corrupt write position or a non-finite projection fail the graph.
func (m *NNSiam) Loss(g *tensor.Graph, x1, x2 *tensor.Tensor) *tensor.Tensor {
	z1 := m.Encode(g, x1)
	z2 := m.Encode(g, x2)
	p1, p2 := m.Predict(g, z1), m.Predict(g, z2)
	if !g.OK("nnsiam", z1, z2, p1, p2) {
		return p1
	}
	n1, n2 := m.Neighbours(g, z1, z2)
	if !g.OK("nnsiam", n1, n2) {
		return n1
	}
	if !g.NoGrad() {
		m.pending = append(m.pending[:0], z1.Data...)
		m.pendingRows = z1.Shape()[0]
	}
	return NegCosine(g, p1, p2, n1, n2)
}

// Neighbours returns, for projections z1 and z2 [B, ProjDim], their nearest
// queue rows in squared Euclidean distance (ties: the lower row), as new
// tensors without gradient. Both views are looked up in one search
// (kernels.NearestL2, the k-NN search on the GEMM micro-kernels).
func (m *NNSiam) Neighbours(g *tensor.Graph, z1, z2 *tensor.Tensor) (*tensor.Tensor, *tensor.Tensor) {
	q, p := m.Queue.Shape()[0], m.Queue.Shape()[1]
	s1, s2 := z1.Shape(), z2.Shape()
	if len(s1) != 2 || s1[1] != p || !tensor.SameShape(s1, s2) {
		bad := g.Failf("nnsiam", []*tensor.Tensor{z1, z2}, "projections must both be [B, %d]", p)
		return bad, bad
	}
	b := s1[0]
	if b > q {
		bad := g.Failf("nnsiam", []*tensor.Tensor{z1}, "batch %d is larger than the queue (%d rows): each step enqueues the whole batch, so --queue must be >= --batch", b, q)
		return bad, bad
	}
	if ptr := m.Ptr.Data[0]; !(ptr >= 0 && ptr < float32(q) && ptr == float32(math.Trunc(float64(ptr)))) {
		bad := g.Failf("nnsiam", nil, "queue_ptr %v is not a row of the %d-row queue (corrupt checkpoint?)", ptr, q)
		return bad, bad
	}
	m.keys = append(append(m.keys[:0], z1.Data...), z2.Data...)
	nb, err := g.Backend().Nearest(backend.L2, backend.HostBuffer(m.keys), backend.HostBuffer(m.Queue.Data), p, 1, 0)
	if err != nil {
		bad := g.Failf("nnsiam", []*tensor.Tensor{z1, z2}, "%v", err)
		return bad, bad
	}
	out := [2]*tensor.Tensor{g.Alloc(b, p), g.Alloc(b, p)}
	for i, j := range nb.Index {
		if j < 0 {
			bad := g.Failf("nnsiam", []*tensor.Tensor{z1, z2}, "projection row %d is not finite: no nearest neighbour", i%b)
			return bad, bad
		}
		copy(out[i/b].Data[i%b*p:(i%b+1)*p], m.Queue.Data[int(j)*p:(int(j)+1)*p])
	}
	return out[0], out[1]
}

// AfterStep enqueues the z1 rows kept by the last training Loss: they overwrite
// the oldest rows, from the write position on (wrapping around), which then
// advances by the batch size.
func (m *NNSiam) AfterStep(step, total int) {
	if m.pendingRows == 0 {
		return
	}
	q, p := m.Queue.Shape()[0], m.Queue.Shape()[1]
	ptr := int(m.Ptr.Data[0])
	for i := range m.pendingRows {
		r := (ptr + i) % q
		copy(m.Queue.Data[r*p:(r+1)*p], m.pending[i*p:(i+1)*p])
	}
	m.Ptr.Data[0] = float32((ptr + m.pendingRows) % q)
	m.pendingRows = 0
}

// ExtraState is the queue and its write position.
func (m *NNSiam) ExtraState() []*tensor.Tensor { return []*tensor.Tensor{m.Queue, m.Ptr} }

// FLOPs is SimSiam's step plus the neighbour search: for each view, the GEMM of
// the projection against every queue row (2*queue*ProjDim per image, no backward).
func (m *NNSiam) FLOPs(h, w int) float64 {
	q, p := float64(m.Queue.Shape()[0]), float64(m.Queue.Shape()[1])
	return m.SimSiam.FLOPs(h, w) + 2*2*q*p
}
