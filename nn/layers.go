package nn

import (
	"math/rand/v2"

	"github.com/siam-ssl/siam/tensor"
)

// Linear is a fully connected layer y = x W^T + b with W [out,in] (PyTorch layout).
type Linear struct {
	W, B *tensor.Tensor // B is nil without bias
}

// NewLinear registers name.weight (and name.bias) in c with PyTorch's default init.
func NewLinear(c *Collection, name string, in, out int, bias bool, rng *rand.Rand) *Linear {
	l := &Linear{W: c.param(name+".weight", out, in)}
	UniformFanIn(l.W, in, rng)
	if bias {
		l.B = c.param(name+".bias", out)
		UniformFanIn(l.B, in, rng)
	}
	return l
}

// Forward applies the layer to x [N,in].
func (l *Linear) Forward(g *tensor.Graph, x *tensor.Tensor) *tensor.Tensor {
	return g.Linear(x, l.W, l.B)
}

// Conv2d is a bias-free convolution (ResNets follow every conv with batch norm).
type Conv2d struct {
	W    *tensor.Tensor
	Opts tensor.ConvOpts
}

// NewConv2d registers name.weight [out,in,k,k] with Kaiming fan-out init.
func NewConv2d(c *Collection, name string, in, out, k, stride, pad int, rng *rand.Rand) *Conv2d {
	cv := &Conv2d{W: c.param(name+".weight", out, in, k, k), Opts: tensor.ConvOpts{Stride: stride, Pad: pad}}
	KaimingNormalFanOut(cv.W, rng)
	return cv
}

// Forward convolves x [N,C,H,W].
func (cv *Conv2d) Forward(g *tensor.Graph, x *tensor.Tensor) *tensor.Tensor {
	return g.Conv2d(x, cv.W, nil, cv.Opts)
}

// NewBatchNorm registers a batch-norm layer over ch channels: name.weight/bias
// (affine, init 1 and 0) and name.running_mean/running_var (init 0 and 1), momentum
// 0.1, eps 1e-5 as PyTorch. It starts in training mode.
func NewBatchNorm(c *Collection, name string, ch int, affine bool) *tensor.BatchNorm {
	bn := &tensor.BatchNorm{Momentum: 0.1, Eps: 1e-5, Training: true}
	if affine {
		bn.Weight = c.param(name+".weight", ch)
		Fill(bn.Weight, 1)
		bn.Bias = c.param(name+".bias", ch)
	}
	bn.RunningMean = c.buffer(name+".running_mean", ch)
	bn.RunningVar = c.buffer(name+".running_var", ch)
	Fill(bn.RunningVar, 1)
	c.BNs = append(c.BNs, bn)
	return bn
}

// ConvBN is a convolution followed by batch norm and optionally ReLU, run as the
// fused inference kernel when the graph records no gradients and BN is in eval mode.
type ConvBN struct {
	Conv *Conv2d
	BN   *tensor.BatchNorm
	ReLU bool
}

// Forward applies conv, BN and (if set) ReLU.
func (l *ConvBN) Forward(g *tensor.Graph, x *tensor.Tensor) *tensor.Tensor {
	if l.fusesEval(g) {
		return g.ConvBNReLUEval(x, l.Conv.W, l.Conv.Opts, l.BN, l.ReLU)
	}
	y := l.Conv.Forward(g, x)
	if l.ReLU {
		return g.BatchNormReLU(y, l.BN)
	}
	return g.BatchNorm(y, l.BN)
}

// fusesEval reports whether Forward runs as one fused inference op on g: the graph
// records no gradients and the batch norm uses its running statistics.
func (l *ConvBN) fusesEval(g *tensor.Graph) bool { return g.NoGrad() && !l.BN.Training }

// ForwardAddReLU applies conv and BN, adds res and applies ReLU: the end of a
// residual block. In inference (see Forward) the addition and ReLU run in the
// convolution's epilogue (tensor.ConvBNAddReLUEval), with the same result as the
// separate ops; otherwise it is BatchNorm then AddReLU. l.ReLU is ignored.
func (l *ConvBN) ForwardAddReLU(g *tensor.Graph, x, res *tensor.Tensor) *tensor.Tensor {
	if l.fusesEval(g) {
		return g.ConvBNAddReLUEval(x, l.Conv.W, l.Conv.Opts, l.BN, res)
	}
	return g.AddReLU(g.BatchNorm(l.Conv.Forward(g, x), l.BN), res)
}
