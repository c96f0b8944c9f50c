package kernels

// Deinterleave2 splits src into its even and odd elements: even[i] = src[2i],
// odd[i] = src[2i+1]. It requires len(even) == (len(src)+1)/2 and
// len(odd) == len(src)/2. It splits a row of a stride-2 convolution's input into
// its two column phases; the AVX-512 path permutes 32 floats at a time with two
// VPERMT2PS and handles the tail with masked moves.
func Deinterleave2(even, odd, src []float32) {
	n := len(src)
	if len(even) != (n+1)/2 || len(odd) != n/2 {
		panic("kernels: Deinterleave2 length mismatch")
	}
	if n == 0 {
		return
	}
	if hasVec512 {
		var op *float32
		if len(odd) > 0 {
			op = &odd[0]
		} else {
			op = &even[0] // n == 1: the odd mask is empty, nothing is stored
		}
		deinterleave512(n, &src[0], &even[0], op)
		return
	}
	deinterleave2Go(even, odd, src)
}

func deinterleave2Go(even, odd, src []float32) {
	odd = odd[:len(src)/2]
	even = even[:len(odd)+len(src)&1]
	for i := range odd {
		s := src[2*i : 2*i+2 : 2*i+2]
		even[i], odd[i] = s[0], s[1]
	}
	if len(src)&1 != 0 {
		even[len(odd)] = src[len(src)-1]
	}
}

// Interleave2Add adds even and odd into alternate elements of dst: dst[2i] +=
// even[i], dst[2i+1] += odd[i], the adjoint of Deinterleave2, with the same length
// requirements (len(even) == (len(dst)+1)/2, len(odd) == len(dst)/2). Each element
// of dst receives exactly one addition, so the result does not depend on the path.
func Interleave2Add(dst, even, odd []float32) {
	n := len(dst)
	if len(even) != (n+1)/2 || len(odd) != n/2 {
		panic("kernels: Interleave2Add length mismatch")
	}
	if n == 0 {
		return
	}
	if hasVec512 {
		op := &even[0] // n == 1: the odd mask is empty, nothing is loaded
		if len(odd) > 0 {
			op = &odd[0]
		}
		interleaveAdd512(n, &dst[0], &even[0], op)
		return
	}
	interleave2AddGo(dst, even, odd)
}

func interleave2AddGo(dst, even, odd []float32) {
	odd = odd[:len(dst)/2]
	even = even[:len(odd)+len(dst)&1]
	for i, v := range odd {
		d := dst[2*i : 2*i+2 : 2*i+2]
		d[0] += even[i]
		d[1] += v
	}
	if len(dst)&1 != 0 {
		dst[len(dst)-1] += even[len(odd)]
	}
}
