package tensor

import "math"

// Inner loops of the batch-norm family (BatchNorm, BatchNormReLU, AddReLU, ReLU).
// They are scalar Go, unrolled four ways with independent accumulators; ReLU
// selects and gradient masks go through integer bit patterns so the compiler emits
// CMOV rather than a branch that mispredicts on random signs. Kernels that write
// a gradient come in two forms chosen by acc: overwrite (the buffer was fresh from
// the arena, see gradOut) or accumulate (+=).

// bnChunk bounds how many values are summed in float32 before the partial sums are
// flushed into float64, so the statistics stay accurate for large planes.
const bnChunk = 1024

// reluBits is max(v, 0) through the sign bit (negative values and -0 become +0).
func reluBits(v float32) float32 {
	b := math.Float32bits(v)
	if int32(b) < 0 {
		b = 0
	}
	return math.Float32frombits(b)
}

// maskPos returns d where y > 0 and 0 elsewhere (the ReLU gradient mask).
func maskPos(d, y float32) float32 {
	b := math.Float32bits(d)
	if !(y > 0) {
		b = 0
	}
	return math.Float32frombits(b)
}

// posMask returns d where the ReLU output y is non-zero, 0 where it is +0, with
// integer operations only (y >= 0 is assumed; a NaN output passes its gradient).
func posMask(d, y float32) float32 {
	yb := int32(math.Float32bits(y))
	return math.Float32frombits(math.Float32bits(d) & uint32((-yb)>>31))
}

// bnStats returns sum(x-k) and sum((x-k)^2) over p, shifted by k for accuracy.
func bnStats(p []float32, k float32) (s, q float64) {
	for len(p) > 0 {
		c := p[:min(len(p), bnChunk)]
		p = p[len(c):]
		var s0, s1, s2, s3, q0, q1, q2, q3 float32
		i := 0
		for ; i+4 <= len(c); i += 4 {
			v := c[i : i+4 : i+4]
			d0, d1, d2, d3 := v[0]-k, v[1]-k, v[2]-k, v[3]-k
			s0 += d0
			s1 += d1
			s2 += d2
			s3 += d3
			q0 += d0 * d0
			q1 += d1 * d1
			q2 += d2 * d2
			q3 += d3 * d3
		}
		for ; i < len(c); i++ {
			d := c[i] - k
			s0 += d
			q0 += d * d
		}
		s += float64((s0 + s1) + (s2 + s3))
		q += float64((q0 + q1) + (q2 + q3))
	}
	return s, q
}

// bnNorm writes dst = src*sc + sh.
func bnNorm(dst, src []float32, sc, sh float32) {
	n := len(src)
	dst = dst[:n]
	i := 0
	for ; i+4 <= n; i += 4 {
		s := src[i : i+4 : i+4]
		d := dst[i : i+4 : i+4]
		d[0] = s[0]*sc + sh
		d[1] = s[1]*sc + sh
		d[2] = s[2]*sc + sh
		d[3] = s[3]*sc + sh
	}
	for ; i < n; i++ {
		dst[i] = src[i]*sc + sh
	}
}

// bnNormReLU writes dst = relu(src*sc + sh).
func bnNormReLU(dst, src []float32, sc, sh float32) {
	n := len(src)
	dst = dst[:n]
	i := 0
	for ; i+4 <= n; i += 4 {
		s := src[i : i+4 : i+4]
		d := dst[i : i+4 : i+4]
		d[0] = reluBits(s[0]*sc + sh)
		d[1] = reluBits(s[1]*sc + sh)
		d[2] = reluBits(s[2]*sc + sh)
		d[3] = reluBits(s[3]*sc + sh)
	}
	for ; i < n; i++ {
		dst[i] = reluBits(src[i]*sc + sh)
	}
}

// bnBwdReduce returns sum(dy) and sum(dy*(x-mean)).
func bnBwdReduce(dy, x []float32, mean float32) (sg, sgx float64) {
	dy = dy[:len(x)]
	for len(x) > 0 {
		n := min(len(x), bnChunk)
		xc, dc := x[:n], dy[:n]
		x, dy = x[n:], dy[n:]
		var s0, s1, s2, s3, q0, q1, q2, q3 float32
		i := 0
		for ; i+4 <= n; i += 4 {
			v := xc[i : i+4 : i+4]
			d := dc[i : i+4 : i+4]
			s0 += d[0]
			s1 += d[1]
			s2 += d[2]
			s3 += d[3]
			q0 += d[0] * (v[0] - mean)
			q1 += d[1] * (v[1] - mean)
			q2 += d[2] * (v[2] - mean)
			q3 += d[3] * (v[3] - mean)
		}
		for ; i < n; i++ {
			s0 += dc[i]
			q0 += dc[i] * (xc[i] - mean)
		}
		sg += float64((s0 + s1) + (s2 + s3))
		sgx += float64((q0 + q1) + (q2 + q3))
	}
	return sg, sgx
}

