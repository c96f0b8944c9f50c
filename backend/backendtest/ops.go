package backendtest

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/siam-ssl/siam/backend"
)

// opTol is the relative tolerance of the per-op checks against float64
// references: max|got - want| <= opTol * max(1, max|want|). float32 kernels that
// sum a few thousand terms land below 1e-5 of that scale.
const opTol = 1e-4

// env is one backend under test with buffer helpers that go through its Memory
// (Alloc, Upload, Download), so that the checks hold for device backends too.
type env struct {
	t   *testing.T
	b   backend.Backend
	rng *rand.Rand
}

func newEnv(t *testing.T, b backend.Backend, seed uint64) *env {
	return &env{t: t, b: b, rng: rand.New(rand.NewPCG(seed, 17))}
}

// randn returns n N(0,1) float32 values.
func (e *env) randn(n int) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = float32(e.rng.NormFloat64())
	}
	return out
}

// up allocates a buffer holding v.
func (e *env) up(v []float32) backend.Buffer {
	buf := e.b.Alloc(len(v))
	if buf.Len() != len(v) || buf.Bytes() != 4*int64(len(v)) {
		e.t.Fatalf("Alloc(%d): Len %d, Bytes %d", len(v), buf.Len(), buf.Bytes())
	}
	e.b.Upload(buf, v)
	return buf
}

// down returns the values of buf.
func (e *env) down(buf backend.Buffer) []float32 {
	out := make([]float32, buf.Len())
	e.b.Download(out, buf)
	return out
}

// close checks got against the float64 reference want.
func (e *env) close(name string, got []float32, want []float64) {
	e.t.Helper()
	if len(got) != len(want) {
		e.t.Errorf("%s: %d values, want %d", name, len(got), len(want))
		return
	}
	scale := 1.0
	for _, w := range want {
		scale = math.Max(scale, math.Abs(w))
	}
	for i := range got {
		if d := math.Abs(float64(got[i]) - want[i]); !(d <= opTol*scale) {
			e.t.Errorf("%s: element %d is %g, reference %g (tolerance %.2g)", name, i, got[i], want[i], opTol*scale)
			return
		}
	}
}

func f64(v []float32) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}

// testMemory checks Alloc (zeroed), Upload/Download round trips, Copy, Zero,
// Slice and the empty buffer.
func testMemory(t *testing.T, b backend.Backend) {
	e := newEnv(t, b, 1)
	for _, n := range []int{0, 1, 7, 1000} {
		z := e.b.Alloc(n)
		for i, v := range e.down(z) {
			if v != 0 {
				t.Fatalf("Alloc(%d): element %d is %g, want 0", n, i, v)
			}
		}
		v := e.randn(n)
		buf := e.up(v)
		if got := e.down(buf); !slices.Equal(got, v) {
			t.Fatalf("Upload/Download of %d values does not round-trip", n)
		}
		c := e.b.Alloc(n)
		e.b.Copy(c, buf)
		if got := e.down(c); !slices.Equal(got, v) {
			t.Fatalf("Copy of %d values differs", n)
		}
		if n > 2 {
			s := buf.Slice(1, n-1)
			if got := e.down(s); !slices.Equal(got, v[1:n-1]) {
				t.Fatalf("Slice(1, %d) reads other values", n-1)
			}
		}
		e.b.Zero(c)
		for _, x := range e.down(c) {
			if x != 0 {
				t.Fatalf("Zero left %g", x)
			}
		}
		if b.IsHost() {
			h, ok := buf.HostView()
			if !ok || len(h) != n {
				t.Fatalf("host backend: HostView of a %d buffer gives %d, %v", n, len(h), ok)
			}
		}
		e.b.Free(buf)
		e.b.Free(c)
		e.b.Free(z)
	}
}

// gemmRef computes alpha*op(A)*op(B) + beta*C in float64.
func gemmRef(p backend.GemmParams, a, b, c []float32) []float64 {
	out := f64(c)
	for i := range p.M {
		for j := range p.N {
			var s float64
			for k := range p.K {
				var av, bv float32
				if p.TransA {
					av = a[k*p.LDA+i]
				} else {
					av = a[i*p.LDA+k]
				}
				if p.TransB {
					bv = b[j*p.LDB+k]
				} else {
					bv = b[k*p.LDB+j]
				}
				s += float64(av) * float64(bv)
			}
			o := &out[i*p.LDC+j]
			if p.Beta == 0 {
				*o = float64(p.Alpha) * s
			} else {
				*o = float64(p.Alpha)*s + float64(p.Beta)*float64(c[i*p.LDC+j])
			}
		}
	}
	return out
}

