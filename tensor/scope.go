package tensor

// NoGradScope runs f with gradient recording off and returns a copy of its
// result, a leaf that requires no gradient. Every arena buffer the ops inside f
// took goes back to the arena when f returns, so a branch of a training step
// that needs no gradient (the momentum encoder of BYOL and MoCo v3) holds the
// working set of one pass instead of all its activations until Reset, and the
// ops that follow (the backward pass) reuse those buffers.
//
// Tensors made inside f other than its result must not be used after it
// returns. Scopes nest. Recording is restored to its previous state; an error
// recorded inside f stays recorded and the dead tensor is returned.
func (g *Graph) NoGradScope(f func() *Tensor) *Tensor {
	prev := g.noGrad
	g.noGrad = true
	mark := len(g.arena.used)
	res := f()
	g.noGrad = prev
	if g.err != nil || res == nil {
		g.arena.releaseSince(mark, nil)
		if g.err == nil {
			g.Fail("no_grad_scope", "f returned nil")
		}
		return g.dead
	}
	// The copy is the last buffer taken, so keeping it cannot keep alive a buffer
	// the result merely aliases (a reshaped view of an intermediate).
	out := g.Alloc(res.shape...)
	copy(out.Data, res.Data)
	g.arena.releaseSince(mark, out.Data)
	return out
}