// bnBwdReduceReLU is bnBwdReduce with dy masked where x*sc+sh <= 0, the
// recomputed pre-activation of BatchNormReLU. It stores the masked gradient back
// into dy, so the apply pass that follows needs no mask.
func bnBwdReduceReLU(dy, x []float32, mean, sc, sh float32) (sg, sgx float64) {
	dy = dy[:len(x)]
	for len(x) > 0 {
		n := min(len(x), bnChunk)
		xc, dc := x[:n], dy[:n]
		x, dy = x[n:], dy[n:]
		// Two accumulator pairs and one element at a time keep every value in a
		// register (four pairs spill).
		var s0, s1, q0, q1 float32
		i := 0
		for ; i+4 <= n; i += 4 {
			v := xc[i : i+4 : i+4]
			d := dc[i : i+4 : i+4]
			e := v[0]
			g := maskPos(d[0], e*sc+sh)
			d[0] = g
			s0 += g
			q0 += g * (e - mean)
			e = v[1]
			g = maskPos(d[1], e*sc+sh)
			d[1] = g
			s1 += g
			q1 += g * (e - mean)
			e = v[2]
			g = maskPos(d[2], e*sc+sh)
			d[2] = g
			s0 += g
			q0 += g * (e - mean)
			e = v[3]
			g = maskPos(d[3], e*sc+sh)
			d[3] = g
			s1 += g
			q1 += g * (e - mean)
		}
		for ; i < n; i++ {
			e := xc[i]
			g := maskPos(dc[i], e*sc+sh)
			dc[i] = g
			s0 += g
			q0 += g * (e - mean)
		}
		sg += float64(s0 + s1)
		sgx += float64(q0 + q1)
	}
	return sg, sgx
}

// bnBwdApply writes (acc: adds) dx = k*dy + p*x + q.
func bnBwdApply(dx, dy, x []float32, k, p, q float32, acc bool) {
	n := len(x)
	dy, dx = dy[:n], dx[:n]
	i := 0
	if acc {
		for ; i+4 <= n; i += 4 {
			v := x[i : i+4 : i+4]
			d := dy[i : i+4 : i+4]
			o := dx[i : i+4 : i+4]
			o[0] += k*d[0] + p*v[0] + q
			o[1] += k*d[1] + p*v[1] + q
			o[2] += k*d[2] + p*v[2] + q
			o[3] += k*d[3] + p*v[3] + q
		}
		for ; i < n; i++ {
			dx[i] += k*dy[i] + p*x[i] + q
		}
		return
	}
	for ; i+4 <= n; i += 4 {
		v := x[i : i+4 : i+4]
		d := dy[i : i+4 : i+4]
		o := dx[i : i+4 : i+4]
		o[0] = k*d[0] + p*v[0] + q
		o[1] = k*d[1] + p*v[1] + q
		o[2] = k*d[2] + p*v[2] + q
		o[3] = k*d[3] + p*v[3] + q
	}
	for ; i < n; i++ {
		dx[i] = k*dy[i] + p*x[i] + q
	}
}

