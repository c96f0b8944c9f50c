package tensor

import (
	"math"

	"github.com/siam-ssl/siam/backend"
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
	return g.convBNEval("conv_bn_relu_eval", x, w, o, bn, nil, relu)
}

// ConvBNAddReLUEval computes ReLU(BatchNorm(Conv2d(x, w, nil, o)) + res), the end of
// a ResNet basic or bottleneck block in evaluation mode, in one pass: the batch norm
// folds into the weights and a shift as in ConvBNReLUEval, and the residual res
// (shaped like the output) is added, with the ReLU, to each image's GEMM output
// while it is still in cache, instead of a separate AddReLU pass that reads both
// activations again. The result equals BatchNorm then AddReLU bit for bit when the
// batch norm folds exactly (see ConvBNReLUEval). It records nothing for autodiff.
func (g *Graph) ConvBNAddReLUEval(x, w *Tensor, o ConvOpts, bn *BatchNorm, res *Tensor) *Tensor {
	const op = "conv_bn_add_relu_eval"
	if res == nil {
		return g.Fail(op, "residual required", x, w)
	}
	return g.convBNEval(op, x, w, o, bn, res, true)
}

// convBNEval is ConvBNReLUEval, with the residual res added before the ReLU when
// it is not nil.
func (g *Graph) convBNEval(op string, x, w *Tensor, o ConvOpts, bn *BatchNorm, res *Tensor, relu bool) *Tensor {
	if !g.OK(op, x, w) || (res != nil && !g.OK(op, res)) {
		return g.dead
	}
	if bn == nil || bn.RunningMean == nil || bn.RunningVar == nil {
		return g.Fail(op, "batch norm with running statistics required", x, w)
	}
	cp, ok := g.convCheck(op, x, w, nil, o)
	if !ok {
		return g.dead
	}
	k := w.shape[0]
	for _, t := range []*Tensor{bn.RunningMean, bn.RunningVar, bn.Weight, bn.Bias} {
		if t != nil && t.Numel() != k {
			return g.Failf(op, []*Tensor{x, w, t}, "batch norm parameter has %d values for %d output channels", t.Numel(), k)
		}
	}
	if res != nil && !SameShape(res.shape, []int{cp.N, k, cp.OutH, cp.OutW}) {
		return g.Failf(op, []*Tensor{x, w, res}, "residual shape %v != output shape [%d %d %d %d]", res.shape, cp.N, k, cp.OutH, cp.OutW)
	}
	if !g.noGrad {
		for _, t := range []*Tensor{x, w, bn.Weight, bn.Bias, res} {
			if t != nil && t.requiresGrad {
				return g.Fail(op, "inference-only op called while recording gradients (operand "+t.String()+
					" requires grad); use SetNoGrad(true), or Conv2d+BatchNorm for training", x, w)
			}
		}
	}
	shift := g.Scratch(k)
	kd := cp.C * cp.R * cp.S
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
		g.be.Scale(float32(sc), hb(row))
	}
	ep := backend.ConvEpilogue{Shift: hb(shift), ReLU: relu}
	if res != nil {
		ep.Residual = hb(res.Data)
	}
	out := g.Alloc(cp.N, k, cp.OutH, cp.OutW)
	g.be.ConvForward(cp, hb(x.Data), hb(ws), ep, hb(out.Data), false)
	return out
}
