package tensor

// MatMul multiplies 2-D a [M,K] by b [K,N].
func (g *Graph) MatMul(a, b *Tensor) *Tensor { return g.Fail("matmul", "not implemented", a, b) }

// BatchedMatMul multiplies 3-D a [B,M,K] by b [B,K,N] batch by batch.
func (g *Graph) BatchedMatMul(a, b *Tensor) *Tensor {
	return g.Fail("bmm", "not implemented", a, b)
}

// Linear computes x w^T + b for x [N,in], w [out,in] (PyTorch layout) and b [out] or
// nil.
func (g *Graph) Linear(x, w, b *Tensor) *Tensor { return g.Fail("linear", "not implemented", x, w) }
