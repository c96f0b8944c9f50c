package tensor

// L2Normalize divides each row (last dimension) of x by max(||row||, eps), as
// PyTorch's F.normalize.
func (g *Graph) L2Normalize(x *Tensor, eps float32) *Tensor {
	return g.Fail("l2_normalize", "not implemented", x)
}

// CosineSimilarity returns the cosine of each pair of rows of a and b [N,D] as [N],
// with PyTorch's eps handling.
func (g *Graph) CosineSimilarity(a, b *Tensor, eps float32) *Tensor {
	return g.Fail("cosine_similarity", "not implemented", a, b)
}
