package tensor

import (
	"math"

	"github.com/siam-ssl/siam/parallel"
)

// Multi-head scaled dot-product attention, the core of a transformer block:
//
//	out_h = softmax(q_h k_h^T / sqrt(d_h)) v_h    for every batch item and head h,
//
// where head h owns columns [h*d_h, (h+1)*d_h) of the model dimension D
// (d_h = D/heads), as in timm's and PyTorch's multi-head attention, and the
// heads' outputs are written back side by side into [B, Nq, D].
//
// The op is fused: the heads are never copied out into [B, heads, N, d_h]
// tensors. Each (batch item, head) pair is one unit of work for one core, and
// its three products run on the GEMM kernels (kernels.Sgemm) directly on the
// strided columns of q, k and v (the leading dimension skips the other heads).
// The softmax is applied in place on the score matrix, whose scale is folded
// into the GEMM, and the probabilities are kept for the backward pass
// (B*heads*Nq*Nk floats). The backward pass recomputes nothing else:
//
//	dV = P^T dO,  dP = dO V^T,  dS = P (dP - rowsum(dP P)),  dQ = s dS K,  dK = s dS^T Q.

// Attention computes multi-head attention of queries q [B, Nq, D] over keys
// k [B, Nk, D] and values v [B, Nk, D] with the given number of heads, scaled by
// 1/sqrt(D/heads); the result is [B, Nq, D]. heads must divide D.
func (g *Graph) Attention(q, k, v *Tensor, heads int) *Tensor {
	const op = "attention"
	if !g.OK(op, q, k, v) {
		return g.dead
	}
	ts := []*Tensor{q, k, v}
	if q.Rank() != 3 || k.Rank() != 3 || v.Rank() != 3 {
		return g.Fail(op, "q, k and v must be [B, N, D]", ts...)
	}
	B, Nq, D := q.shape[0], q.shape[1], q.shape[2]
	Nk := k.shape[1]
	switch {
	case k.shape[0] != B || v.shape[0] != B:
		return g.Fail(op, "batch sizes differ", ts...)
	case k.shape[2] != D || v.shape[2] != D:
		return g.Fail(op, "model dimensions differ", ts...)
	case v.shape[1] != Nk:
		return g.Fail(op, "k and v have different lengths", ts...)
	case heads < 1 || D%heads != 0:
		return g.Failf(op, ts, "%d heads do not divide the model dimension %d", heads, D)
	}
	a := attnPlan{B: B, Nq: Nq, Nk: Nk, D: D, H: heads}
	// Shared inputs (self-attention with one tensor for q, k and v) share one
	// gradient buffer: accumulate into it rather than overwrite.
	shared := q == k || k == v || q == v
	return g.attention(a, attnOperand{q, 0, D}, attnOperand{k, 0, D}, attnOperand{v, 0, D}, false, shared)
}

// AttentionQKV is Attention on a packed projection qkv [B, N, 3D] whose last
// dimension holds q, k and v one after the other (timm's qkv Linear layout), so
// a transformer block feeds its qkv projection straight in without splitting it.
// The result is [B, N, D]; heads must divide D.
func (g *Graph) AttentionQKV(qkv *Tensor, heads int) *Tensor {
	const op = "attention_qkv"
	if !g.OK(op, qkv) {
		return g.dead
	}
	if qkv.Rank() != 3 || qkv.shape[2]%3 != 0 {
		return g.Fail(op, "qkv must be [B, N, 3D]", qkv)
	}
	B, N, D := qkv.shape[0], qkv.shape[1], qkv.shape[2]/3
	if heads < 1 || D%heads != 0 {
		return g.Failf(op, []*Tensor{qkv}, "%d heads do not divide the model dimension %d", heads, D)
	}
	a := attnPlan{B: B, Nq: N, Nk: N, D: D, H: heads}
	return g.attention(a, attnOperand{qkv, 0, 3 * D}, attnOperand{qkv, D, 3 * D}, attnOperand{qkv, 2 * D, 3 * D}, true, false)
}

// attnPlan holds the sizes of one attention call.
type attnPlan struct{ B, Nq, Nk, D, H int }

// attnOperand locates q, k or v: row n of batch item b starts at
// t.Data[(b*N+n)*ld + off], and head h's columns follow at h*d_h.
type attnOperand struct {
	t       *Tensor
	off, ld int
}

// at returns the operand's data (or gradient buf) from head h of item b on.
func (o attnOperand) at(buf []float32, b, n, h, hd int) []float32 {
	return buf[b*n*o.ld+o.off+h*hd:]
}

// attnGrad is a gradient destination: buf (nil when none is needed) and the
// GEMM beta that writes (0) or accumulates (1) into it.
type attnGrad struct {
	buf  []float32
	beta float32
}

func attnBeta(fresh bool) float32 {
	if fresh {
		return 0
	}
	return 1
}

func attnGradOut(g *Graph, t *Tensor) attnGrad {
	if !t.requiresGrad {
		return attnGrad{}
	}
	buf, fresh := g.gradOut(t)
	return attnGrad{buf, attnBeta(fresh)}
}

func attnGradAcc(g *Graph, t *Tensor) attnGrad {
	if !t.requiresGrad {
		return attnGrad{}
	}
	return attnGrad{g.GradOf(t), 1}
}

