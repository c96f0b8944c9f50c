//go:build !amd64 || purego

package kernels

func deinterleave512(n int, src, even, odd *float32) {
	panic("unreachable")
}

func interleaveAdd512(n int, dst, even, odd *float32) {
	panic("unreachable")
}