// testGEMM checks single and batched products over transposes, padded leading
// dimensions, alpha/beta, odd and degenerate sizes (1x1, K = 0, M = 0).
func testGEMM(t *testing.T, b backend.Backend) {
	e := newEnv(t, b, 2)
	shapes := [][3]int{{1, 1, 1}, {3, 5, 7}, {17, 33, 9}, {64, 48, 130}, {5, 1, 300}, {1, 70, 3}, {4, 6, 0}, {0, 5, 3}}
	for _, s := range shapes {
		for _, ta := range []bool{false, true} {
			for _, tb := range []bool{false, true} {
				for _, ab := range [][2]float32{{1, 0}, {0.5, 1}, {-2, 0.25}} {
					for _, par := range []bool{false, true} {
						m, n, k := s[0], s[1], s[2]
						p := backend.GemmParams{TransA: ta, TransB: tb, M: m, N: n, K: k, Alpha: ab[0], Beta: ab[1], Parallel: par}
						ar, ac := m, k
						if ta {
							ar, ac = k, m
						}
						br, bc := k, n
						if tb {
							br, bc = n, k
						}
						p.LDA, p.LDB, p.LDC = ac+1, bc+2, n+3
						a, bm, c := e.randn(ar*p.LDA), e.randn(br*p.LDB), e.randn(m*p.LDC)
						want := gemmRef(p, a, bm, c)
						cb := e.up(c)
						b.Gemm(p, e.up(a), e.up(bm), cb)
						e.close(fmt.Sprintf("gemm %v ta=%v tb=%v alpha=%g beta=%g par=%v", s, ta, tb, ab[0], ab[1], par), e.down(cb), want)
					}
				}
			}
		}
	}
	// Batched, with a shared operand (stride 0).
	for _, batch := range []int{1, 3, 8} {
		m, n, k := 5, 7, 9
		p := backend.GemmParams{M: m, N: n, K: k, Alpha: 1, LDA: k, LDB: n, LDC: n, Parallel: true}
		a, bm := e.randn(batch*m*k), e.randn(k*n)
		c := make([]float32, batch*m*n)
		cb := e.up(c)
		b.GemmBatched(p, batch, m*k, 0, m*n, e.up(a), e.up(bm), cb)
		var want []float64
		for i := range batch {
			want = append(want, gemmRef(p, a[i*m*k:(i+1)*m*k], bm, make([]float32, m*n))...)
		}
		e.close(fmt.Sprintf("gemm batched %d", batch), e.down(cb), want)
	}
}

// convCase is one convolution of the conformance suite.
type convCase struct {
	n, c, h, w, k, r, s, stride, pad int
}

func (cc convCase) params() backend.ConvParams {
	return backend.ConvParams{N: cc.n, C: cc.c, H: cc.h, W: cc.w, K: cc.k, R: cc.r, S: cc.s, Stride: cc.stride,
		PadH: cc.pad, PadW: cc.pad, OutH: (cc.h+2*cc.pad-cc.r)/cc.stride + 1, OutW: (cc.w+2*cc.pad-cc.s)/cc.stride + 1}
}

// convCases cover 1x1 (with and without stride), odd sizes, rectangular kernels
// and images, strides 2 and 3, small grouped images, a ResNet stem and the empty
// batch.
var convCases = []convCase{
	{1, 1, 1, 1, 1, 1, 1, 1, 0},
	{2, 3, 5, 5, 4, 3, 3, 1, 1},
	{2, 3, 7, 5, 4, 3, 2, 1, 0},
	{3, 4, 9, 9, 6, 3, 3, 2, 1},
	{2, 4, 8, 8, 5, 1, 1, 2, 0},
	{2, 5, 6, 6, 3, 1, 1, 1, 0},
	{1, 3, 15, 15, 8, 7, 7, 2, 3},
	{2, 3, 11, 13, 4, 3, 3, 3, 1},
	{5, 8, 4, 4, 8, 3, 3, 1, 1},
	{2, 16, 14, 14, 16, 3, 3, 1, 1},
	{0, 3, 8, 8, 4, 3, 3, 1, 1},
}

