package tensor

import "github.com/siam-ssl/siam/parallel"

// Elementwise arithmetic with NumPy broadcasting.
//
// Shapes are aligned at their trailing dimensions; a dimension of size 1 (or a
// missing leading one) is stretched to the other operand's size. The output shape is
// the elementwise maximum. Internally both operands are described by strides over
// the output (stride 0 on broadcast dimensions) and adjacent dimensions that step
// alike are merged, so the common cases collapse to short loops: same shape → one
// flat loop; [N,D] op [D] → rows with a shared vector; [N,C,H,W] op [1,C,1,1] →
// runs of H*W elements against one scalar. The backward pass sums the output
// gradient over the dimensions an operand was broadcast along.

// ewGrain is the minimum number of elements per goroutine for cheap elementwise
// loops.
const ewGrain = 1 << 15

type ewOp uint8

const (
	ewAdd ewOp = iota
	ewSub
	ewMul
	ewDiv
)

var ewNames = [...]string{ewAdd: "add", ewSub: "sub", ewMul: "mul", ewDiv: "div"}

// Add returns a + b with NumPy broadcasting.
func (g *Graph) Add(a, b *Tensor) *Tensor { return g.ewBinary(ewAdd, a, b) }

// Sub returns a - b with NumPy broadcasting.
func (g *Graph) Sub(a, b *Tensor) *Tensor { return g.ewBinary(ewSub, a, b) }

// Mul returns a * b elementwise with NumPy broadcasting.
func (g *Graph) Mul(a, b *Tensor) *Tensor { return g.ewBinary(ewMul, a, b) }

// Div returns a / b elementwise with NumPy broadcasting.
func (g *Graph) Div(a, b *Tensor) *Tensor { return g.ewBinary(ewDiv, a, b) }

// Scale returns s * x.
func (g *Graph) Scale(x *Tensor, s float32) *Tensor {
	if !g.OK("scale", x) {
		return g.dead
	}
	out := g.Alloc(x.shape...)
	xd, od := x.Data, out.Data
	parallel.ForGrain(len(xd), ewGrain, func(lo, hi int) {
		o, xs := od[lo:hi], xd[lo:hi]
		for i := range o {
			o[i] = s * xs[i]
		}
	})
	g.Record(out, func() {
		if !x.requiresGrad {
			return
		}
		gx, gy := g.GradOf(x), out.Grad
		parallel.ForGrain(len(gy), ewGrain, func(lo, hi int) {
			d, src := gx[lo:hi], gy[lo:hi]
			for i := range d {
				d[i] += s * src[i]
			}
		})
	}, x)
	return out
}

// AddScalar returns x + s.
func (g *Graph) AddScalar(x *Tensor, s float32) *Tensor {
	if !g.OK("add_scalar", x) {
		return g.dead
	}
	out := g.Alloc(x.shape...)
	xd, od := x.Data, out.Data
	parallel.ForGrain(len(xd), ewGrain, func(lo, hi int) {
		o, xs := od[lo:hi], xd[lo:hi]
		for i := range o {
			o[i] = xs[i] + s
		}
	})
	g.Record(out, func() {
		if !x.requiresGrad {
			return
		}
		ewAccumulate(g.GradOf(x), out.Grad)
	}, x)
	return out
}

// ewAccumulate adds src into dst (same length), in parallel for long slices.
func ewAccumulate(dst, src []float32) {
	parallel.ForGrain(len(src), ewGrain, func(lo, hi int) {
		d, s := dst[lo:hi], src[lo:hi]
		for i := range d {
			d[i] += s[i]
		}
	})
}

// ewBroadcastShape returns the NumPy broadcast of shapes a and b, or false when a
// pair of trailing-aligned dimensions differ and neither is 1.
func ewBroadcastShape(a, b []int) ([]int, bool) {
	n := max(len(a), len(b))
	out := make([]int, n)
	for i := range n {
		da, db := 1, 1
		if j := i - (n - len(a)); j >= 0 {
			da = a[j]
		}
		if j := i - (n - len(b)); j >= 0 {
			db = b[j]
		}
		switch {
		case da == db, db == 1:
			out[i] = da
		case da == 1:
			out[i] = db
		default:
			return nil, false
		}
	}
	return out, true
}