// attention runs the fused op. packed: q, k and v are column blocks of one
// tensor; shared: some of q, k, v are the same tensor (separate operands).
func (g *Graph) attention(a attnPlan, q, k, v attnOperand, packed, shared bool) *Tensor {
	out := g.Alloc(a.B, a.Nq, a.D)
	hd := a.D / a.H
	scale := float32(1 / math.Sqrt(float64(hd)))
	units, pn := a.B*a.H, a.Nq*a.Nk
	if len(out.Data) == 0 || a.Nk == 0 {
		clear(out.Data)
		return out
	}
	record := !g.noGrad && (q.t.requiresGrad || k.t.requiresGrad || v.t.requiresGrad)
	// The probabilities: kept for the backward pass when recording, otherwise one
	// score matrix per worker.
	var probs []float32
	if record {
		probs = g.Scratch(units * pn)
	} else {
		probs = g.Scratch(min(units, parallel.Workers()) * pn)
	}
	qd, kd, vd, od := q.t.Data, k.t.Data, v.t.Data, out.Data
	par := units == 1 // one unit: let its GEMMs use every core
	parallel.ForWorker(units, func(w, lo, hi int) {
		for u := lo; u < hi; u++ {
			b, h := u/a.H, u%a.H
			p := probs[w*pn : (w+1)*pn]
			if record {
				p = probs[u*pn : (u+1)*pn]
			}
			// S = scale * Q_h K_h^T  [Nq, Nk]
			g.mmGemm(par, false, true, a.Nq, a.Nk, hd, scale,
				q.at(qd, b, a.Nq, h, hd), q.ld, k.at(kd, b, a.Nk, h, hd), k.ld, 0, p, a.Nk)
			g.be.SoftmaxRows(hb(p[:a.Nq*a.Nk]), a.Nq, a.Nk)
			// O_h = P V_h  [Nq, hd], into columns h*hd of out
			g.mmGemm(par, false, false, a.Nq, hd, a.Nk, 1,
				p, a.Nk, v.at(vd, b, a.Nk, h, hd), v.ld, 0, od[b*a.Nq*a.D+h*hd:], a.D)
		}
	})
	if !record {
		return out
	}
	g.Record(out, func() {
		gy := out.Grad
		// Gradient buffers, each written (beta 0: a fresh buffer, whose every
		// element exactly one unit writes once) or accumulated into (beta 1).
		var gq, gk, gv attnGrad
		switch {
		case packed: // one buffer holds dq|dk|dv
			if q.t.requiresGrad {
				buf, fresh := g.gradOut(q.t)
				gq = attnGrad{buf, attnBeta(fresh)}
				gk, gv = gq, gq
			}
		case shared: // aliased inputs: every term adds into the same buffer
			gq, gk, gv = attnGradAcc(g, q.t), attnGradAcc(g, k.t), attnGradAcc(g, v.t)
		default:
			gq, gk, gv = attnGradOut(g, q.t), attnGradOut(g, k.t), attnGradOut(g, v.t)
		}
		dps := g.Scratch(min(units, parallel.Workers()) * pn)
		parallel.ForWorker(units, func(w, lo, hi int) {
			dp := dps[w*pn : (w+1)*pn]
			for u := lo; u < hi; u++ {
				b, h := u/a.H, u%a.H
				p := probs[u*pn : (u+1)*pn]
				dO := gy[b*a.Nq*a.D+h*hd:]
				if gv.buf != nil { // dV_h = P^T dO_h  [Nk, hd]
					g.mmGemm(par, true, false, a.Nk, hd, a.Nq, 1,
						p, a.Nk, dO, a.D, gv.beta, v.at(gv.buf, b, a.Nk, h, hd), v.ld)
				}
				if gq.buf == nil && gk.buf == nil {
					continue
				}
				// dP = dO_h V_h^T  [Nq, Nk], then dS = P (dP - rowsum(dP P)) in place
				g.mmGemm(par, false, true, a.Nq, a.Nk, hd, 1,
					dO, a.D, v.at(vd, b, a.Nk, h, hd), v.ld, 0, dp, a.Nk)
				for r := 0; r < a.Nq; r++ {
					pr, dr := p[r*a.Nk:(r+1)*a.Nk], dp[r*a.Nk:(r+1)*a.Nk]
					dot := g.be.Dot(hb(dr), hb(pr))
					for j, pv := range pr {
						dr[j] = pv * (dr[j] - dot)
					}
				}
				if gq.buf != nil { // dQ_h = scale dS K_h  [Nq, hd]
					g.mmGemm(par, false, false, a.Nq, hd, a.Nk, scale,
						dp, a.Nk, k.at(kd, b, a.Nk, h, hd), k.ld, gq.beta, q.at(gq.buf, b, a.Nq, h, hd), q.ld)
				}
				if gk.buf != nil { // dK_h = scale dS^T Q_h  [Nk, hd]
					g.mmGemm(par, true, false, a.Nk, hd, a.Nq, scale,
						dp, a.Nk, q.at(qd, b, a.Nq, h, hd), q.ld, gk.beta, k.at(gk.buf, b, a.Nk, h, hd), k.ld)
				}
			}
		})
	}, q.t, k.t, v.t)
	return out
}