// convRef returns the output, input gradient and weight gradient of a direct
// float64 convolution, for upstream gradient gy.
func convRef(p backend.ConvParams, x, w, gy []float32) (out, gx, gw, gb []float64) {
	ho, wo := p.OutH, p.OutW
	out = make([]float64, p.N*p.K*ho*wo)
	gx = make([]float64, len(x))
	gw = make([]float64, len(w))
	gb = make([]float64, p.K)
	for n := range p.N {
		for k := range p.K {
			for oy := range ho {
				for ox := range wo {
					o := ((n*p.K+k)*ho+oy)*wo + ox
					var s float64
					for c := range p.C {
						for ky := range p.R {
							for kx := range p.S {
								iy, ix := oy*p.Stride-p.PadH+ky, ox*p.Stride-p.PadW+kx
								if iy < 0 || iy >= p.H || ix < 0 || ix >= p.W {
									continue
								}
								xi := ((n*p.C+c)*p.H+iy)*p.W + ix
								wi := ((k*p.C+c)*p.R+ky)*p.S + kx
								s += float64(x[xi]) * float64(w[wi])
								gx[xi] += float64(gy[o]) * float64(w[wi])
								gw[wi] += float64(gy[o]) * float64(x[xi])
							}
						}
					}
					out[o] = s
					gb[k] += float64(gy[o])
				}
			}
		}
	}
	return out, gx, gw, gb
}

// testConv checks the forward pass (with every epilogue), both backward passes
// (overwriting and accumulating) and the bias gradient against the direct
// convolution.
func testConv(t *testing.T, b backend.Backend) {
	e := newEnv(t, b, 3)
	for _, cc := range convCases {
		p := cc.params()
		name := fmt.Sprintf("conv %+v", cc)
		x, w := e.randn(p.N*p.C*p.H*p.W), e.randn(p.K*p.C*p.R*p.S)
		outN := p.N * p.K * p.OutH * p.OutW
		gy := e.randn(outN)
		ro, rgx, rgw, rgb := convRef(p, x, w, gy)
		xb, wb := e.up(x), e.up(w)

		y := e.b.Alloc(outN)
		b.ConvForward(p, xb, wb, backend.ConvEpilogue{}, y, false)
		e.close(name+" forward", e.down(y), ro)

		// Accumulate, then the epilogue: shift, residual, ReLU.
		prev := e.randn(outN)
		yb := e.up(prev)
		b.ConvForward(p, xb, wb, backend.ConvEpilogue{}, yb, true)
		acc := make([]float64, outN)
		for i := range acc {
			acc[i] = ro[i] + float64(prev[i])
		}
		e.close(name+" forward accumulate", e.down(yb), acc)
		shift, res := e.randn(p.K), e.randn(outN)
		for _, ep := range []struct {
			shift, res, relu bool
		}{{true, false, false}, {false, false, true}, {true, false, true}, {false, true, true}, {true, true, true}, {true, true, false}} {
			var epi backend.ConvEpilogue
			want := slices.Clone(ro)
			pix := p.OutH * p.OutW
			for i := range want {
				if ep.shift {
					want[i] += float64(shift[i/pix%p.K])
				}
				if ep.res {
					want[i] += float64(res[i])
				}
				if ep.relu {
					want[i] = math.Max(want[i], 0)
				}
			}
			if ep.shift {
				epi.Shift = e.up(shift)
			}
			if ep.res {
				epi.Residual = e.up(res)
			}
			epi.ReLU = ep.relu
			out := e.b.Alloc(outN)
			b.ConvForward(p, xb, wb, epi, out, false)
			e.close(fmt.Sprintf("%s epilogue %+v", name, ep), e.down(out), want)
		}

		gyb := e.up(gy)
		// Input gradient: overwrite (a garbage-filled buffer) and accumulate.
		dx := e.up(e.randn(len(x)))
		b.ConvBackwardData(p, gyb, wb, dx, false)
		e.close(name+" backward data", e.down(dx), rgx)
		base := e.randn(len(x))
		dx = e.up(base)
		b.ConvBackwardData(p, gyb, wb, dx, true)
		want := slices.Clone(rgx)
		for i := range want {
			want[i] += float64(base[i])
		}
		e.close(name+" backward data accumulate", e.down(dx), want)

		// Weight and bias gradients accumulate.
		wbase, bbase := e.randn(len(w)), e.randn(p.K)
		dw, db := e.up(wbase), e.up(bbase)
		b.ConvBackwardFilter(p, xb, gyb, dw, db)
		ww, wbias := slices.Clone(rgw), slices.Clone(rgb)
		for i := range ww {
			ww[i] += float64(wbase[i])
		}
		for i := range wbias {
			wbias[i] += float64(bbase[i])
		}
		e.close(name+" backward filter", e.down(dw), ww)
		e.close(name+" backward bias", e.down(db), wbias)
		// Bias only.
		db = e.up(bbase)
		b.ConvBackwardFilter(p, xb, gyb, backend.Buffer{}, db)
		e.close(name+" backward bias only", e.down(db), wbias)
	}
}

