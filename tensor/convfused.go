package tensor

import (
	"math"

	"github.com/siam-ssl/siam/kernels"
)

// ConvBNReLUEval computes ReLU(BatchNorm(Conv2d(x, w, nil, o))) (ReLU only when relu
// is set) with the batch norm in evaluation form, from its running statistics, in
// one pass: the statistics and affine parameters fold into a per-output-channel
// scale gamma/sqrt(var+eps), multiplied into the weights, and a shift
// beta-mean*scale, added (with the ReLU) to each image's GEMM output while it is
// still in cache. It is the inference path of feature extraction and k-NN
// evaluation, where separate BN and ReLU passes cost a quarter of the time. It
// records nothing for autodiff: called while the graph records gradients with an
// operand that requires one, it fails.
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
	shift := g.Scratch(k)
	kd := l.kdim()
	ws := g.Scratch(len(w.Data)) // weights with the scale folded in
	for i := range k {
		sc := 1 / math.Sqrt(float64(bn.RunningVar.Data[i])+float64(bn.Eps))
		if bn.Weight != nil {
			sc *= float64(bn.Weight.Data[i])
		}
		sh := -float64(bn.RunningMean.Data[i]) * sc
		if bn.Bias != nil {
			sh += float64(bn.Bias.Data[i])
		}
		shift[i] = float32(sh)
		row := ws[i*kd : (i+1)*kd]
		copy(row, w.Data[i*kd:(i+1)*kd])
		kernels.Scale(float32(sc), row)
	}
	out := g.Alloc(l.n, k, l.ho, l.wo)
	l.forward(x.Data, ws, k, out.Data, false, &convEpilogue{shift: shift, relu: relu})
	return out
}
