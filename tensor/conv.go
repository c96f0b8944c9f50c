package tensor

import "github.com/siam-ssl/siam/backend"

// ConvOpts configures a 2-D convolution: square stride and zero padding.
type ConvOpts struct {
	Stride int // >= 1
	Pad    int // >= 0
}

// Conv2d convolves x [N,C,H,W] with w [K,C,R,S] (PyTorch layout) and adds bias b [K]
// when b is non-nil, giving [N,K,Ho,Wo] with Ho = (H+2*Pad-R)/Stride+1 (likewise Wo).
// The backend receives the convolution itself (backend.Conv) and picks its
// lowering: backend/cpu lowers each image, or group of small images, to one GEMM
// whose rows are the K output channels and spreads the images over the cores. The
// backward pass skips the input gradient when x needs none (the first layer).
func (g *Graph) Conv2d(x, w, b *Tensor, o ConvOpts) *Tensor {
	if !g.OK("conv2d", x, w) {
		return g.dead
	}
	p, ok := g.convCheck("conv2d", x, w, b, o)
	if !ok {
		return g.dead
	}
	out := g.Alloc(p.N, p.K, p.OutH, p.OutW)
	var ep backend.ConvEpilogue
	if b != nil {
		ep.Shift = hb(b.Data)
	}
	g.be.ConvForward(p, hb(x.Data), hb(w.Data), ep, hb(out.Data), false)
	g.Record(out, func() { g.conv2dBackward(p, x, w, b, out) }, x, w, b)
	return out
}

// convCheck validates the operands of a convolution and returns its parameters.
func (g *Graph) convCheck(op string, x, w, b *Tensor, o ConvOpts) (backend.ConvParams, bool) {
	ts := []*Tensor{x, w}
	if b != nil {
		ts = append(ts, b)
	}
	switch {
	case x.Rank() != 4:
		g.Failf(op, ts, "input must be [N,C,H,W], got rank %d", x.Rank())
	case w.Rank() != 4:
		g.Failf(op, ts, "weight must be [K,C,R,S], got rank %d", w.Rank())
	case x.shape[1] != w.shape[1]:
		g.Failf(op, ts, "input channels %d != weight channels %d", x.shape[1], w.shape[1])
	case b != nil && (b.Rank() != 1 || b.shape[0] != w.shape[0]):
		g.Failf(op, ts, "bias must be [%d], got %v", w.shape[0], b.shape)
	case o.Stride < 1:
		g.Failf(op, ts, "stride %d < 1", o.Stride)
	case o.Pad < 0:
		g.Failf(op, ts, "padding %d < 0", o.Pad)
	case w.shape[2] < 1 || w.shape[3] < 1:
		g.Failf(op, ts, "empty kernel %dx%d", w.shape[2], w.shape[3])
	}
	if g.err != nil {
		return backend.ConvParams{}, false
	}
	n, c, h, wd := x.shape[0], x.shape[1], x.shape[2], x.shape[3]
	r, s := w.shape[2], w.shape[3]
	ho := (h+2*o.Pad-r)/o.Stride + 1
	wo := (wd+2*o.Pad-s)/o.Stride + 1
	if h+2*o.Pad < r || wd+2*o.Pad < s || ho < 1 || wo < 1 {
		g.Failf(op, ts, "kernel %dx%d larger than padded input %dx%d (pad %d)", r, s, h+2*o.Pad, wd+2*o.Pad, o.Pad)
		return backend.ConvParams{}, false
	}
	return backend.ConvParams{N: n, C: c, H: h, W: wd, K: w.shape[0], R: r, S: s, Stride: o.Stride,
		PadH: o.Pad, PadW: o.Pad, OutH: ho, OutW: wo}, true
}

// conv2dBackward accumulates the gradients of Conv2d into x, w and b.
func (g *Graph) conv2dBackward(p backend.ConvParams, x, w, b, out *Tensor) {
	dy := out.Grad
	if w.requiresGrad || (b != nil && b.requiresGrad) {
		var gb, gw []float32
		if b != nil && b.requiresGrad {
			gb = g.GradOf(b)
		}
		if w.requiresGrad {
			gw = g.GradOf(w)
		}
		g.be.ConvBackwardFilter(p, hb(x.Data), hb(dy), hb(gw), hb(gb))
	}
	if !x.requiresGrad {
		return
	}
	// A gradient buffer that does not exist yet is taken uninitialised from the
	// arena and written (or cleared image by image) rather than cleared whole and
	// then accumulated into: one pass over dX instead of three.
	fresh := x.Grad == nil
	if fresh {
		x.Grad = g.Scratch(len(x.Data))
	}
	g.be.ConvBackwardData(p, hb(dy), hb(w.Data), hb(x.Grad), !fresh)
}