// testNorm checks the batch-norm passes against float64 references.
func testNorm(t *testing.T, b backend.Backend) {
	e := newEnv(t, b, 4)
	for _, sz := range []int{1, 7, 64, 1025} {
		planes, stride := 3, sz+5
		x := e.randn(planes * stride)
		for i := range x {
			x[i] = x[i]*2 + 3
		}
		sum, sq := b.ChannelSums(e.up(x), planes, sz, stride, 3)
		var ws, wq float64
		for p := range planes {
			for _, v := range x[p*stride : p*stride+sz] {
				d := float64(v) - 3
				ws += d
				wq += d * d
			}
		}
		if math.Abs(sum-ws) > 1e-4*math.Max(1, math.Abs(ws)) || math.Abs(sq-wq) > 1e-4*math.Max(1, wq) {
			t.Errorf("ChannelSums size %d: (%g, %g), reference (%g, %g)", sz, sum, sq, ws, wq)
		}

		src := e.randn(sz)
		for _, relu := range []bool{false, true} {
			dst := e.b.Alloc(sz)
			b.ScaleShift(dst, e.up(src), 1.5, -0.25, relu)
			want := make([]float64, sz)
			for i, v := range src {
				want[i] = float64(v)*1.5 - 0.25
				if relu {
					want[i] = math.Max(want[i], 0)
				}
			}
			e.close(fmt.Sprintf("ScaleShift %d relu=%v", sz, relu), e.down(dst), want)

			dy, xv := e.randn(sz), e.randn(sz)
			const mean, sc, sh = 0.1, 1.3, 0.2
			dyb := e.up(dy)
			a, q := b.BNBackwardReduce(dyb, e.up(xv), mean, relu, sc, sh)
			var wa, wqq float64
			masked := make([]float64, sz)
			for i := range dy {
				d := float64(dy[i])
				if relu && !(xv[i]*sc+sh > 0) {
					d = 0
				}
				masked[i] = d
				wa += d
				wqq += d * float64(xv[i]-mean)
			}
			if math.Abs(a-wa) > 1e-4*math.Max(1, math.Abs(wa)) || math.Abs(q-wqq) > 1e-4*math.Max(1, math.Abs(wqq)) {
				t.Errorf("BNBackwardReduce %d relu=%v: (%g, %g), reference (%g, %g)", sz, relu, a, q, wa, wqq)
			}
			if relu {
				e.close("BNBackwardReduce masks dy", e.down(dyb), masked)
			}
		}
		for _, accum := range []bool{false, true} {
			dy, xv, base := e.randn(sz), e.randn(sz), e.randn(sz)
			dx := e.up(base)
			b.BNBackwardApply(dx, e.up(dy), e.up(xv), 0.7, -0.3, 0.05, accum)
			want := make([]float64, sz)
			for i := range want {
				want[i] = 0.7*float64(dy[i]) - 0.3*float64(xv[i]) + 0.05
				if accum {
					want[i] += float64(base[i])
				}
			}
			e.close(fmt.Sprintf("BNBackwardApply %d acc=%v", sz, accum), e.down(dx), want)
		}
	}
}

// geluRef is the erf form of GELU and its derivative.
func geluRef(x float64) (float64, float64) {
	cdf := 0.5 * (1 + math.Erf(x/math.Sqrt2))
	pdf := math.Exp(-x*x/2) / math.Sqrt(2*math.Pi)
	return x * cdf, cdf + x*pdf
}

