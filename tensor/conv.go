package tensor

import "github.com/siam-ssl/siam/parallel"

// ConvOpts configures a 2-D convolution: square stride and zero padding.
type ConvOpts struct {
	Stride int // >= 1
	Pad    int // >= 0
}

// Conv2d convolves x [N,C,H,W] with w [K,C,R,S] (PyTorch layout) and adds bias b [K]
// when b is non-nil, giving [N,K,Ho,Wo] with Ho = (H+2*Pad-R)/Stride+1 (likewise Wo).
//
// Each image (or, for small images, each group of images) is lowered to one GEMM
// whose rows are the K output channels, out[K, Ho*Wo] = W[K, C*R*S] x col, and the
// images are spread over the cores; a 1x1 stride-1 convolution multiplies the image
// directly. The backward pass computes the input gradient as a transposed
// convolution (stride 1) or through col2im (strided), and the weight gradient with
// per-worker partial sums over images; it skips the input gradient when x needs
// none (the first layer).
func (g *Graph) Conv2d(x, w, b *Tensor, o ConvOpts) *Tensor {
	if !g.OK("conv2d", x, w) {
		return g.dead
	}
	l, ok := g.convCheck("conv2d", x, w, b, o)
	if !ok {
		return g.dead
	}
	k := w.shape[0]
	out := g.Alloc(l.n, k, l.ho, l.wo)
	var ep *convEpilogue
	if b != nil {
		ep = &convEpilogue{shift: b.Data}
	}
	l.forward(x.Data, w.Data, k, out.Data, false, ep)
	g.Record(out, func() { g.conv2dBackward(l, x, w, b, out) }, x, w, b)
	return out
}

// convCheck validates the operands of a convolution and returns its lowering.
func (g *Graph) convCheck(op string, x, w, b *Tensor, o ConvOpts) (lowering, bool) {
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
		return lowering{}, false
	}
	n, c, h, wd := x.shape[0], x.shape[1], x.shape[2], x.shape[3]
	r, s := w.shape[2], w.shape[3]
	ho := (h+2*o.Pad-r)/o.Stride + 1
	wo := (wd+2*o.Pad-s)/o.Stride + 1
	if h+2*o.Pad < r || wd+2*o.Pad < s || ho < 1 || wo < 1 {
		g.Failf(op, ts, "kernel %dx%d larger than padded input %dx%d (pad %d)", r, s, h+2*o.Pad, wd+2*o.Pad, o.Pad)
		return lowering{}, false
	}
	return lowering{n: n, cin: c, hin: h, win: wd, r: r, s: s, stride: o.Stride,
		padH: o.Pad, padW: o.Pad, ho: ho, wo: wo}, true
}

// conv2dBackward accumulates the gradients of Conv2d into x, w and b.
func (g *Graph) conv2dBackward(l lowering, x, w, b, out *Tensor) {
	k := w.shape[0]
	dy := out.Grad
	if w.requiresGrad || (b != nil && b.requiresGrad) {
		var gb []float32
		if b != nil && b.requiresGrad {
			gb = g.GradOf(b)
		}
		if w.requiresGrad {
			l.backwardWeights(x.Data, dy, k, g.GradOf(w), gb)
		} else {
			convBiasGrad(dy, l.n, k, l.pix(), gb)
		}
	}
	if !x.requiresGrad {
		return
	}
	rs := l.r * l.s
	// A gradient buffer that does not exist yet is taken uninitialised from the
	// arena and written (or cleared image by image) rather than cleared whole and
	// then accumulated into: one pass over dX instead of three.
	fresh := x.Grad == nil
	if fresh {
		x.Grad = g.Scratch(len(x.Data))
	}
	gx := x.Grad
	if l.stride == 1 && l.padH <= l.r-1 && l.padW <= l.s-1 {
		// dX = dY convolved with the flipped, channel-transposed kernel: a stride-1
		// convolution with padding R-1-pad, run through the same lowered GEMM.
		wt := g.Scratch(len(w.Data))
		c := l.cin
		for ki := 0; ki < k; ki++ {
			for ci := 0; ci < c; ci++ {
				src := w.Data[(ki*c+ci)*rs : (ki*c+ci+1)*rs]
				dst := wt[(ci*k+ki)*rs : (ci*k+ki+1)*rs]
				for i, v := range src {
					dst[rs-1-i] = v
				}
			}
		}
		t := lowering{n: l.n, cin: k, hin: l.ho, win: l.wo, r: l.r, s: l.s, stride: 1,
			padH: l.r - 1 - l.padH, padW: l.s - 1 - l.padW, ho: l.hin, wo: l.win}
		t.forward(dy, wt, c, gx, !fresh, nil)
		return
	}
	if l.stride == 2 && l.r*l.s > 1 && convPhaseBwd != 0 {
		l.backwardDataPhased(dy, w.Data, k, gx, fresh)
		return
	}
	l.backwardData(dy, w.Data, k, gx, fresh)
}

// convBiasGrad adds to gb [k] the sum of dy [n,k,p] over images and pixels.
func convBiasGrad(dy []float32, n, k, p int, gb []float32) {
	parallel.ForGrain(k, 8, func(lo, hi int) {
		for ki := lo; ki < hi; ki++ {
			var s float64
			for i := 0; i < n; i++ {
				var r float32
				for _, v := range dy[(i*k+ki)*p : (i*k+ki+1)*p] {
					r += v
				}
				s += float64(r)
			}
			gb[ki] += float32(s)
		}
	})
}
