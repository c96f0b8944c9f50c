package tensor

// MaxPool2d takes the maximum over k x k windows of x [N,C,H,W] with the given stride
// and padding (padding never wins the maximum).
func (g *Graph) MaxPool2d(x *Tensor, k, stride, pad int) *Tensor {
	return g.Fail("maxpool2d", "not implemented", x)
}

// AvgPool2d averages k x k windows of x [N,C,H,W] (padding counted as zeros, as
// PyTorch's count_include_pad=True).
func (g *Graph) AvgPool2d(x *Tensor, k, stride, pad int) *Tensor {
	return g.Fail("avgpool2d", "not implemented", x)
}

// GlobalAvgPool averages each channel of x [N,C,H,W] over space, giving [N,C]: the
// ResNet representation.
func (g *Graph) GlobalAvgPool(x *Tensor) *Tensor {
	return g.Fail("globalavgpool", "not implemented", x)
}