// ewPlan describes a broadcast binary op over an output of n elements as merged
// dimensions (outermost first) with each operand's element stride per dimension
// (0 where the operand is broadcast). The innermost stride is always 0 or 1.
type ewPlan struct {
	n      int
	dims   []int
	sa, sb []int
}

func newEWPlan(out, a, b []int) *ewPlan {
	p := &ewPlan{n: numel(out)}
	r := len(out)
	stridesOf := func(s []int) []int {
		st := make([]int, r)
		acc := 1
		for i := r - 1; i >= 0; i-- {
			j := i - (r - len(s))
			if j >= 0 && s[j] != 1 {
				st[i] = acc
				acc *= s[j]
			}
		}
		return st
	}
	fa, fb := stridesOf(a), stridesOf(b)
	for i := range r {
		if out[i] == 1 {
			continue // contributes nothing to any index
		}
		if k := len(p.dims) - 1; k >= 0 && p.sa[k] == fa[i]*out[i] && p.sb[k] == fb[i]*out[i] {
			// previous (outer) dimension steps exactly one run of this one: merge.
			p.dims[k] *= out[i]
			p.sa[k], p.sb[k] = fa[i], fb[i]
			continue
		}
		p.dims = append(p.dims, out[i])
		p.sa = append(p.sa, fa[i])
		p.sb = append(p.sb, fb[i])
	}
	if len(p.dims) == 0 {
		p.dims, p.sa, p.sb = []int{1}, []int{0}, []int{0}
	}
	return p
}

// walk visits the output positions [lo,hi) as runs along the innermost merged
// dimension: f(pos, cnt, oa, ob) covers output elements pos..pos+cnt-1, which read a
// from offset oa and b from ob, each advancing by its innermost stride.
func (p *ewPlan) walk(lo, hi int, f func(pos, cnt, oa, ob int)) {
	if lo >= hi {
		return
	}
	last := len(p.dims) - 1
	inner := p.dims[last]
	ia, ib := p.sa[last], p.sb[last]
	row, col := lo/inner, lo%inner
	idx := make([]int, last)
	oa, ob := col*ia, col*ib
	for d := last - 1; d >= 0; d-- {
		idx[d] = row % p.dims[d]
		row /= p.dims[d]
		oa += idx[d] * p.sa[d]
		ob += idx[d] * p.sb[d]
	}
	for pos := lo; pos < hi; {
		cnt := min(inner-col, hi-pos)
		f(pos, cnt, oa, ob)
		pos += cnt
		if pos >= hi {
			return
		}
		oa -= col * ia
		ob -= col * ib
		col = 0
		for d := last - 1; d >= 0; d-- {
			idx[d]++
			oa += p.sa[d]
			ob += p.sb[d]
			if idx[d] < p.dims[d] {
				break
			}
			oa -= idx[d] * p.sa[d]
			ob -= idx[d] * p.sb[d]
			idx[d] = 0
		}
	}
}