// bnBwdScaleReLU writes (acc: adds) dx = k*dy where x*sc+sh > 0, 0 elsewhere: the
// BatchNormReLU backward with running statistics.
func bnBwdScaleReLU(dx, dy, x []float32, sc, sh, k float32, acc bool) {
	n := len(x)
	dy, dx = dy[:n], dx[:n]
	i := 0
	if acc {
		for ; i+4 <= n; i += 4 {
			v := x[i : i+4 : i+4]
			d := dy[i : i+4 : i+4]
			o := dx[i : i+4 : i+4]
			o[0] += k * maskPos(d[0], v[0]*sc+sh)
			o[1] += k * maskPos(d[1], v[1]*sc+sh)
			o[2] += k * maskPos(d[2], v[2]*sc+sh)
			o[3] += k * maskPos(d[3], v[3]*sc+sh)
		}
		for ; i < n; i++ {
			dx[i] += k * maskPos(dy[i], x[i]*sc+sh)
		}
		return
	}
	for ; i+4 <= n; i += 4 {
		v := x[i : i+4 : i+4]
		d := dy[i : i+4 : i+4]
		o := dx[i : i+4 : i+4]
		o[0] = k * maskPos(d[0], v[0]*sc+sh)
		o[1] = k * maskPos(d[1], v[1]*sc+sh)
		o[2] = k * maskPos(d[2], v[2]*sc+sh)
		o[3] = k * maskPos(d[3], v[3]*sc+sh)
	}
	for ; i < n; i++ {
		dx[i] = k * maskPos(dy[i], x[i]*sc+sh)
	}
}

// scaleInto writes (acc: adds) dx = k*dy.
func scaleInto(dx, dy []float32, k float32, acc bool) {
	n := len(dy)
	dx = dx[:n]
	i := 0
	if acc {
		for ; i+4 <= n; i += 4 {
			d := dy[i : i+4 : i+4]
			o := dx[i : i+4 : i+4]
			o[0] += k * d[0]
			o[1] += k * d[1]
			o[2] += k * d[2]
			o[3] += k * d[3]
		}
		for ; i < n; i++ {
			dx[i] += k * dy[i]
		}
		return
	}
	for ; i+4 <= n; i += 4 {
		d := dy[i : i+4 : i+4]
		o := dx[i : i+4 : i+4]
		o[0] = k * d[0]
		o[1] = k * d[1]
		o[2] = k * d[2]
		o[3] = k * d[3]
	}
	for ; i < n; i++ {
		dx[i] = k * dy[i]
	}
}

// reluInto writes dst = max(src, 0).
func reluInto(dst, src []float32) {
	n := len(src)
	dst = dst[:n]
	i := 0
	for ; i+4 <= n; i += 4 {
		s := src[i : i+4 : i+4]
		d := dst[i : i+4 : i+4]
		d[0], d[1], d[2], d[3] = reluBits(s[0]), reluBits(s[1]), reluBits(s[2]), reluBits(s[3])
	}
	for ; i < n; i++ {
		dst[i] = reluBits(src[i])
	}
}

// addReLUInto writes dst = max(a+b, 0).
func addReLUInto(dst, a, b []float32) {
	n := len(a)
	dst, b = dst[:n], b[:n]
	i := 0
	for ; i+4 <= n; i += 4 {
		x := a[i : i+4 : i+4]
		y := b[i : i+4 : i+4]
		d := dst[i : i+4 : i+4]
		d[0] = reluBits(x[0] + y[0])
		d[1] = reluBits(x[1] + y[1])
		d[2] = reluBits(x[2] + y[2])
		d[3] = reluBits(x[3] + y[3])
	}
	for ; i < n; i++ {
		dst[i] = reluBits(a[i] + b[i])
	}
}

// maskInto writes (acc: adds) dx = dy where y > 0, 0 elsewhere. y must be a
// ReLU output (every value +0 or positive): the overwrite form then works on bit
// patterns alone, dy's bits ANDed with all-ones where y's bits are non-zero.
func maskInto(dx, dy, y []float32, acc bool) {
	n := len(y)
	dx, dy = dx[:n], dy[:n]
	i := 0
	if !acc {
		for ; i+4 <= n; i += 4 {
			v := y[i : i+4 : i+4]
			d := dy[i : i+4 : i+4]
			o := dx[i : i+4 : i+4]
			o[0] = posMask(d[0], v[0])
			o[1] = posMask(d[1], v[1])
			o[2] = posMask(d[2], v[2])
			o[3] = posMask(d[3], v[3])
		}
		for ; i < n; i++ {
			dx[i] = posMask(dy[i], y[i])
		}
		return
	}
	for ; i+4 <= n; i += 4 {
		v := y[i : i+4 : i+4]
		d := dy[i : i+4 : i+4]
		o := dx[i : i+4 : i+4]
		o[0] += maskPos(d[0], v[0])
		o[1] += maskPos(d[1], v[1])
		o[2] += maskPos(d[2], v[2])
		o[3] += maskPos(d[3], v[3])
	}
	for ; i < n; i++ {
		dx[i] += maskPos(dy[i], y[i])
	}
}
