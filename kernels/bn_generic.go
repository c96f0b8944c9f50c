//go:build !amd64 || purego

package kernels

// bnISA is always the pure-Go path without the amd64 assembly.
const bnISA = bnGo

func bnDetect() int { return bnGo }

func bnSumsP512(n4 int, p0, p1, p2, p3 *float32, shift float32, out *float32) {
	panic("unreachable")
}
func bnSumsP256(n4 int, p0, p1 *float32, shift float32, out *float32) { panic("unreachable") }
func bnBwdSums512(n int, dy, x *float32, mean float32) (s, q float64) {
	panic("unreachable")
}
func bnBwdSums256(n int, dy, x *float32, mean float32) (s, q float64) {
	panic("unreachable")
}
func bnBwdSumsReLU512(n int, dy, x *float32, mean, sc, sh float32) (s, q float64) {
	panic("unreachable")
}
func bnBwdSumsReLU256(n int, dy, x *float32, mean, sc, sh float32) (s, q float64) {
	panic("unreachable")
}
func bnNorm512(n int, dst, src *float32, sc, sh float32)       { panic("unreachable") }
func bnNorm256(n int, dst, src *float32, sc, sh float32)       { panic("unreachable") }
func bnNormReLU512(n int, dst, src *float32, sc, sh float32)   { panic("unreachable") }
func bnNormReLU256(n int, dst, src *float32, sc, sh float32)   { panic("unreachable") }
func bnApply512(n int, dx, dy, x *float32, k, p, q float32)    { panic("unreachable") }
func bnApply256(n int, dx, dy, x *float32, k, p, q float32)    { panic("unreachable") }
func bnApplyAdd512(n int, dx, dy, x *float32, k, p, q float32) { panic("unreachable") }
func bnApplyAdd256(n int, dx, dy, x *float32, k, p, q float32) { panic("unreachable") }
func addReLU512(n int, dst, a, b *float32)                     { panic("unreachable") }
func addReLU256(n int, dst, a, b *float32)                     { panic("unreachable") }
func reluBits512(n int, dst, src *float32)                     { panic("unreachable") }
func reluBits256(n int, dst, src *float32)                     { panic("unreachable") }
func reluMask512(n int, dx, dy, y *float32)                    { panic("unreachable") }
func reluMask256(n int, dx, dy, y *float32)                    { panic("unreachable") }
func reluMask2512(n int, dx, dx2, dy, y *float32)              { panic("unreachable") }
func reluMask2256(n int, dx, dx2, dy, y *float32)              { panic("unreachable") }
func reluMaskAdd512(n int, dx, dy, y *float32)                 { panic("unreachable") }
func reluMaskAdd256(n int, dx, dy, y *float32)                 { panic("unreachable") }
