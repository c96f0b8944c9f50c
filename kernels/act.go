package kernels

//go:generate go run -C internal/asmgen ./act -out ../../zact_amd64.s -stubs ../../zact_amd64_stubs.go -pkg kernels

import "math"

// Transformer activations in float32: exp (for the attention softmax) and the
// exact (erf) GELU with its derivative. PyTorch computes these in float32 with
// vectorised polynomial approximations; the float64 math.Exp / math.Erf they
// replace cost 20-50 ns per value, which on a ViT's MLP (millions of values per
// layer) would outweigh the matrix products.
//
// Accuracy (kernels/act_test.go, over dense grids): Exp within 2 ulp (relative
// 1.2e-7) on [-87, 88]; the erf approximation within 4.4e-7 absolute; GELU and
// its derivative within 5e-7 of the float64 result relative to max(1, |x|).
// Each function has an AVX-512 kernel (whole 16-float vectors) and a pure-Go
// path (the tail, other CPUs, purego builds). The paths use the same polynomials
// but the vector kernels fuse multiply-adds, so they may differ in the last bit;
// each path is deterministic.

// Polynomial constants shared by the Go path and the generated assembly
// (kernels/internal/asmgen/act holds a copy; TestActConstantsMatchGenerator
// compares them).
const (
	expLog2e = 1.44269504088896341
	expLn2Hi = 0.693359375
	expLn2Lo = -2.12194440e-4
	// exp(r) = 1 + r(1 + r(c0 + r(c1 + ... + r c5))) for |r| <= ln2/2 (Cephes
	// expf's coefficients, in Horner form throughout)
	expC0 = 5.0000001201e-1
	expC1 = 1.6666665459e-1
	expC2 = 4.1665795894e-2
	expC3 = 8.3334519073e-3
	expC4 = 1.3981999507e-3
	expC5 = 1.9875691500e-4
	// exp is clamped to [expLo, expHi]: exp(expLo) is 0 in float32, exp(expHi) +Inf
	expLo = -104
	expHi = 89

	// erf(x) = x*P(x^2)/Q(x^2) on [-4, 4], +-1 outside (to float32 precision): the
	// rational approximation of Eigen's and XLA's float erf.
	erfClamp = 4
	erfP0    = -1.60960333262415e-02
	erfP1    = -2.95459980854025e-03
	erfP2    = -7.34990630326855e-04
	erfP3    = -5.69250639462346e-05
	erfP4    = -2.10102402082508e-06
	erfP5    = 2.77068142495902e-08
	erfP6    = -2.72614225801306e-10
	erfQ0    = -1.42647390514189e-02
	erfQ1    = -7.37332916720468e-03
	erfQ2    = -1.68282697438203e-03
	erfQ3    = -2.13374055278905e-04
	erfQ4    = -1.45660718464996e-05

	invSqrt2   = 0.70710678118654752
	invSqrt2Pi = 0.39894228040143268
)

// expf is the scalar float32 exp of the Go path: exp(x) = 2^n * exp(r) with
// n = round(x*log2(e)) and r = x - n*ln2 (Cody-Waite, two parts). NaN gives NaN.
func expf(x float32) float32 {
	if x != x {
		return x
	}
	x = min(max(x, expLo), expHi)
	n := float32(math.Floor(float64(x*expLog2e + 0.5)))
	r := x - n*expLn2Hi - n*expLn2Lo
	p := float32(expC5)
	p = p*r + expC4
	p = p*r + expC3
	p = p*r + expC2
	p = p*r + expC1
	p = p*r + expC0
	p = p*r + 1
	p = p*r + 1
	// 2^n in two factors, so n down to -150 reaches the subnormals and 0.
	h := int32(n) / 2
	return p * math.Float32frombits(uint32(h+127)<<23) * math.Float32frombits(uint32(int32(n)-h+127)<<23)
}

// erff is the scalar float32 erf of the Go path.
func erff(x float32) float32 {
	x = min(max(x, -erfClamp), erfClamp)
	x2 := x * x
	p := float32(erfP6)
	p = p*x2 + erfP5
	p = p*x2 + erfP4
	p = p*x2 + erfP3
	p = p*x2 + erfP2
	p = p*x2 + erfP1
	p = p*x2 + erfP0
	q := float32(erfQ4)
	q = q*x2 + erfQ3
	q = q*x2 + erfQ2
	q = q*x2 + erfQ1
	q = q*x2 + erfQ0
	return x * p / q
}

// ExpShift computes dst[i] = exp(src[i] - shift) for i < len(src) and returns
// their float32 sum: the numerators and denominator of a softmax row (shift =
// the row's maximum). dst may alias src.
func ExpShift(dst, src []float32, shift float32) float32 {
	n := len(src)
	dst = dst[:n]
	i := 0
	var s float32
	if hasVec512 && n >= 16 {
		i = n &^ 15
		s = expShift512(i, &dst[0], &src[0], shift)
	}
	return s + expShiftGo(dst[i:], src[i:], shift)
}

func expShiftGo(dst, src []float32, shift float32) float32 {
	dst = dst[:len(src)]
	var s float32
	for i, v := range src {
		e := expf(v - shift)
		dst[i] = e
		s += e
	}
	return s
}

// Max returns the largest value of x, ignoring NaNs (-Inf when x is empty or all
// NaN): the shift of a softmax row, whose NaNs ExpShift then propagates.
func Max(x []float32) float32 {
	m := float32(math.Inf(-1))
	n := len(x)
	i := 0
	if hasVec512 && n >= 16 {
		i = n &^ 15
		m = max512(i, &x[0])
	}
	for _, v := range x[i:] {
		if v > m {
			m = v
		}
	}
	return m
}

// GELU computes dst[i] = x*Phi(x) = x/2*(1 + erf(x/sqrt 2)) for x = src[i], the
// exact (erf) form that is PyTorch's default. dst may alias src.
func GELU(dst, src []float32) {
	n := len(src)
	dst = dst[:n]
	i := 0
	if hasVec512 && n >= 16 {
		i = n &^ 15
		gelu512(i, &dst[0], &src[0])
	}
	geluGo(dst[i:], src[i:])
}

func geluGo(dst, src []float32) {
	dst = dst[:len(src)]
	for i, x := range src {
		dst[i] = 0.5 * x * (1 + erff(x*invSqrt2))
	}
}

// GELUGrad computes dx[i] = dy[i] * GELU'(x[i]) with GELU'(x) = Phi(x) +
// x*exp(-x^2/2)/sqrt(2 pi), overwriting dx (acc false) or adding to it (acc true).
// dx may alias dy.
func GELUGrad(dx, dy, x []float32, acc bool) {
	n := len(dy)
	dx, x = dx[:n], x[:n]
	i := 0
	if hasVec512 && n >= 16 {
		i = n &^ 15
		if acc {
			geluGradAdd512(i, &dx[0], &dy[0], &x[0])
		} else {
			geluGrad512(i, &dx[0], &dy[0], &x[0])
		}
	}
	geluGradGo(dx[i:], dy[i:], x[i:], acc)
}

func geluGradGo(dx, dy, x []float32, acc bool) {
	dx, x = dx[:len(dy)], x[:len(dy)]
	for i, g := range dy {
		v := x[i]
		d := g * (0.5*(1+erff(v*invSqrt2)) + v*invSqrt2Pi*expf(-0.5*v*v))
		if acc {
			dx[i] += d
		} else {
			dx[i] = d
		}
	}
}