// testElementwise checks the element-wise ops, activations and reductions at odd
// lengths (vector tails) and length 0.
func testElementwise(t *testing.T, b backend.Backend) {
	e := newEnv(t, b, 5)
	for _, n := range []int{0, 1, 15, 16, 17, 1000} {
		a, c, y := e.randn(n), e.randn(n), e.randn(n)
		ref := func(f func(i int) float64) []float64 {
			out := make([]float64, n)
			for i := range out {
				out[i] = f(i)
			}
			return out
		}
		dst := e.b.Alloc(n)
		b.Add(dst, e.up(a), e.up(c))
		e.close("Add", e.down(dst), ref(func(i int) float64 { return float64(a[i]) + float64(c[i]) }))
		b.AddReLU(dst, e.up(a), e.up(c))
		e.close("AddReLU", e.down(dst), ref(func(i int) float64 { return math.Max(float64(a[i])+float64(c[i]), 0) }))
		yb := e.up(c)
		b.Axpy(-0.5, e.up(a), yb)
		e.close("Axpy", e.down(yb), ref(func(i int) float64 { return float64(c[i]) - 0.5*float64(a[i]) }))
		sb := e.up(a)
		b.Scale(3, sb)
		e.close("Scale", e.down(sb), ref(func(i int) float64 { return 3 * float64(a[i]) }))
		b.ReLU(dst, e.up(a))
		e.close("ReLU", e.down(dst), ref(func(i int) float64 { return math.Max(float64(a[i]), 0) }))
		for _, accum := range []bool{false, true} {
			dx := e.up(y)
			b.ReLUMaskGrad(dx, e.up(c), e.up(a), accum)
			e.close(fmt.Sprintf("ReLUMaskGrad acc=%v", accum), e.down(dx), ref(func(i int) float64 {
				v := 0.0
				if a[i] > 0 {
					v = float64(c[i])
				}
				if accum {
					v += float64(y[i])
				}
				return v
			}))
		}
		d1, d2 := e.up(y), e.up(a)
		b.ReLUMaskGradPair(d1, d2, e.up(c), e.up(a))
		mask := func(i int) float64 {
			if a[i] > 0 {
				return float64(c[i])
			}
			return 0
		}
		e.close("ReLUMaskGradPair dx", e.down(d1), ref(mask))
		e.close("ReLUMaskGradPair dx2", e.down(d2), ref(mask))
		b.GELU(dst, e.up(a))
		e.close("GELU", e.down(dst), ref(func(i int) float64 { v, _ := geluRef(float64(a[i])); return v }))
		for _, accum := range []bool{false, true} {
			dx := e.up(y)
			b.GELUGrad(dx, e.up(c), e.up(a), accum)
			e.close(fmt.Sprintf("GELUGrad acc=%v", accum), e.down(dx), ref(func(i int) float64 {
				_, d := geluRef(float64(a[i]))
				v := float64(c[i]) * d
				if accum {
					v += float64(y[i])
				}
				return v
			}))
		}
		var sum, dot float64
		mx := math.Inf(-1)
		for i := range a {
			sum += float64(a[i])
			dot += float64(a[i]) * float64(c[i])
			mx = math.Max(mx, float64(a[i]))
		}
		e.close("Sum", []float32{b.Sum(e.up(a))}, []float64{sum})
		e.close("Dot", []float32{b.Dot(e.up(a), e.up(c))}, []float64{dot})
		if got := b.Max(e.up(a)); float64(got) != mx {
			t.Errorf("Max of %d: %g, want %g", n, got, mx)
		}
	}
}

