package tensor

// BatchNorm holds one batch-norm layer's state: affine parameters (nil when affine
// is off) and running statistics (updated in training mode with momentum, as
// PyTorch: running = (1-m)*running + m*batch, running variance unbiased).
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
func (g *Graph) BatchNorm(x *Tensor, bn *BatchNorm) *Tensor {
	return g.Fail("batchnorm", "not implemented", x)
}

// BatchNormReLU is ReLU(BatchNorm(x)) in one pass over memory.
func (g *Graph) BatchNormReLU(x *Tensor, bn *BatchNorm) *Tensor {
	return g.Fail("batchnorm_relu", "not implemented", x)
}
