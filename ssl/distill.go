package ssl

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"

	"github.com/siam-ssl/siam/nn"
	"github.com/siam-ssl/siam/optim"
	"github.com/siam-ssl/siam/tensor"
)

func init() {
	Register("distill", func(cfg Config, seed uint64) (Method, error) { return NewDistill(cfg, seed) })
}

// Distillation constants (Appendix A.3).
const (
	// DistillAlpha is the weight of each new batch in the exponential moving
	// averages of the teacher features' per-dimension mean and standard deviation.
	DistillAlpha = 0.05
	// DistillEps is added to the standard deviation before dividing, so a
	// dimension the teacher never varies (a dead unit) gives a zero target, not
	// a division by zero.
	DistillEps = 1e-6
)

// Distill is the distillation baseline of Appendix A.3: a student backbone plus
// one linear layer ("head", with bias) regresses the frozen teacher's backbone
// features, standardised per dimension, with the mean squared error:
//
//	L = mean_{i,j} (head(f_s(x))_ij - (f_t(x)_ij - mu_j) / (sigma_j + DistillEps))^2
//
// on one view x. The head's output size is the teacher's feature size. mu and
// sigma are exponential moving averages (weight DistillAlpha per step) of the
// batch mean and of the batch standard deviation (unbiased, N-1) of the teacher
// features, updated online as the paper does, because raw teacher features are
// tiny (0.001-0.1) and would give vanishing gradients.
//
// Initialisation and order: the averages start from the first training batch's
// own statistics (no zero or unit prior to wash out). The step that uses a
// batch normalises with the averages of the steps before it (the first step:
// with its own statistics) and AfterStep then folds the batch in, so the loss
// never depends on statistics the optimizer has not stepped past, and a
// validation pass (which never calls AfterStep) leaves them alone and, once
// they exist, does not depend on its own batch. The averages and the number of
// batches folded in are ExtraState (teacher_mean, teacher_std,
// teacher_updates), so a resumed run continues bit for bit.
//
// The teacher must stay the one the student started with: ExtraState also
// records teacher_digest, a hash of the teacher's state, and Loss fails if the
// teacher now loaded hashes differently (its run folder was continued or
// replaced), rather than silently regressing other targets.
//
// The teacher (Config.Teacher) stays in evaluation mode and runs without
// recording gradients; it is not part of Modules or of the checkpoint: the
// trainer rebuilds it from the teacher's run folder. A teacher may itself be a
// distilled student: only its backbone is used.
type Distill struct {
	Config  Config
	Net     nn.Backbone    // the student backbone (also returned by Backbone)
	Head    *nn.Linear     // student features -> teacher feature size
	All     *nn.Collection // backbone + head, in state-dict order
	Teacher *Teacher
	// Mean, Std [teacher dim] and Updates [1] are the moving statistics.
	Mean, Std, Updates *tensor.Tensor
	// Digest [4] records the hash of the teacher the student was trained with
	// (16 bits per value); digest is the hash of the teacher loaded now.
	Digest *tensor.Tensor
	digest [4]float32

	batchMean, batchStd []float64 // statistics of the last recorded Loss's batch
	pending             bool
}

