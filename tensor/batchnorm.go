package tensor

import (
	"math"

	"github.com/siam-ssl/siam/parallel"
)

// BatchNorm holds one batch-norm layer's state: affine parameters (nil when affine
// is off) and running statistics (updated in training mode with momentum, as
// PyTorch: running = (1-m)*running + m*batch, running variance unbiased).
//
// With RunningMean and RunningVar nil (PyTorch's track_running_stats=False) the
// batch statistics are used in both modes and nothing is updated. Momentum 0
// leaves the running statistics unchanged (PyTorch's momentum=None cumulative
// average is not supported); NumBatchesTracked still counts the batches.
type BatchNorm struct {
	Weight, Bias            *Tensor // [C] parameters, or nil when affine is off
	RunningMean, RunningVar *Tensor // [C] buffers, not parameters
	NumBatchesTracked       int64
	Momentum, Eps           float32
	Training                bool
}

// BatchNorm normalises x [N,C], [N,C,L] or [N,C,H,W] per channel: with batch
// statistics in training mode (updating the running ones), with running statistics
// otherwise.
//
// As in PyTorch the running statistics are updated whenever bn.Training is set,
// also with recording off (SetNoGrad); the batch variance used to normalise is the
// biased one, the one folded into RunningVar is unbiased (times M/(M-1), M = N*L or
// N*H*W values per channel). Training on a single value per channel is an error.
// The statistics are accumulated in float64 over float32 partial sums of at most
// 1024 shifted values (kernels.ChannelSumsPlanes: the same bits on every
// instruction set). The backward pass costs one reduction pass and one apply
// pass over dy and x per channel; with AVX2 or AVX-512 its sums widen every term
// to float64 (kernels.BNBackwardReduce).
func (g *Graph) BatchNorm(x *Tensor, bn *BatchNorm) *Tensor {
	return g.batchNorm("batchnorm", x, bn, false)
}

// BatchNormReLU is ReLU(BatchNorm(x)) in one pass over memory.
//
// The forward pass writes relu(bn(x)) while normalising; the backward pass
// recomputes the pre-activation from x and the saved statistics and masks dy
// inside the BatchNorm reduction pass, so no separate ReLU pass and no extra
// buffer are needed. The reduction pass stores the masked gradient back into the
// output's Grad (which nothing reads after this op's backward has run), so after
// Backward that buffer holds the gradient with respect to the pre-activation.
// Running statistics and errors are as for BatchNorm.
func (g *Graph) BatchNormReLU(x *Tensor, bn *BatchNorm) *Tensor {
	return g.batchNorm("batchnorm_relu", x, bn, true)
}

// bnParam returns the per-channel parameter values of t, or nil when t is nil.
func bnParam(t *Tensor) []float32 {
	if t == nil {
		return nil
	}
	return t.Data
}

// bnScale returns channel ch's y = x*sc + sh: sc = w[ch]*inv (inv when w is nil),
// sh = b[ch] - mean*sc (b[ch] = 0 when b is nil), the form PyTorch's CPU kernel
// uses. Forward and backward both call it, so the recomputed ReLU pre-activation
// is bit-identical to the forward one.
func bnScale(w, b []float32, ch int, mean, inv float32) (sc, sh float32) {
	sc = inv
	if w != nil {
		sc = w[ch] * inv
	}
	sh64 := -float64(mean) * float64(sc)
	if b != nil {
		sh64 += float64(b[ch])
	}
	return sc, float32(sh64)
}