func (g *Graph) ewBinary(op ewOp, a, b *Tensor) *Tensor {
	name := ewNames[op]
	if !g.OK(name, a, b) {
		return g.dead
	}
	shape, ok := ewBroadcastShape(a.shape, b.shape)
	if !ok {
		return g.Fail(name, "shapes are not broadcastable", a, b)
	}
	out := g.Alloc(shape...)
	p := newEWPlan(shape, a.shape, b.shape)
	ad, bd, od := a.Data, b.Data, out.Data
	last := len(p.dims) - 1
	ia, ib := p.sa[last], p.sb[last]
	parallel.ForGrain(p.n, ewGrain, func(lo, hi int) {
		p.walk(lo, hi, func(pos, cnt, oa, ob int) {
			ewForwardRun(op, od[pos:pos+cnt], ad[oa:], ia, bd[ob:], ib)
		})
	})
	g.Record(out, func() {
		gy := out.Grad
		if a.requiresGrad {
			mode, other := ewGradPlus, []float32(nil)
			switch op {
			case ewMul:
				mode, other = ewGradMul, bd
			case ewDiv:
				mode, other = ewGradDiv, bd
			}
			ewBackward(g, p, g.GradOf(a), true, gy, od, mode, other, false)
		}
		if b.requiresGrad {
			mode, other, otherIsA := ewGradPlus, []float32(nil), true
			switch op {
			case ewSub:
				mode = ewGradMinus
			case ewMul:
				mode, other = ewGradMul, ad
			case ewDiv:
				// d(a/b)/db = -a/b² = -y/b, with b read at its own offsets.
				mode, other, otherIsA = ewGradDivB, bd, false
			}
			ewBackward(g, p, g.GradOf(b), false, gy, od, mode, other, otherIsA)
		}
	}, a, b)
	return out
}

// ewForwardRun computes one run o[j] = a[j*ia] op b[j*ib]; ia and ib are 0 or 1
// (never both 0 unless the run has one element).
func ewForwardRun(op ewOp, o, a []float32, ia int, b []float32, ib int) {
	n := len(o)
	switch {
	case ia == 1 && ib == 1:
		a, b = a[:n], b[:n]
		switch op {
		case ewAdd:
			for j := range o {
				o[j] = a[j] + b[j]
			}
		case ewSub:
			for j := range o {
				o[j] = a[j] - b[j]
			}
		case ewMul:
			for j := range o {
				o[j] = a[j] * b[j]
			}
		case ewDiv:
			for j := range o {
				o[j] = a[j] / b[j]
			}
		}
	case ib == 0 && ia == 1:
		a, s := a[:n], b[0]
		switch op {
		case ewAdd:
			for j := range o {
				o[j] = a[j] + s
			}
		case ewSub:
			for j := range o {
				o[j] = a[j] - s
			}
		case ewMul:
			for j := range o {
				o[j] = a[j] * s
			}
		case ewDiv:
			for j := range o {
				o[j] = a[j] / s
			}
		}
	case ia == 0 && ib == 1:
		s, b := a[0], b[:n]
		switch op {
		case ewAdd:
			for j := range o {
				o[j] = s + b[j]
			}
		case ewSub:
			for j := range o {
				o[j] = s - b[j]
			}
		case ewMul:
			for j := range o {
				o[j] = s * b[j]
			}
		case ewDiv:
			for j := range o {
				o[j] = s / b[j]
			}
		}
	default: // both scalar: a one-element run
		x, y := a[0], b[0]
		var v float32
		switch op {
		case ewAdd:
			v = x + y
		case ewSub:
			v = x - y
		case ewMul:
			v = x * y
		case ewDiv:
			v = x / y
		}
		for j := range o {
			o[j] = v
		}
	}
}

// ewGradMode selects the per-element gradient contribution v of the backward pass.
type ewGradMode uint8

const (
	ewGradPlus  ewGradMode = iota // v = gy
	ewGradMinus                   // v = -gy
	ewGradMul                     // v = gy * other
	ewGradDiv                     // v = gy / other
	ewGradDivB                    // v = -gy * y / other
)

