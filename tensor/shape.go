package tensor

// Reshape returns x viewed with a new shape of the same size (one dimension may be
// -1 and is inferred).
func (g *Graph) Reshape(x *Tensor, shape ...int) *Tensor {
	return g.Fail("reshape", "not implemented", x)
}

// Flatten reshapes x [N, ...] to [N, rest].
func (g *Graph) Flatten(x *Tensor) *Tensor { return g.Fail("flatten", "not implemented", x) }

// Transpose swaps dimensions d0 and d1 (copying into a contiguous result).
func (g *Graph) Transpose(x *Tensor, d0, d1 int) *Tensor {
	return g.Fail("transpose", "not implemented", x)
}

// Concat joins tensors along axis; all other dimensions must agree.
func (g *Graph) Concat(axis int, xs ...*Tensor) *Tensor {
	return g.Fail("concat", "not implemented", xs...)
}
