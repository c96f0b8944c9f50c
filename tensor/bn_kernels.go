package tensor

import "math"

// reluScalar returns max(v, 0) through the sign bit (negative values and -0
// become +0), the scalar twin of the backend's ReLU.
func reluScalar(v float32) float32 {
	b := math.Float32bits(v)
	if int32(b) < 0 {
		b = 0
	}
	return math.Float32frombits(b)
}

// maskPos returns d where y > 0 and 0 elsewhere: the scalar ReLU gradient mask.
func maskPos(d, y float32) float32 {
	b := math.Float32bits(d)
	if !(y > 0) {
		b = 0
	}
	return math.Float32frombits(b)
}

// Inner loops of the batch-norm family (BatchNorm, BatchNormReLU, AddReLU, ReLU).
// The hot passes (statistics, normalise, the backward reduction and apply, the
// residual add+ReLU and the ReLU masks) are the vector primitives of package
// kernels (kernels/bn.go: AVX-512 / AVX2 assembly with bit-identical pure-Go
// fallbacks). What is left here are the scalar helpers of the [N,C] layout and the
// running-statistics backward passes (inference-mode gradients only). ReLU
// selects and gradient masks go through integer bit patterns so the compiler
// emits CMOV rather than a branch that mispredicts on random signs. Kernels that
// write a gradient come in two forms chosen by acc: overwrite (the buffer was
// fresh from the arena, see gradOut) or accumulate (+=).

// bnBwdScaleReLU writes (acc: adds) dx = k*dy where x*sc+sh > 0, 0 elsewhere: the
// BatchNormReLU backward with running statistics. The product is rounded before
// the add, as in kernels.ScaleShiftReLU, so the mask matches the forward output.
func bnBwdScaleReLU(dx, dy, x []float32, sc, sh, k float32, acc bool) {
	n := len(x)
	dy, dx = dy[:n], dx[:n]
	i := 0
	if acc {
		for ; i+4 <= n; i += 4 {
			v := x[i : i+4 : i+4]
			d := dy[i : i+4 : i+4]
			o := dx[i : i+4 : i+4]
			o[0] += k * maskPos(d[0], float32(v[0]*sc)+sh)
			o[1] += k * maskPos(d[1], float32(v[1]*sc)+sh)
			o[2] += k * maskPos(d[2], float32(v[2]*sc)+sh)
			o[3] += k * maskPos(d[3], float32(v[3]*sc)+sh)
		}
		for ; i < n; i++ {
			dx[i] += k * maskPos(dy[i], float32(x[i]*sc)+sh)
		}
		return
	}
	for ; i+4 <= n; i += 4 {
		v := x[i : i+4 : i+4]
		d := dy[i : i+4 : i+4]
		o := dx[i : i+4 : i+4]
		o[0] = k * maskPos(d[0], float32(v[0]*sc)+sh)
		o[1] = k * maskPos(d[1], float32(v[1]*sc)+sh)
		o[2] = k * maskPos(d[2], float32(v[2]*sc)+sh)
		o[3] = k * maskPos(d[3], float32(v[3]*sc)+sh)
	}
	for ; i < n; i++ {
		dx[i] = k * maskPos(dy[i], float32(x[i]*sc)+sh)
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
