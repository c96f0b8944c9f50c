package tensor

// GELU is x * Phi(x) with the exact erf form (PyTorch's default).
func (g *Graph) GELU(x *Tensor) *Tensor {
	return g.Fail("gelu", "not implemented", x)
}
