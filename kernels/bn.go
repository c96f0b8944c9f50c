package kernels

import "math"

//go:generate go run -C internal/asmgen ./bn -out ../../zbn_amd64.s -stubs ../../zbn_amd64_stubs.go -pkg kernels

// Streaming primitives of the batch-norm family (statistics, normalise, the two
// backward passes), the residual add+ReLU and the ReLU gradient masks. Each runs
// an AVX-512 kernel (the whole slice, the last len%16 values under a K mask), an
// AVX2+FMA kernel (multiples of 8, the rest in Go) or the pure-Go loop, chosen
// once at start-up (bnISA).
//
// Elementwise primitives and ChannelSums give bit-identical results on every
// path: products are rounded before they are added (never fused), and ReLU
// selects work on the bit patterns. The backward reductions (BNBackwardReduce*)
// widen every term to float64 in the vector kernels (as PyTorch's CPU batch norm
// accumulates in double) and use float32 blocks in Go, so they differ between
// paths in the last bits.
//
// All slices passed together must be at least as long as the one that sets the
// length (the first source named in each doc comment); the outputs may alias the
// inputs element for element.

// bnBlock bounds how many values are summed in float32 before the partial sums
// are flushed into float64.
const bnBlock = 1024

// Instruction sets of the batch-norm primitives.
const (
	bnGo = iota
	bnAVX2
	bnAVX512
)

// BNImpl names the instruction set the batch-norm primitives use: "avx512",
// "avx2" or "go".
func BNImpl() string {
	switch bnISA {
	case bnAVX512:
		return "avx512"
	case bnAVX2:
		return "avx2"
	}
	return "go"
}

// ChannelSums returns sum(x[i]-shift) and sum((x[i]-shift)^2), the shifted
// moments of a batch-norm channel (shift near the mean keeps the variance
// accurate). Blocks of at most 1024 values are summed in four float32
// accumulators (value i into accumulator i%4, in order; each difference and
// square rounded to float32), the accumulators combined as (a0+a1)+(a2+a3) and
// the block sums added in float64. Every path gives the same bits: the vector
// kernels keep the four accumulators of a plane in one 128-bit lane and run
// several planes side by side (ChannelSumsPlanes).
func ChannelSums(x []float32, shift float32) (sum, sumsq float64) {
	return ChannelSumsPlanes(x, 1, len(x), len(x), shift)
}

// ChannelSumsPlanes returns the ChannelSums of the planes x[i*stride :
// i*stride+size] for i < planes, added in plane order: bit for bit the sum of
// ChannelSums over the planes, with up to four planes (AVX-512; two with AVX2)
// streamed at once. This is the layout of one channel of an [N,C,H,W] tensor
// (size H*W, stride C*H*W).
func ChannelSumsPlanes(x []float32, planes, size, stride int, shift float32) (sum, sumsq float64) {
	if planes <= 0 || size <= 0 {
		return 0, 0
	}
	x = x[:(planes-1)*stride+size]
	w := 0 // planes per kernel call
	switch bnISA {
	case bnAVX512:
		w = 4
	case bnAVX2:
		w = 2
	}
	if w == 0 || size < 4 {
		for i := range planes {
			s, q := channelSumsGo(x[i*stride:i*stride+size], shift)
			sum += s
			sumsq += q
		}
		return sum, sumsq
	}
	var acc [32]float32 // per plane j: s lanes at 4j, q lanes at 4w+4j
	var p [4]*float32
	for i := 0; i < planes; i += w {
		k := min(w, planes-i)
		var ps, pq [4]float64
		for c0 := 0; c0 < size; c0 += bnBlock {
			c := min(bnBlock, size-c0)
			n4 := c / 4
			for j := range w {
				p[j] = &x[(i+min(j, k-1))*stride+c0] // a short group repeats its last plane
			}
			if w == 4 {
				bnSumsP512(n4, p[0], p[1], p[2], p[3], shift, &acc[0])
			} else {
				bnSumsP256(n4, p[0], p[1], shift, &acc[0])
			}
			for j := range k {
				s, q := acc[4*j:4*j+4:4*j+4], acc[4*(w+j):4*(w+j)+4:4*(w+j)+4]
				s0, q0 := s[0], q[0]
				o := (i+j)*stride + c0
				for _, v := range x[o+4*n4 : o+c] {
					d := v - shift
					s0 += d
					q0 += float32(d * d)
				}
				ps[j] += float64((s0 + s[1]) + (s[2] + s[3]))
				pq[j] += float64((q0 + q[1]) + (q[2] + q[3]))
			}
		}
		for j := range k {
			sum += ps[j]
			sumsq += pq[j]
		}
	}
	return sum, sumsq
}