// ewBackward accumulates, over the output elements, the contribution v (see mode)
// into the gradient t of operand a (tIsA) or b; other, when the mode uses it, is
// operand a's (oIsA) or b's data. A target smaller than the output (broadcast) gets
// per-goroutine partial sums so the reduction stays race-free.
func ewBackward(g *Graph, p *ewPlan, t []float32, tIsA bool, gy, y []float32, mode ewGradMode, other []float32, oIsA bool) {
	last := len(p.dims) - 1
	strideOf := func(isA bool) int {
		if isA {
			return p.sa[last]
		}
		return p.sb[last]
	}
	it, io := strideOf(tIsA), strideOf(oIsA)
	pick := func(oa, ob int, isA bool) int {
		if isA {
			return oa
		}
		return ob
	}
	run := func(dst []float32, lo, hi int) {
		p.walk(lo, hi, func(pos, cnt, oa, ob int) {
			var oth []float32
			if other != nil {
				oth = other[pick(oa, ob, oIsA):]
			}
			ewGradRun(mode, dst[pick(oa, ob, tIsA):], it, gy[pos:pos+cnt], y[pos:pos+cnt], oth, io)
		})
	}
	if len(t) == p.n { // not broadcast: target offsets are the output positions
		parallel.ForGrain(p.n, ewGrain, func(lo, hi int) { run(t, lo, hi) })
		return
	}
	chunks := min(parallel.Workers(), (p.n+ewGrain-1)/ewGrain)
	if chunks <= 1 {
		run(t, 0, p.n)
		return
	}
	m := len(t)
	part := g.Scratch(chunks * m)
	clear(part)
	parallel.For(chunks, func(lo, hi int) {
		for c := lo; c < hi; c++ {
			run(part[c*m:(c+1)*m], c*p.n/chunks, (c+1)*p.n/chunks)
		}
	})
	parallel.ForGrain(m, ewGrain, func(lo, hi int) {
		for c := range chunks {
			d, s := t[lo:hi], part[c*m+lo:c*m+hi]
			for i := range d {
				d[i] += s[i]
			}
		}
	})
}

// ewGradRun handles one run: t[j*it] += v_j for j < len(gy), with other read at
// j*io (it and io are 0 or 1).
func ewGradRun(mode ewGradMode, t []float32, it int, gy, y, other []float32, io int) {
	n := len(gy)
	if it == 0 { // the whole run reduces into one element
		var s float32
		switch mode {
		case ewGradPlus:
			s = ewSum(gy)
		case ewGradMinus:
			s = -ewSum(gy)
		case ewGradMul:
			if io == 0 {
				s = ewSum(gy) * other[0]
			} else {
				o := other[:n]
				for j, v := range gy {
					s += v * o[j]
				}
			}
		case ewGradDiv:
			if io == 0 {
				s = ewSum(gy) / other[0]
			} else {
				o := other[:n]
				for j, v := range gy {
					s += v / o[j]
				}
			}
		case ewGradDivB:
			yy := y[:n]
			if io == 0 {
				for j, v := range gy {
					s -= v * yy[j]
				}
				s /= other[0]
			} else {
				o := other[:n]
				for j, v := range gy {
					s -= v * yy[j] / o[j]
				}
			}
		}
		t[0] += s
		return
	}
	t = t[:n]
	switch mode {
	case ewGradPlus:
		for j, v := range gy {
			t[j] += v
		}
	case ewGradMinus:
		for j, v := range gy {
			t[j] -= v
		}
	case ewGradMul:
		if io == 0 {
			s := other[0]
			for j, v := range gy {
				t[j] += v * s
			}
		} else {
			o := other[:n]
			for j, v := range gy {
				t[j] += v * o[j]
			}
		}
	case ewGradDiv:
		if io == 0 {
			s := other[0]
			for j, v := range gy {
				t[j] += v / s
			}
		} else {
			o := other[:n]
			for j, v := range gy {
				t[j] += v / o[j]
			}
		}
	case ewGradDivB:
		yy := y[:n]
		if io == 0 {
			s := other[0]
			for j, v := range gy {
				t[j] -= v * yy[j] / s
			}
		} else {
			o := other[:n]
			for j, v := range gy {
				t[j] -= v * yy[j] / o[j]
			}
		}
	}
}

// ewSum adds xs with four independent accumulators (shorter dependency chains and
// a smaller rounding error than one running sum).
func ewSum(xs []float32) float32 {
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(xs); i += 4 {
		s0 += xs[i]
		s1 += xs[i+1]
		s2 += xs[i+2]
		s3 += xs[i+3]
	}
	for ; i < len(xs); i++ {
		s0 += xs[i]
	}
	return (s0 + s1) + (s2 + s3)
}
