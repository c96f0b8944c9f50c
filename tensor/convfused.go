package tensor

import "math"

// ConvBNReLUEval computes ReLU(BatchNorm(Conv2d(x, w, nil, o))) (ReLU only when relu
// is set) with the batch norm in evaluation form, using its running statistics, in
// one pass: the statistics and affine parameters fold into a per-output-channel
// scale gamma/sqrt(var+eps) and shift beta-mean*scale that are applied to each
// image's GEMM output while it is still in cache. It is the inference path of
// feature extraction and k-NN evaluation, where separate BN and ReLU passes would
// cost a quarter of the time. It records nothing for autodiff: called while the
// graph records gradients and any operand requires one, it fails.
func (g *Graph) ConvBNReLUEval(x, w *Tensor, o ConvOpts, bn *BatchNorm, relu bool) *Tensor {
	const op = "conv_bn_relu_eval"
	if !g.OK(op, x, w) {
		return g.dead
	}
	if bn == nil || bn.RunningMean == nil || bn.RunningVar == nil {
		return g.Fail(op, "batch norm with running statistics required", x, w)
	}
	l, ok := g.convCheck(op, x, w, nil, o)
	if !ok {
		return g.dead
	}
	k := w.shape[0]
	for _, t := range []*Tensor{bn.RunningMean, bn.RunningVar, bn.Weight, bn.Bias} {
		if t != nil && t.Numel() != k {
			return g.Failf(op, []*Tensor{x, w, t}, "batch norm parameter has %d values for %d output channels", t.Numel(), k)
		}
	}
	if !g.noGrad {
		for _, t := range []*Tensor{x, w, bn.Weight, bn.Bias} {
			if t != nil && t.requiresGrad {
				return g.Fail(op, "inference-only op called while recording gradients (operand "+t.String()+
					" requires grad); use SetNoGrad(true), or Conv2d+BatchNorm for training", x, w)
			}
		}
	}
	scale := g.Scratch(2 * k)
	scale, shift := scale[:k], scale[k:]
	for i := range k {
		sc := 1 / math.Sqrt(float64(bn.RunningVar.Data[i])+float64(bn.Eps))
		if bn.Weight != nil {
			sc *= float64(bn.Weight.Data[i])
		}
		sh := -float64(bn.RunningMean.Data[i]) * sc
		if bn.Bias != nil {
			sh += float64(bn.Bias.Data[i])
		}
		scale[i], shift[i] = float32(sc), float32(sh)
	}
	out := g.Alloc(l.n, k, l.ho, l.wo)
	l.forward(x.Data, w.Data, k, out.Data, false, &convEpilogue{scale: scale, shift: shift, relu: relu})
	return out
}