// NewDistill builds the student: backbone cfg.Backbone (drawn from seed as
// SimSiam's is, so both start from the same weights) and the linear head to
// cfg.Teacher's feature size. A missing teacher is an error.
func NewDistill(cfg Config, seed uint64) (*Distill, error) {
	if cfg.Teacher == nil || cfg.Teacher.Backbone == nil {
		return nil, errors.New("distill: no teacher (train with --teacher RUN_DIR, the run folder of a trained model)")
	}
	rng := rand.New(rand.NewPCG(seed, 0x51a5))
	m := &Distill{Config: cfg, All: &nn.Collection{}, Teacher: cfg.Teacher}
	bb, err := nn.NewBackbone(m.All, "backbone.", cfg.Backbone, rng)
	if err != nil {
		return nil, err
	}
	m.Net = bb
	dt := cfg.Teacher.Backbone.FeatureDim()
	m.Head = nn.NewLinear(m.All, "head", bb.FeatureDim(), dt, true, rng)
	m.Mean, m.Std, m.Updates = tensor.New(dt), tensor.New(dt), tensor.New(1)
	m.Mean.Name, m.Std.Name, m.Updates.Name = "teacher_mean", "teacher_std", "teacher_updates"
	for i := range m.Std.Data {
		m.Std.Data[i] = 1
	}
	if cfg.Teacher.Modules != nil {
		cfg.Teacher.Modules.SetTraining(false)
	}
	m.digest = TeacherDigest(cfg.Teacher)
	m.Digest = tensor.New(4)
	m.Digest.Name = "teacher_digest"
	copy(m.Digest.Data, m.digest[:])
	return m, nil
}

// TeacherDigest hashes a teacher's state (names, shapes and value bits of
// Modules().StateDict(), FNV-1a 64) into four 16-bit integers held exactly as
// float32 values: a checkpointable fingerprint of the teacher. Without Modules
// it is all zero.
func TeacherDigest(t *Teacher) [4]float32 {
	var d [4]float32
	if t == nil || t.Modules == nil {
		return d
	}
	h := fnv.New64a()
	buf := make([]byte, 0, 1<<16)
	for _, p := range t.Modules.StateDict() {
		fmt.Fprintf(h, "%s%v;", p.Name, p.Shape())
		for _, v := range p.Data {
			if len(buf)+4 > cap(buf) {
				h.Write(buf)
				buf = buf[:0]
			}
			buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(v))
		}
		h.Write(buf)
		buf = buf[:0]
	}
	s := h.Sum64()
	for i := range d {
		d[i] = float32(s >> (16 * i) & 0xffff)
	}
	return d
}

// Name is "distill".
func (m *Distill) Name() string { return "distill" }

// Views is 1: distillation regresses the teacher on a single view.
func (m *Distill) Views() int { return 1 }

// Backbone returns the student backbone, the network every evaluation measures.
func (m *Distill) Backbone() nn.Backbone { return m.Net }

// Represent is the student backbone's forward pass.
func (m *Distill) Represent(g *tensor.Graph, x *tensor.Tensor) *tensor.Tensor {
	return m.Net.Forward(g, x)
}

// SetTraining switches the student's BN layers; the teacher stays in
// evaluation mode.
func (m *Distill) SetTraining(v bool) { m.All.SetTraining(v) }

// Modules returns the student: backbone then head.
func (m *Distill) Modules() *nn.Collection { return m.All }

// ParamGroups is one group, the whole student on the schedule with weight
// decay wd: the head is a regressor, not a SimSiam predictor, so fixPredictor
// does not apply.
func (m *Distill) ParamGroups(lr, wd float64, fixPredictor bool) []optim.Group {
	return []optim.Group{{Params: m.All.Params, WeightDecay: wd}}
}

// Predict is the student's output for images x: head(backbone(x)), [N, teacher dim].
func (m *Distill) Predict(g *tensor.Graph, x *tensor.Tensor) *tensor.Tensor {
	return m.Head.Forward(g, m.Net.Forward(g, x))
}

// TeacherFeatures runs the frozen teacher on x without recording gradients.
func (m *Distill) TeacherFeatures(g *tensor.Graph, x *tensor.Tensor) *tensor.Tensor {
	rec := g.NoGrad()
	g.SetNoGrad(true)
	t := m.Teacher.Backbone.Forward(g, x)
	g.SetNoGrad(rec)
	return t
}