func (g *Graph) batchNorm(op string, x *Tensor, bn *BatchNorm, relu bool) *Tensor {
	if !g.OK(op, x) {
		return g.dead
	}
	if bn == nil {
		return g.Fail(op, "BatchNorm state is nil", x)
	}
	if x.Rank() < 2 {
		return g.Failf(op, []*Tensor{x}, "want input [N,C], [N,C,L] or [N,C,H,W], got rank %d", x.Rank())
	}
	n, c := x.shape[0], x.shape[1]
	s := numel(x.shape[2:])
	for _, p := range [...]struct {
		name string
		t    *Tensor
	}{{"weight", bn.Weight}, {"bias", bn.Bias}, {"running mean", bn.RunningMean}, {"running var", bn.RunningVar}} {
		if p.t != nil && (p.t.Rank() != 1 || p.t.shape[0] != c) {
			return g.Failf(op, []*Tensor{x, p.t}, "%s has shape %v, want [%d] (input channels)", p.name, p.t.shape, c)
		}
	}
	if (bn.RunningMean == nil) != (bn.RunningVar == nil) {
		return g.Fail(op, "running mean and running var must both be set or both be nil", x)
	}
	useBatch := bn.Training || bn.RunningMean == nil
	update := bn.Training && bn.RunningMean != nil
	m := n * s
	if useBatch && m == 1 {
		return g.Failf(op, []*Tensor{x}, "expected more than 1 value per channel when training, got input size %v", x.shape)
	}
	out := g.Alloc(x.shape...)
	if update {
		bn.NumBatchesTracked++
	}
	if m == 0 || c == 0 {
		return out
	}

	xd, od := x.Data, out.Data
	w, b := bnParam(bn.Weight), bnParam(bn.Bias)
	var rm, rv []float32
	if bn.RunningMean != nil {
		rm, rv = bn.RunningMean.Data, bn.RunningVar.Data
	}
	eps, mom, fm := float64(bn.Eps), float64(bn.Momentum), float64(m)
	st := g.Scratch(2 * c) // mean[c], invstd[c] for the backward pass
	mean, inv := st[:c], st[c:]

	// finish turns the shifted sums of channel ch into mean and invstd and
	// updates the running statistics.
	finish := func(ch int, k float32, sum, sq float64) {
		mu := sum / fm
		v := max(sq/fm-mu*mu, 0)
		mk := float64(k) + mu
		if update {
			rm[ch] = float32((1-mom)*float64(rm[ch]) + mom*mk)
			rv[ch] = float32((1-mom)*float64(rv[ch]) + mom*v*fm/(fm-1))
		}
		mean[ch] = float32(mk)
		inv[ch] = float32(1 / math.Sqrt(v+eps))
	}
	evalStats := func(ch int) {
		mean[ch] = rm[ch]
		inv[ch] = float32(1 / math.Sqrt(float64(rv[ch])+eps))
	}
	grain := max(1, (1<<14)/m)

	if s == 1 {
		// [N,C]: channels are contiguous within a row; each worker owns a range
		// of channels and walks the rows.
		parallel.ForGrain(c, grain, func(c0, c1 int) {
			nc := c1 - c0
			if useBatch {
				acc := make([]float64, 2*nc)
				sum, sq := acc[:nc], acc[nc:]
				k := xd[c0:c1]
				for i := range n {
					row := xd[i*c+c0 : i*c+c1]
					sum, sq, k := sum[:len(row)], sq[:len(row)], k[:len(row)]
					for j, v := range row {
						d := float64(v - k[j])
						sum[j] += d
						sq[j] += d * d
					}
				}
				for j := range nc {
					finish(c0+j, k[j], sum[j], sq[j])
				}
			} else {
				for ch := c0; ch < c1; ch++ {
					evalStats(ch)
				}
			}
			ss := make([]float32, 2*nc)
			sc, sh := ss[:nc], ss[nc:]
			for j := range nc {
				sc[j], sh[j] = bnScale(w, b, c0+j, mean[c0+j], inv[c0+j])
			}
			for i := range n {
				row := xd[i*c+c0 : i*c+c1]
				o, sc, sh := od[i*c+c0:i*c+c1], sc[:len(row)], sh[:len(row)]
				if relu {
					for j, v := range row {
						o[j] = reluScalar(v*sc[j] + sh[j])
					}
				} else {
					for j, v := range row {
						o[j] = v*sc[j] + sh[j]
					}
				}
			}
		})
	} else {
		// [N,C,...]: each (n,c) plane is s contiguous values. Channel by channel,
		// the statistics pass pulls the channel into L2 and the normalise pass
		// reads it back from there.
		parallel.ForGrain(c, grain, func(c0, c1 int) {
			for ch := c0; ch < c1; ch++ {
				if useBatch {
					k := xd[ch*s]
					sum, sq := g.be.ChannelSums(hb(xd[ch*s:]), n, s, c*s, k)
					finish(ch, k, sum, sq)
				} else {
					evalStats(ch)
				}
				sc, sh := bnScale(w, b, ch, mean[ch], inv[ch])
				for i := range n {
					off := (i*c + ch) * s
					if relu {
						g.be.ScaleShift(hb(od[off:off+s]), hb(xd[off:off+s]), sc, sh, true)
					} else {
						g.be.ScaleShift(hb(od[off:off+s]), hb(xd[off:off+s]), sc, sh, false)
					}
				}
			}
		})
	}

	wt, bt := bn.Weight, bn.Bias
	g.Record(out, func() {
		gy := out.Grad
		gx, gw, gb, accX := g.normGrads(x, wt, bt)
		needRed := gw != nil || gb != nil || (gx != nil && useBatch)
		// coef turns channel ch's sums into the parameter gradients and the
		// coefficients of dx = k*g + p*x + q, that is
		// k*(g - sum(g)/M - xhat*sum(g*xhat)/M) with k = w*invstd.
		coef := func(ch int, sg, sgx float64) (k, p, q float32) {
			iv := float64(inv[ch])
			if gw != nil {
				gw[ch] += float32(sgx * iv)
			}
			if gb != nil {
				gb[ch] += float32(sg)
			}
			kk := iv
			if w != nil {
				kk *= float64(w[ch])
			}
			if !useBatch {
				return float32(kk), 0, 0
			}
			pp := -kk * iv * iv * sgx / fm
			return float32(kk), float32(pp), float32(-kk*sg/fm - pp*float64(mean[ch]))
		}
		if s == 1 {
			parallel.ForGrain(c, grain, func(c0, c1 int) {
				nc := c1 - c0
				buf := make([]float32, 5*nc)
				sc, sh, kc, pc, qc := buf[:nc], buf[nc:2*nc], buf[2*nc:3*nc], buf[3*nc:4*nc], buf[4*nc:]
				for j := range nc {
					sc[j], sh[j] = bnScale(w, b, c0+j, mean[c0+j], inv[c0+j])
				}
				mu := mean[c0:c1]
				red := make([]float64, 2*nc)
				sg, sgx := red[:nc], red[nc:]
				if needRed {
					for i := range n {
						row := xd[i*c+c0 : i*c+c1]
						dr, mu, sc, sh, sg, sgx := gy[i*c+c0:i*c+c1], mu[:len(row)], sc[:len(row)], sh[:len(row)], sg[:len(row)], sgx[:len(row)]
						for j, v := range row {
							d, cv := dr[j], v-mu[j]
							if relu {
								d = maskPos(d, v*sc[j]+sh[j])
								dr[j] = d
							}
							sg[j] += float64(d)
							sgx[j] += float64(d) * float64(cv)
						}
					}
				}
				for j := range nc {
					kc[j], pc[j], qc[j] = coef(c0+j, sg[j], sgx[j])
				}
				if gx == nil {
					return
				}
				for i := range n {
					row := xd[i*c+c0 : i*c+c1]
					dr, o, sc, sh := gy[i*c+c0:i*c+c1], gx[i*c+c0:i*c+c1], sc[:len(row)], sh[:len(row)]
					kc, pc, qc := kc[:len(row)], pc[:len(row)], qc[:len(row)]
					for j, v := range row {
						d := dr[j]
						if relu && !needRed {
							d = maskPos(d, v*sc[j]+sh[j])
						}
						r := kc[j]*d + pc[j]*v + qc[j]
						if accX {
							o[j] += r
						} else {
							o[j] = r
						}
					}
				}
			})
			return
		}
		parallel.ForGrain(c, grain, func(c0, c1 int) {
			for ch := c0; ch < c1; ch++ {
				mu := mean[ch]
				sc, sh := bnScale(w, b, ch, mu, inv[ch])
				var sg, sgx float64
				if needRed {
					for i := range n {
						off := (i*c + ch) * s
						var a, q float64
						if relu {
							a, q = g.be.BNBackwardReduce(hb(gy[off:off+s]), hb(xd[off:off+s]), mu, true, sc, sh)
						} else {
							a, q = g.be.BNBackwardReduce(hb(gy[off:off+s]), hb(xd[off:off+s]), mu, false, 0, 0)
						}
						sg += a
						sgx += q
					}
				}
				k, p, q := coef(ch, sg, sgx)
				if gx == nil {
					continue
				}
				for i := range n {
					off := (i*c + ch) * s
					switch {
					case relu && !needRed:
						bnBwdScaleReLU(gx[off:off+s], gy[off:off+s], xd[off:off+s], sc, sh, k, accX)
					case useBatch && accX:
						g.be.BNBackwardApply(hb(gx[off:off+s]), hb(gy[off:off+s]), hb(xd[off:off+s]), k, p, q, true)
					case useBatch:
						g.be.BNBackwardApply(hb(gx[off:off+s]), hb(gy[off:off+s]), hb(xd[off:off+s]), k, p, q, false)
					default:
						scaleInto(gx[off:off+s], gy[off:off+s], k, accX)
					}
				}
			}
		})
	}, x, wt, bt)
	return out
}

// normGrads returns the gradient buffers a normalisation op's backward writes: x's
// (overwritten when fresh, accumulated when accX) and the affine weight's and
// bias's (nil when absent or not requiring a gradient).
func (g *Graph) normGrads(x, w, b *Tensor) (gx, gw, gb []float32, accX bool) {
	if x.requiresGrad {
		var fresh bool
		gx, fresh = g.gradOut(x)
		accX = !fresh
	}
	if w != nil && w.requiresGrad {
		gw = g.GradOf(w)
	}
	if b != nil && b.requiresGrad {
		gb = g.GradOf(b)
	}
	return gx, gw, gb, accX
}
