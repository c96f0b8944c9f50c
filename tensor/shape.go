package tensor

import (
	"fmt"

	"github.com/siam-ssl/siam/parallel"
)

// Shape ops. Reshape and Flatten are views: the output aliases x.Data (values are
// never modified after an op produces them, so sharing is safe), while the output
// keeps its own gradient buffer, which the backward adds into x's. Transpose and
// Concat copy into a fresh contiguous result.

// Reshape returns x viewed with a new shape of the same size (one dimension may be
// -1 and is inferred). The result shares x's values; its gradient is added into x's.
func (g *Graph) Reshape(x *Tensor, shape ...int) *Tensor {
	if !g.OK("reshape", x) {
		return g.dead
	}
	ns, err := shapeInfer(shape, len(x.Data))
	if err != nil {
		return g.Failf("reshape", []*Tensor{x}, "cannot view as %v: %v", shape, err)
	}
	return g.shapeView(x, ns)
}

// shapeInfer resolves one -1 in shape so that it holds n elements.
func shapeInfer(shape []int, n int) ([]int, error) {
	ns := append([]int(nil), shape...)
	infer, known := -1, 1
	for i, d := range ns {
		switch {
		case d == -1 && infer >= 0:
			return nil, fmt.Errorf("more than one -1")
		case d == -1:
			infer = i
		case d < 0:
			return nil, fmt.Errorf("negative dimension %d", d)
		default:
			known *= d
		}
	}
	if infer >= 0 {
		if known == 0 || n%known != 0 {
			return nil, fmt.Errorf("cannot infer -1 for %d elements", n)
		}
		ns[infer] = n / known
		known = n
	}
	if known != n {
		return nil, fmt.Errorf("%d elements do not fill %d", n, known)
	}
	return ns, nil
}

// shapeView returns x's values under shape ns (same element count).
func (g *Graph) shapeView(x *Tensor, ns []int) *Tensor {
	out := &Tensor{shape: ns, Data: x.Data}
	g.Record(out, func() {
		if x.requiresGrad {
			ewAccumulate(g.GradOf(x), out.Grad)
		}
	}, x)
	return out
}

// Flatten reshapes x [N, ...] to [N, rest] (a view, as Reshape). x must have rank at
// least 1; a rank-1 x [N] becomes [N, 1].
func (g *Graph) Flatten(x *Tensor) *Tensor {
	if !g.OK("flatten", x) {
		return g.dead
	}
	if x.Rank() < 1 {
		return g.Fail("flatten", "need rank >= 1", x)
	}
	return g.shapeView(x, []int{x.shape[0], numel(x.shape[1:])})
}

// Transpose swaps dimensions d0 and d1 (negative counts from the end), copying into
// a contiguous result. Out-of-range dimensions record an error.
func (g *Graph) Transpose(x *Tensor, d0, d1 int) *Tensor {
	if !g.OK("transpose", x) {
		return g.dead
	}
	a, ok0 := rdAxis(d0, x.Rank())
	b, ok1 := rdAxis(d1, x.Rank())
	if !ok0 || !ok1 {
		return g.Failf("transpose", []*Tensor{x}, "dimensions %d, %d out of range for rank %d", d0, d1, x.Rank())
	}
	if a > b {
		a, b = b, a
	}
	shape := append([]int(nil), x.shape...)
	shape[a], shape[b] = shape[b], shape[a]
	out := g.Alloc(shape...)
	// x viewed as [A, P, B, Q, C] with P = dim a, Q = dim b; out is [A, Q, B, P, C].
	var A, P, B, Q, C int
	if a != b {
		A, P = numel(x.shape[:a]), x.shape[a]
		B, Q, C = numel(x.shape[a+1:b]), x.shape[b], numel(x.shape[b+1:])
	}
	if a == b {
		copy(out.Data, x.Data)
	} else {
		shapeTranspose(out.Data, x.Data, A, P, B, Q, C, false)
	}
	g.Record(out, func() {
		if !x.requiresGrad {
			return
		}
		if a == b {
			ewAccumulate(g.GradOf(x), out.Grad)
			return
		}
		// out.Grad is [A, Q, B, P, C]; swapping back gives x's layout.
		shapeTranspose(g.GradOf(x), out.Grad, A, Q, B, P, C, true)
	}, x)
	return out
}

