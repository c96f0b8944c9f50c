package kernels

// Vector primitives for the memory-bound ops. Each has an AVX-512 path (whole
// 16-float vectors) and a pure-Go path (the tail, other CPUs, purego builds).

// GEMMImpl names the GEMM micro-kernel in use: "avx512", "avx2" or "go".
func GEMMImpl() string { return active.name }

// Axpy computes y[i] += alpha*x[i] for i < len(x); y must be at least as long as x.
func Axpy(alpha float32, x, y []float32) {
	n := len(x)
	y = y[:n]
	i := 0
	if hasVec512 && n >= 16 {
		i = n &^ 15
		axpy512(i, alpha, &x[0], &y[0])
	}
	axpyGo(alpha, x[i:], y[i:])
}

func axpyGo(alpha float32, x, y []float32) {
	y = y[:len(x)]
	for i, v := range x {
		y[i] += alpha * v
	}
}

// Scale computes x[i] *= alpha in place.
func Scale(alpha float32, x []float32) {
	n := len(x)
	i := 0
	if hasVec512 && n >= 16 {
		i = n &^ 15
		scale512(i, alpha, &x[0])
	}
	scaleGo(alpha, x[i:])
}

func scaleGo(alpha float32, x []float32) {
	for i := range x {
		x[i] *= alpha
	}
}

// Dot returns the float32 sum of x[i]*y[i] for i < len(x) (several accumulators,
// so the rounding differs slightly from a sequential loop); len(y) >= len(x).
func Dot(x, y []float32) float32 {
	n := len(x)
	y = y[:n]
	i := 0
	var s float32
	if hasVec512 && n >= 16 {
		i = n &^ 15
		s = dot512(i, &x[0], &y[0])
	}
	return s + dotGo(x[i:], y[i:])
}

func dotGo(x, y []float32) float32 {
	y = y[:len(x)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(x); i += 4 {
		s0 += x[i] * y[i]
		s1 += x[i+1] * y[i+1]
		s2 += x[i+2] * y[i+2]
		s3 += x[i+3] * y[i+3]
	}
	for ; i < len(x); i++ {
		s0 += x[i] * y[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// Sum returns the float32 sum of x (several accumulators).
func Sum(x []float32) float32 {
	n := len(x)
	i := 0
	var s float32
	if hasVec512 && n >= 16 {
		i = n &^ 15
		s = sum512(i, &x[0])
	}
	return s + sumGo(x[i:])
}

func sumGo(x []float32) float32 {
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(x); i += 4 {
		s0 += x[i]
		s1 += x[i+1]
		s2 += x[i+2]
		s3 += x[i+3]
	}
	for ; i < len(x); i++ {
		s0 += x[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// ReLU computes dst[i] = max(src[i], 0) for i < len(src); dst may alias src.
// NaN inputs give 0.
func ReLU(dst, src []float32) {
	n := len(src)
	dst = dst[:n]
	i := 0
	if hasVec512 && n >= 16 {
		i = n &^ 15
		relu512(i, &dst[0], &src[0])
	}
	reluGo(dst[i:], src[i:])
}

func reluGo(dst, src []float32) {
	dst = dst[:len(src)]
	for i, v := range src {
		if v > 0 {
			dst[i] = v
		} else {
			dst[i] = 0
		}
	}
}

// ReLUBackward computes dx[i] = dy[i] where y[i] > 0 and 0 elsewhere, for
// i < len(dy); y is the ReLU output (or input). dx may alias dy.
func ReLUBackward(dx, dy, y []float32) {
	n := len(dy)
	dx, y = dx[:n], y[:n]
	i := 0
	if hasVec512 && n >= 16 {
		i = n &^ 15
		reluBwd512(i, &dx[0], &dy[0], &y[0])
	}
	reluBwdGo(dx[i:], dy[i:], y[i:])
}

func reluBwdGo(dx, dy, y []float32) {
	dx, y = dx[:len(dy)], y[:len(dy)]
	for i, g := range dy {
		if y[i] > 0 {
			dx[i] = g
		} else {
			dx[i] = 0
		}
	}
}

// Add computes dst[i] = a[i] + b[i] for i < len(a); dst may alias a or b.
func Add(dst, a, b []float32) {
	n := len(a)
	dst, b = dst[:n], b[:n]
	i := 0
	if hasVec512 && n >= 16 {
		i = n &^ 15
		add512(i, &dst[0], &a[0], &b[0])
	}
	addGo(dst[i:], a[i:], b[i:])
}

func addGo(dst, a, b []float32) {
	dst, b = dst[:len(a)], b[:len(a)]
	for i, v := range a {
		dst[i] = v + b[i]
	}
}