func channelSumsGo(p []float32, k float32) (s, q float64) {
	for len(p) > 0 {
		c := p[:min(len(p), bnBlock)]
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
			q0 += float32(d0 * d0)
			q1 += float32(d1 * d1)
			q2 += float32(d2 * d2)
			q3 += float32(d3 * d3)
		}
		for ; i < len(c); i++ {
			d := c[i] - k
			s0 += d
			q0 += float32(d * d)
		}
		s += float64((s0 + s1) + (s2 + s3))
		q += float64((q0 + q1) + (q2 + q3))
	}
	return s, q
}

// ScaleShift writes dst[i] = src[i]*scale + shift (product rounded, then added).
func ScaleShift(dst, src []float32, scale, shift float32) {
	n := len(src)
	dst = dst[:n]
	i := 0
	switch bnISA {
	case bnAVX512:
		if n > 0 {
			bnNorm512(n, &dst[0], &src[0], scale, shift)
		}
		return
	case bnAVX2:
		if i = n &^ 7; i > 0 {
			bnNorm256(i, &dst[0], &src[0], scale, shift)
		}
	}
	scaleShiftGo(dst[i:], src[i:], scale, shift)
}

func scaleShiftGo(dst, src []float32, sc, sh float32) {
	dst = dst[:len(src)]
	for i, v := range src {
		dst[i] = float32(v*sc) + sh
	}
}

// ScaleShiftReLU writes dst[i] = ReLUBits(src[i]*scale + shift): the product is
// rounded, then added, then every value with the sign bit set (-0 and
// negative-signed NaNs included) becomes +0.
func ScaleShiftReLU(dst, src []float32, scale, shift float32) {
	n := len(src)
	dst = dst[:n]
	i := 0
	switch bnISA {
	case bnAVX512:
		if n > 0 {
			bnNormReLU512(n, &dst[0], &src[0], scale, shift)
		}
		return
	case bnAVX2:
		if i = n &^ 7; i > 0 {
			bnNormReLU256(i, &dst[0], &src[0], scale, shift)
		}
	}
	scaleShiftReLUGo(dst[i:], src[i:], scale, shift)
}

func scaleShiftReLUGo(dst, src []float32, sc, sh float32) {
	dst = dst[:len(src)]
	for i, v := range src {
		dst[i] = ReLUScalar(float32(v*sc) + sh)
	}
}

// BNBackwardReduce returns sum(dy[i]) and sum(dy[i]*(x[i]-mean)) over i <
// len(x), the two reductions of the batch-norm backward pass. x[i]-mean is
// rounded to float32; the vector kernels then accumulate in float64 lanes, the Go
// loop in float32 blocks of at most 1024 values flushed to float64.
func BNBackwardReduce(dy, x []float32, mean float32) (sumDy, sumDyXc float64) {
	n := len(x)
	dy = dy[:n]
	i := 0
	switch bnISA {
	case bnAVX512:
		if n > 0 {
			return bnBwdSums512(n, &dy[0], &x[0], mean)
		}
		return 0, 0
	case bnAVX2:
		if i = n &^ 7; i > 0 {
			sumDy, sumDyXc = bnBwdSums256(i, &dy[0], &x[0], mean)
		}
	}
	s, q := bnBackwardReduceGo(dy[i:], x[i:], mean)
	return sumDy + s, sumDyXc + q
}