// Loss is the MSE between the student's prediction for x1 and the teacher's
// standardised features of x1 (x2 is ignored and may be nil). When the graph
// records gradients the batch statistics are kept for AfterStep.
func (m *Distill) Loss(g *tensor.Graph, x1, x2 *tensor.Tensor) *tensor.Tensor {
	if [4]float32(m.Digest.Data) != m.digest {
		return g.Failf("distill", nil, "the teacher loaded now (digest %v) is not the one this student was trained with (%v): its run folder was continued or replaced", m.digest, m.Digest.Data)
	}
	t := m.TeacherFeatures(g, x1)
	s := m.Predict(g, x1)
	if !g.OK("distill", t, s) {
		return s
	}
	sh := t.Shape()
	n, d := sh[0], sh[1]
	if len(m.Mean.Data) != d {
		return g.Failf("distill", []*tensor.Tensor{t}, "teacher features have %d dimensions, the head predicts %d", d, len(m.Mean.Data))
	}
	first := m.Updates.Data[0] == 0
	if n >= 2 {
		m.batchStats(t.Data, n, d)
	} else if first || !g.NoGrad() {
		return g.Failf("distill", []*tensor.Tensor{t}, "a batch of %d image: the teacher statistics need at least 2", n)
	}
	mean, std := m.batchMean, m.batchStd
	target := g.Alloc(n, d)
	for i := range n {
		for j := range d {
			mu, sd := float64(m.Mean.Data[j]), float64(m.Std.Data[j])
			if first {
				mu, sd = mean[j], std[j]
			}
			target.Data[i*d+j] = float32((float64(t.Data[i*d+j]) - mu) / (sd + DistillEps))
		}
	}
	m.pending = !g.NoGrad()
	return g.MSE(s, target)
}

// batchStats sets batchMean and batchStd (unbiased) of the n x d features t, in
// float64.
func (m *Distill) batchStats(t []float32, n, d int) {
	m.batchMean = append(m.batchMean[:0], make([]float64, d)...)
	m.batchStd = append(m.batchStd[:0], make([]float64, d)...)
	for i := range n {
		for j, v := range t[i*d : (i+1)*d] {
			m.batchMean[j] += float64(v)
		}
	}
	for j := range d {
		m.batchMean[j] /= float64(n)
	}
	for i := range n {
		for j, v := range t[i*d : (i+1)*d] {
			e := float64(v) - m.batchMean[j]
			m.batchStd[j] += e * e
		}
	}
	for j := range d {
		m.batchStd[j] = math.Sqrt(m.batchStd[j] / float64(n-1))
	}
}

// AfterStep folds the last training batch's statistics into the moving
// averages: the first batch sets them, later ones move them by DistillAlpha.
func (m *Distill) AfterStep(step, total int) {
	if !m.pending {
		return
	}
	m.pending = false
	first := m.Updates.Data[0] == 0
	for j := range m.Mean.Data {
		if first {
			m.Mean.Data[j], m.Std.Data[j] = float32(m.batchMean[j]), float32(m.batchStd[j])
			continue
		}
		m.Mean.Data[j] = float32((1-DistillAlpha)*float64(m.Mean.Data[j]) + DistillAlpha*m.batchMean[j])
		m.Std.Data[j] = float32((1-DistillAlpha)*float64(m.Std.Data[j]) + DistillAlpha*m.batchStd[j])
	}
	m.Updates.Data[0]++
}

// ExtraState is the moving statistics (teacher_mean, teacher_std,
// teacher_updates) and the teacher's digest (teacher_digest).
func (m *Distill) ExtraState() []*tensor.Tensor {
	return []*tensor.Tensor{m.Mean, m.Std, m.Updates, m.Digest}
}

// FLOPs per image: the student's forward and backward (3x its forward, head
// included) plus the teacher's forward.
func (m *Distill) FLOPs(h, w int) float64 {
	head := 2 * float64(m.Net.FeatureDim()) * float64(len(m.Mean.Data))
	return 3*(m.Net.FLOPs(h, w)+head) + m.Teacher.Backbone.FLOPs(h, w)
}
