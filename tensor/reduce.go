package tensor

// Sum adds every element of x into a one-element tensor.
func (g *Graph) Sum(x *Tensor) *Tensor { return g.Fail("sum", "not implemented", x) }

// Mean averages every element of x into a one-element tensor.
func (g *Graph) Mean(x *Tensor) *Tensor { return g.Fail("mean", "not implemented", x) }

// SumAxis sums x along axis (negative counts from the end), keeping it as size 1
// when keepDim.
func (g *Graph) SumAxis(x *Tensor, axis int, keepDim bool) *Tensor {
	return g.Fail("sum_axis", "not implemented", x)
}

// MeanAxis averages x along axis, keeping it as size 1 when keepDim.
func (g *Graph) MeanAxis(x *Tensor, axis int, keepDim bool) *Tensor {
	return g.Fail("mean_axis", "not implemented", x)
}
