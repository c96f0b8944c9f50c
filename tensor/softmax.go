package tensor

// Softmax normalises exp(x) over the last dimension.
func (g *Graph) Softmax(x *Tensor) *Tensor { return g.Fail("softmax", "not implemented", x) }

// LogSoftmax is log(Softmax(x)) computed stably over the last dimension.
func (g *Graph) LogSoftmax(x *Tensor) *Tensor { return g.Fail("log_softmax", "not implemented", x) }
