package tensor

// Add returns a + b with NumPy broadcasting.
func (g *Graph) Add(a, b *Tensor) *Tensor { return g.Fail("add", "not implemented", a, b) }

// Sub returns a - b with NumPy broadcasting.
func (g *Graph) Sub(a, b *Tensor) *Tensor { return g.Fail("sub", "not implemented", a, b) }

// Mul returns a * b elementwise with NumPy broadcasting.
func (g *Graph) Mul(a, b *Tensor) *Tensor { return g.Fail("mul", "not implemented", a, b) }

// Div returns a / b elementwise with NumPy broadcasting.
func (g *Graph) Div(a, b *Tensor) *Tensor { return g.Fail("div", "not implemented", a, b) }

// Scale returns s * x.
func (g *Graph) Scale(x *Tensor, s float32) *Tensor { return g.Fail("scale", "not implemented", x) }

// AddScalar returns x + s.
func (g *Graph) AddScalar(x *Tensor, s float32) *Tensor {
	return g.Fail("add_scalar", "not implemented", x)
}