// testFiniteDifferences checks the gradient ops against float64 central
// differences of the forward ops they differentiate: GELU, ReLU's mask and the
// convolution's two backward passes (through the objective sum(gy * conv(x, w))).
func testFiniteDifferences(t *testing.T, b backend.Backend) {
	e := newEnv(t, b, 6)
	const h = 1e-2
	// GELU: d/dx gelu evaluated by the backend's own forward.
	x := e.randn(33)
	dy := make([]float32, len(x))
	for i := range dy {
		dy[i] = 1
	}
	dx := e.b.Alloc(len(x))
	b.GELUGrad(dx, e.up(dy), e.up(x), false)
	got := e.down(dx)
	for i, v := range x {
		p, m := e.b.Alloc(1), e.b.Alloc(1)
		b.GELU(p, e.up([]float32{v + h}))
		b.GELU(m, e.up([]float32{v - h}))
		fd := (float64(e.down(p)[0]) - float64(e.down(m)[0])) / (2 * h)
		if math.Abs(fd-float64(got[i])) > 2e-3 {
			t.Errorf("GELUGrad at %g: %g, finite difference %g", v, got[i], fd)
		}
	}
	// Convolution: the objective L = sum(gy * conv(x, w)) is linear in each of x
	// and w, so a central difference of the backend's forward is exact up to
	// float32 rounding.
	for _, cc := range []convCase{{1, 2, 5, 5, 3, 3, 3, 1, 1}, {2, 2, 7, 6, 3, 3, 3, 2, 1}, {1, 3, 4, 4, 2, 1, 1, 2, 0}} {
		p := cc.params()
		xs, ws := e.randn(p.N*p.C*p.H*p.W), e.randn(p.K*p.C*p.R*p.S)
		gy := e.randn(p.N * p.K * p.OutH * p.OutW)
		obj := func(xv, wv []float32) float64 {
			y := e.b.Alloc(len(gy))
			b.ConvForward(p, e.up(xv), e.up(wv), backend.ConvEpilogue{}, y, false)
			var s float64
			for i, v := range e.down(y) {
				s += float64(v) * float64(gy[i])
			}
			return s
		}
		gx := e.b.Alloc(len(xs))
		b.ConvBackwardData(p, e.up(gy), e.up(ws), gx, false)
		gw := e.b.Alloc(len(ws))
		b.ConvBackwardFilter(p, e.up(xs), e.up(gy), gw, backend.Buffer{})
		for _, c := range []struct {
			name string
			v    []float32
			g    []float32
			f    func([]float32) float64
		}{
			{"x", xs, e.down(gx), func(v []float32) float64 { return obj(v, ws) }},
			{"w", ws, e.down(gw), func(v []float32) float64 { return obj(xs, v) }},
		} {
			for i := 0; i < len(c.v); i += 1 + len(c.v)/23 {
				orig := c.v[i]
				c.v[i] = orig + h
				lp := c.f(c.v)
				c.v[i] = orig - h
				lm := c.f(c.v)
				c.v[i] = orig
				fd := (lp - lm) / (2 * h)
				if math.Abs(fd-float64(c.g[i])) > 1e-2*math.Max(1, math.Abs(fd)) {
					t.Errorf("conv %+v: d/d%s[%d] = %g, finite difference %g", cc, c.name, i, c.g[i], fd)
				}
			}
		}
	}
}

// testSoftmax checks SoftmaxRows, including a sharply peaked row.
func testSoftmax(t *testing.T, b backend.Backend) {
	e := newEnv(t, b, 7)
	for _, rc := range [][2]int{{1, 1}, {3, 7}, {5, 64}, {2, 197}} {
		rows, cols := rc[0], rc[1]
		x := e.randn(rows * cols)
		x[0] = 40
		buf := e.up(x)
		b.SoftmaxRows(buf, rows, cols)
		want := make([]float64, len(x))
		for r := range rows {
			mx := math.Inf(-1)
			for _, v := range x[r*cols : (r+1)*cols] {
				mx = math.Max(mx, float64(v))
			}
			var s float64
			for j, v := range x[r*cols : (r+1)*cols] {
				want[r*cols+j] = math.Exp(float64(v) - mx)
				s += want[r*cols+j]
			}
			for j := range cols {
				want[r*cols+j] /= s
			}
		}
		e.close(fmt.Sprintf("SoftmaxRows %dx%d", rows, cols), e.down(buf), want)
	}
}