func bnBackwardReduceGo(dy, x []float32, mean float32) (sg, sgx float64) {
	dy = dy[:len(x)]
	for len(x) > 0 {
		n := min(len(x), bnBlock)
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

// BNBackwardReduceReLU is BNBackwardReduce for ReLU(BatchNorm(x)): dy[i] is first
// zeroed where the recomputed pre-activation x[i]*scale + shift (product rounded,
// as ScaleShiftReLU) is not > 0, and the masked gradient is stored back into dy,
// so the apply pass that follows needs no mask.
func BNBackwardReduceReLU(dy, x []float32, mean, scale, shift float32) (sumDy, sumDyXc float64) {
	n := len(x)
	dy = dy[:n]
	i := 0
	switch bnISA {
	case bnAVX512:
		if n > 0 {
			return bnBwdSumsReLU512(n, &dy[0], &x[0], mean, scale, shift)
		}
		return 0, 0
	case bnAVX2:
		if i = n &^ 7; i > 0 {
			sumDy, sumDyXc = bnBwdSumsReLU256(i, &dy[0], &x[0], mean, scale, shift)
		}
	}
	s, q := bnBackwardReduceReLUGo(dy[i:], x[i:], mean, scale, shift)
	return sumDy + s, sumDyXc + q
}

func bnBackwardReduceReLUGo(dy, x []float32, mean, sc, sh float32) (sg, sgx float64) {
	dy = dy[:len(x)]
	for len(x) > 0 {
		n := min(len(x), bnBlock)
		xc, dc := x[:n], dy[:n]
		x, dy = x[n:], dy[n:]
		// Two accumulator pairs and one element at a time keep every value in a
		// register (four pairs spill).
		var s0, s1, q0, q1 float32
		i := 0
		for ; i+2 <= n; i += 2 {
			v := xc[i : i+2 : i+2]
			d := dc[i : i+2 : i+2]
			e := v[0]
			g := MaskPos(d[0], float32(e*sc)+sh)
			d[0] = g
			s0 += g
			q0 += g * (e - mean)
			e = v[1]
			g = MaskPos(d[1], float32(e*sc)+sh)
			d[1] = g
			s1 += g
			q1 += g * (e - mean)
		}
		for ; i < n; i++ {
			e := xc[i]
			g := MaskPos(dc[i], float32(e*sc)+sh)
			dc[i] = g
			s0 += g
			q0 += g * (e - mean)
		}
		sg += float64(s0 + s1)
		sgx += float64(q0 + q1)
	}
	return sg, sgx
}

// BNBackwardApply writes dx[i] = (k*dy[i] + p*x[i]) + q over i < len(x) (each
// product rounded), the input gradient of batch norm.
func BNBackwardApply(dx, dy, x []float32, k, p, q float32) {
	n := len(x)
	dx, dy = dx[:n], dy[:n]
	i := 0
	switch bnISA {
	case bnAVX512:
		if n > 0 {
			bnApply512(n, &dx[0], &dy[0], &x[0], k, p, q)
		}
		return
	case bnAVX2:
		if i = n &^ 7; i > 0 {
			bnApply256(i, &dx[0], &dy[0], &x[0], k, p, q)
		}
	}
	bnApplyGo(dx[i:], dy[i:], x[i:], k, p, q)
}

// BNBackwardApplyAdd is BNBackwardApply accumulating: dx[i] += (k*dy[i] + p*x[i]) + q.
func BNBackwardApplyAdd(dx, dy, x []float32, k, p, q float32) {
	n := len(x)
	dx, dy = dx[:n], dy[:n]
	i := 0
	switch bnISA {
	case bnAVX512:
		if n > 0 {
			bnApplyAdd512(n, &dx[0], &dy[0], &x[0], k, p, q)
		}
		return
	case bnAVX2:
		if i = n &^ 7; i > 0 {
			bnApplyAdd256(i, &dx[0], &dy[0], &x[0], k, p, q)
		}
	}
	bnApplyAddGo(dx[i:], dy[i:], x[i:], k, p, q)
}

func bnApplyGo(dx, dy, x []float32, k, p, q float32) {
	dx, dy = dx[:len(x)], dy[:len(x)]
	for i, v := range x {
		dx[i] = float32(k*dy[i]) + float32(p*v) + q
	}
}

func bnApplyAddGo(dx, dy, x []float32, k, p, q float32) {
	dx, dy = dx[:len(x)], dy[:len(x)]
	for i, v := range x {
		dx[i] += float32(k*dy[i]) + float32(p*v) + q
	}
}

// AddReLU writes dst[i] = ReLUBits(a[i] + b[i]) over i < len(a).
func AddReLU(dst, a, b []float32) {
	n := len(a)
	dst, b = dst[:n], b[:n]
	i := 0
	switch bnISA {
	case bnAVX512:
		if n > 0 {
			addReLU512(n, &dst[0], &a[0], &b[0])
		}
		return
	case bnAVX2:
		if i = n &^ 7; i > 0 {
			addReLU256(i, &dst[0], &a[0], &b[0])
		}
	}
	addReLUGo(dst[i:], a[i:], b[i:])
}

func addReLUGo(dst, a, b []float32) {
	dst, b = dst[:len(a)], b[:len(a)]
	for i, v := range a {
		dst[i] = ReLUScalar(v + b[i])
	}
}

// ReLUBits writes dst[i] = max(src[i], 0) through the sign bit: negative values,
// -0 and negative-signed NaNs become +0, positive NaNs pass (unlike ReLU, which
// maps every NaN to 0).
func ReLUBits(dst, src []float32) {
	n := len(src)
	dst = dst[:n]
	i := 0
	switch bnISA {
	case bnAVX512:
		if n > 0 {
			reluBits512(n, &dst[0], &src[0])
		}
		return
	case bnAVX2:
		if i = n &^ 7; i > 0 {
			reluBits256(i, &dst[0], &src[0])
		}
	}
	reluBitsGo(dst[i:], src[i:])
}

func reluBitsGo(dst, src []float32) {
	dst = dst[:len(src)]
	for i, v := range src {
		dst[i] = ReLUScalar(v)
	}
}

// ReLUMaskGrad writes dx[i] = dy[i] where the ReLU output y[i] is non-zero and 0
// where it is +0, over i < len(y). It works on bit patterns alone (dy's bits ANDed
// with all-ones where y's int32 bit pattern is positive or -0), so y must be a
// ReLU output (every value +0 or positive; a NaN output passes its gradient).
func ReLUMaskGrad(dx, dy, y []float32) {
	n := len(y)
	dx, dy = dx[:n], dy[:n]
	i := 0
	switch bnISA {
	case bnAVX512:
		if n > 0 {
			reluMask512(n, &dx[0], &dy[0], &y[0])
		}
		return
	case bnAVX2:
		if i = n &^ 7; i > 0 {
			reluMask256(i, &dx[0], &dy[0], &y[0])
		}
	}
	reluMaskGo(dx[i:], dy[i:], y[i:])
}

// ReLUMaskGradPair is ReLUMaskGrad writing the same masked gradient to dx and dx2
// in one pass (the two inputs of a residual add+ReLU).
func ReLUMaskGradPair(dx, dx2, dy, y []float32) {
	n := len(y)
	dx, dx2, dy = dx[:n], dx2[:n], dy[:n]
	i := 0
	switch bnISA {
	case bnAVX512:
		if n > 0 {
			reluMask2512(n, &dx[0], &dx2[0], &dy[0], &y[0])
		}
		return
	case bnAVX2:
		if i = n &^ 7; i > 0 {
			reluMask2256(i, &dx[0], &dx2[0], &dy[0], &y[0])
		}
	}
	reluMaskGo(dx[i:], dy[i:], y[i:])
	copy(dx2[i:], dx[i:])
}

func reluMaskGo(dx, dy, y []float32) {
	dx, dy = dx[:len(y)], dy[:len(y)]
	for i, v := range y {
		dx[i] = posMask(dy[i], v)
	}
}

// ReLUMaskGradAdd accumulates dx[i] += dy[i] where y[i] > 0 (a float compare: NaN
// and -0 give 0), over i < len(y).
func ReLUMaskGradAdd(dx, dy, y []float32) {
	n := len(y)
	dx, dy = dx[:n], dy[:n]
	i := 0
	switch bnISA {
	case bnAVX512:
		if n > 0 {
			reluMaskAdd512(n, &dx[0], &dy[0], &y[0])
		}
		return
	case bnAVX2:
		if i = n &^ 7; i > 0 {
			reluMaskAdd256(i, &dx[0], &dy[0], &y[0])
		}
	}
	reluMaskAddGo(dx[i:], dy[i:], y[i:])
}

func reluMaskAddGo(dx, dy, y []float32) {
	dx, dy = dx[:len(y)], dy[:len(y)]
	for i, v := range y {
		dx[i] += MaskPos(dy[i], v)
	}
}

// ReLUScalar is max(v, 0) through the sign bit (negative values and -0 become +0):
// the branch-free scalar form the vector kernels match bit for bit, for callers'
// own loops and tails.
func ReLUScalar(v float32) float32 {
	b := math.Float32bits(v)
	if int32(b) < 0 {
		b = 0
	}
	return math.Float32frombits(b)
}

// MaskPos returns d where y > 0 and 0 elsewhere: the scalar ReLU gradient mask.
func MaskPos(d, y float32) float32 {
	b := math.Float32bits(d)
	if !(y > 0) {
		b = 0
	}
	return math.Float32frombits(b)
}

// posMask returns d where y's int32 bit pattern is positive or -0, 0 elsewhere.
func posMask(d, y float32) float32 {
	yb := int32(math.Float32bits(y))
	return math.Float32frombits(math.Float32bits(d) & uint32((-yb)>>31))
}