// shapeTranspose writes src [A,P,B,Q,C] into dst [A,Q,B,P,C] (adding when acc),
// in parallel over the rows of dst.
func shapeTranspose(dst, src []float32, A, P, B, Q, C int, acc bool) {
	rows := A * Q * B * P // each row is C contiguous elements
	if rows == 0 || C == 0 {
		return
	}
	grain := max(1, ewGrain/C)
	parallel.ForGrain(rows, grain, func(lo, hi int) {
		// r indexes dst as (a, q, b, p); decompose once, then count up.
		p := lo % P
		t := lo / P
		b := t % B
		t /= B
		q := t % Q
		a := t / Q
		for r := lo; r < hi; r++ {
			si := (((a*P+p)*B+b)*Q + q) * C
			d := dst[r*C : r*C+C]
			switch {
			case acc:
				s := src[si : si+C]
				for j := range d {
					d[j] += s[j]
				}
			case C == 1:
				d[0] = src[si]
			default:
				copy(d, src[si:si+C])
			}
			if p++; p == P {
				p = 0
				if b++; b == B {
					b = 0
					if q++; q == Q {
						q = 0
						a++
					}
				}
			}
		}
	})
}

// Concat joins tensors along axis (negative counts from the end); all inputs must
// have the same rank and agree on every other dimension.
func (g *Graph) Concat(axis int, xs ...*Tensor) *Tensor {
	if !g.OK("concat", xs...) {
		return g.dead
	}
	if len(xs) == 0 {
		return g.Fail("concat", "no inputs")
	}
	r := xs[0].Rank()
	ax, ok := rdAxis(axis, r)
	if !ok {
		return g.Failf("concat", xs, "axis %d out of range for rank %d", axis, r)
	}
	shape := append([]int(nil), xs[0].shape...)
	shape[ax] = 0
	for i, x := range xs {
		if x.Rank() != r {
			return g.Failf("concat", xs, "input %d has rank %d, want %d", i, x.Rank(), r)
		}
		for d := range r {
			if d != ax && x.shape[d] != xs[0].shape[d] {
				return g.Failf("concat", xs, "input %d differs in dimension %d", i, d)
			}
		}
		shape[ax] += x.shape[ax]
	}
	out := g.Alloc(shape...)
	outer, total, inner := rdSplit(shape, ax)
	// Each input i is [outer, w_i] with w_i = dim_i*inner, placed at column off_i
	// of out viewed as [outer, total*inner].
	row := total * inner
	offs := make([]int, len(xs))
	off := 0
	for i, x := range xs {
		offs[i] = off
		off += x.shape[ax] * inner
	}
	od := out.Data
	parallel.ForGrain(outer, max(1, ewGrain/max(row, 1)), func(lo, hi int) {
		for o := lo; o < hi; o++ {
			for i, x := range xs {
				w := x.shape[ax] * inner
				copy(od[o*row+offs[i]:][:w], x.Data[o*w:][:w])
			}
		}
	})
	g.Record(out, func() {
		gy := out.Grad
		for i, x := range xs {
			if !x.requiresGrad {
				continue
			}
			gx := g.GradOf(x)
			w, off := x.shape[ax]*inner, offs[i]
			parallel.ForGrain(outer, max(1, ewGrain/max(w, 1)), func(lo, hi int) {
				for o := lo; o < hi; o++ {
					d, s := gx[o*w:][:w], gy[o*row+off:][:w]
					for j := range d {
						d[j] += s[j]
					}
				}
			})
		}
	}, xs...)
	return out
}

// Narrow returns the slice [start, start+length) of x along axis (negative counts
// from the end), copied into a contiguous result: x[:, 0] of a ViT's tokens is
// Narrow(x, 1, 0, 1). Its gradient is added into that slice of x's.
func (g *Graph) Narrow(x *Tensor, axis, start, length int) *Tensor {
	if !g.OK("narrow", x) {
		return g.dead
	}
	ax, ok := rdAxis(axis, x.Rank())
	if !ok {
		return g.Failf("narrow", []*Tensor{x}, "axis %d out of range for rank %d", axis, x.Rank())
	}
	if start < 0 || length < 0 || start+length > x.shape[ax] {
		return g.Failf("narrow", []*Tensor{x}, "slice [%d, %d) out of range for dimension %d of size %d",
			start, start+length, axis, x.shape[ax])
	}
	shape := append([]int(nil), x.shape...)
	shape[ax] = length
	out := g.Alloc(shape...)
	outer, d, inner := rdSplit(x.shape, ax)
	w, off, row := length*inner, start*inner, d*inner
	od, xd := out.Data, x.Data
	parallel.ForGrain(outer, max(1, ewGrain/max(w, 1)), func(lo, hi int) {
		for o := lo; o < hi; o++ {
			copy(od[o*w:][:w], xd[o*row+off:][:w])
		}
	})
	g.Record(out, func() {
		if !x.requiresGrad {
			return
		}
		gx, gy := g.GradOf(x), out.Grad
		parallel.ForGrain(outer, max(1, ewGrain/max(w, 1)), func(lo, hi int) {
			for o := lo; o < hi; o++ {
				d, s := gx[o*row+off:][:w], gy[o*w:][:w]
				for j := range d {
					d[j] += s[j]
				}
			}
		})
	}, x)
	return out
}