// testOptimizer checks the optimizer updates against float64 transcriptions of
// the torch.optim formulas.
func testOptimizer(t *testing.T, b backend.Backend) {
	e := newEnv(t, b, 8)
	for _, n := range []int{0, 1, 37} {
		p, g, buf := e.randn(n), e.randn(n), e.randn(n)
		for _, nest := range []bool{false, true} {
			o := backend.SGDParams{LR: 0.1, Momentum: 0.9, WeightDecay: 5e-4, Nesterov: nest}
			pb, vb := e.up(p), e.up(buf)
			b.SGDUpdate(o, pb, e.up(g), vb)
			wp, wv := make([]float64, n), make([]float64, n)
			for i := range p {
				d := float64(g[i]) + 5e-4*float64(p[i])
				v := 0.9*float64(buf[i]) + d
				wv[i] = v
				if nest {
					d += 0.9 * v
				} else {
					d = v
				}
				wp[i] = float64(p[i]) - 0.1*d
			}
			e.close("SGDUpdate param", e.down(pb), wp)
			e.close("SGDUpdate momentum", e.down(vb), wv)
		}
		for _, excl := range []bool{false, true} {
			o := backend.LARSParams{LR: 0.2, Momentum: 0.9, WeightDecay: 1e-3, Trust: 0.001, Excluded: excl}
			pb, vb := e.up(p), e.up(buf)
			b.LARSUpdate(o, pb, e.up(g), vb)
			q, wd := 1.0, 0.0
			if !excl {
				wd = 1e-3
				var pn, un float64
				for i := range p {
					d := float64(g[i]) + wd*float64(p[i])
					pn += float64(p[i]) * float64(p[i])
					un += d * d
				}
				if pn > 0 && un > 0 {
					q = 0.001 * math.Sqrt(pn) / math.Sqrt(un)
				}
			}
			wp, wv := make([]float64, n), make([]float64, n)
			for i := range p {
				d := (float64(g[i]) + wd*float64(p[i])) * q
				wv[i] = 0.9*float64(buf[i]) + d
				wp[i] = float64(p[i]) - 0.2*wv[i]
			}
			e.close(fmt.Sprintf("LARSUpdate excluded=%v param", excl), e.down(pb), wp)
			e.close(fmt.Sprintf("LARSUpdate excluded=%v momentum", excl), e.down(vb), wv)
		}
		m, v := e.randn(n), e.randn(n)
		for i := range v {
			v[i] *= v[i]
		}
		const b1, b2, eps, decay, step, isc = 0.9, 0.999, 1e-8, 0.99, 0.01, 1.2
		o := backend.AdamWParams{Beta1: b1, Beta2: b2, Eps: eps, Decay: decay, Step: step, InvSqrtC2: isc}
		pb, mb, vb := e.up(p), e.up(m), e.up(v)
		b.AdamWUpdate(o, pb, e.up(g), mb, vb)
		wp, wm, wv := make([]float64, n), make([]float64, n), make([]float64, n)
		for i := range p {
			gv := float64(g[i])
			wm[i] = b1*float64(m[i]) + (1-b1)*gv
			wv[i] = b2*float64(v[i]) + (1-b2)*gv*gv
			wp[i] = float64(p[i])*decay - step*wm[i]/(math.Sqrt(wv[i])*isc+eps)
		}
		e.close("AdamWUpdate param", e.down(pb), wp)
		e.close("AdamWUpdate m", e.down(mb), wm)
		e.close("AdamWUpdate v", e.down(vb), wv)
		tb := e.up(p)
		b.EMAUpdate(0.99, tb, e.up(g))
		e.close("EMAUpdate", e.down(tb), func() []float64 {
			out := make([]float64, n)
			for i := range out {
				out[i] = 0.99*float64(p[i]) + 0.01*float64(g[i])
			}
			return out
		}())
	}
}

// testNearest checks the top-k search against a brute-force ranking, for both
// metrics, k = 1 and k > 1, odd dimensions and a query count across chunks.
func testNearest(t *testing.T, b backend.Backend) {
	e := newEnv(t, b, 9)
	for _, c := range []struct{ nq, nk, dim, k, chunk int }{{1, 1, 1, 1, 0}, {5, 40, 3, 1, 0}, {37, 300, 17, 5, 8}, {300, 1000, 64, 20, 0}} {
		q, keys := e.randn(c.nq*c.dim), e.randn(c.nk*c.dim)
		for _, metric := range []backend.Metric{backend.Dot, backend.L2} {
			nb, err := b.Nearest(metric, e.up(q), e.up(keys), c.dim, c.k, c.chunk)
			if err != nil {
				t.Fatalf("Nearest %+v: %v", c, err)
			}
			if nb.K != c.k || len(nb.Index) != c.nq*c.k || len(nb.Sim) != c.nq*c.k {
				t.Fatalf("Nearest %+v: K %d, %d indices, %d similarities", c, nb.K, len(nb.Index), len(nb.Sim))
			}
			for qi := range c.nq {
				score := make([]float64, c.nk)
				for j := range c.nk {
					var s float64
					for d := range c.dim {
						a, kv := float64(q[qi*c.dim+d]), float64(keys[j*c.dim+d])
						if metric == backend.Dot {
							s += a * kv
						} else {
							s -= (a - kv) * (a - kv)
						}
					}
					score[j] = s
				}
				order := make([]int, c.nk)
				for j := range order {
					order[j] = j
				}
				slices.SortStableFunc(order, func(x, y int) int {
					switch {
					case score[x] > score[y]:
						return -1
					case score[x] < score[y]:
						return 1
					}
					return 0
				})
				idx, _ := nb.Row(qi)
				for j := range c.k {
					// Ties and float32 rounding may swap near-equal keys: compare scores.
					if d := math.Abs(score[idx[j]] - score[order[j]]); d > 1e-3*math.Max(1, math.Abs(score[order[j]])) {
						t.Fatalf("Nearest %+v metric %d: query %d rank %d is key %d (score %g), brute force key %d (%g)",
							c, metric, qi, j, idx[j], score[idx[j]], order[j], score[order[j]])
					}
				}
			}
		}
	}
}

