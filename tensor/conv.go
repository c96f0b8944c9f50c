package tensor

// ConvOpts configures a 2-D convolution: square stride and zero padding.
type ConvOpts struct {
	Stride int // >= 1
	Pad    int // >= 0
}

// Conv2d convolves x [N,C,H,W] with w [K,C,R,S] (PyTorch layout) and adds bias b [K]
// when b is non-nil, giving [N,K,Ho,Wo].
func (g *Graph) Conv2d(x, w, b *Tensor, o ConvOpts) *Tensor {
	return g.Fail("conv2d", "not implemented", x, w)
}