// testFloat64 checks the Gram matrices and the eigensolver's vector kernels.
func testFloat64(t *testing.T, b backend.Backend) {
	e := newEnv(t, b, 10)
	for _, rd := range [][2]int{{1, 1}, {7, 5}, {100, 33}} {
		rows, d := rd[0], rd[1]
		x := e.randn(rows * d)
		scale, shift := make([]float64, rows), make([]float64, d)
		for i := range scale {
			scale[i] = 0.5 + float64(i%3)
		}
		for j := range shift {
			shift[j] = 0.1 * float64(j%4)
		}
		want := make([]float64, d*d)
		for r := range rows {
			for i := range d {
				for j := i; j < d; j++ {
					yi := scale[r]*float64(x[r*d+i]) - shift[i]
					yj := scale[r]*float64(x[r*d+j]) - shift[j]
					want[i*d+j] += yi * yj
				}
			}
		}
		upper := func(name string, got []float64) {
			for i := range d {
				for j := i; j < d; j++ {
					if math.Abs(got[i*d+j]-want[i*d+j]) > 1e-9*math.Max(1, math.Abs(want[i*d+j])) {
						t.Fatalf("%s %dx%d: c[%d,%d] = %g, reference %g", name, rows, d, i, j, got[i*d+j], want[i*d+j])
					}
				}
			}
		}
		c := make([]float64, d*d)
		b.Gram32(rows, d, x, d, scale, shift, c, d)
		upper("Gram32", c)
		c = make([]float64, d*d)
		b.Gram64(rows, d, f64(x), d, scale, shift, c, d)
		upper("Gram64", c)
		// Stats, unnormalised: scale 1.
		for r := range scale {
			scale[r] = 1
		}
		want = make([]float64, d*d)
		sum := make([]float64, d)
		for r := range rows {
			for i := range d {
				yi := float64(x[r*d+i]) - shift[i]
				sum[i] += yi
				for j := i; j < d; j++ {
					want[i*d+j] += yi * (float64(x[r*d+j]) - shift[j])
				}
			}
		}
		c = make([]float64, d*d)
		st := &backend.GramStats{Sum: make([]float64, d), S1: make([]float64, d), S2: make([]float64, d)}
		b.Gram32Stats(rows, d, x, d, false, shift, c, d, st)
		upper("Gram32Stats", c)
		for j := range d {
			if math.Abs(st.Sum[j]-sum[j]) > 1e-9*math.Max(1, math.Abs(sum[j])) {
				t.Fatalf("Gram32Stats column sum %d: %g, reference %g", j, st.Sum[j], sum[j])
			}
		}
	}
	for _, n := range []int{0, 1, 9, 33} {
		r, v, w, u := f64(e.randn(n)), f64(e.randn(n)), f64(e.randn(n)), f64(e.randn(n))
		r2 := slices.Clone(r)
		var want float64
		for j := range r2 {
			r2[j] -= 0.3*w[j] + 0.7*v[j]
			want += r2[j] * u[j]
		}
		got := b.Rank2Dot(r, v, w, 0.3, 0.7, u)
		if math.Abs(got-want) > 1e-12*math.Max(1, math.Abs(want)) || !slices.EqualFunc(r, r2, func(a, c float64) bool { return math.Abs(a-c) <= 1e-14*math.Max(1, math.Abs(c)) }) {
			t.Fatalf("Rank2Dot %d: %g, reference %g", n, got, want)
		}
		p := f64(e.randn(n))
		p2, r3 := slices.Clone(p), slices.Clone(r)
		want = 0
		for j := range r3 {
			x := r3[j] - (0.2*w[j] + 0.4*v[j])
			r3[j] = x
			p2[j] += x * 1.5
			want += x * u[j]
		}
		got = b.Rank2Symv(r, v, w, 0.2, 0.4, u, 1.5, p)
		if math.Abs(got-want) > 1e-12*math.Max(1, math.Abs(want)) {
			t.Fatalf("Rank2Symv %d: %g, reference %g", n, got, want)
		}
		want = 0
		for j := range u {
			want += u[j] * v[j]
		}
		if got := b.Ddot(u, v); math.Abs(got-want) > 1e-12*math.Max(1, math.Abs(want)) {
			t.Fatalf("Ddot %d: %g, reference %g", n, got, want)
		}
	}
}
