//go:build !amd64 || purego

package kernels

func dgramKern8x8(k int, a, b *float64, bs int, c *float64, ldc int)  { panic("unreachable") }
func dgramKern8x16(k int, a, b *float64, bs int, c *float64, ldc int) { panic("unreachable") }
func dgramKern8x24(k int, a, b *float64, bs int, c *float64, ldc int) { panic("unreachable") }
func dgramPack32(rows, d8 int, x *float32, ldx int, scale *float64, sstride int, shift *float64, dst *float64, ps int) {
	panic("unreachable")
}
func dgramPack64(rows, d8 int, x *float64, ldx int, scale *float64, sstride int, shift *float64, dst *float64, ps int) {
	panic("unreachable")
}
func filterGT512(n int, x *float32, thr float32, base int32, idx *int32) int { panic("unreachable") }
func drank2dot512(n int, r, v, w *float64, a, b float64, u *float64) float64 { panic("unreachable") }
func drank2symv512(n, head int, r, vp, wp *float64, a, b float64, v *float64, vi float64, p *float64) float64 {
	panic("unreachable")
}
func dgramPackStats32(rows, d8 int, x *float32, ldx int, normalize int, shift *float64, dst *float64, ps int, sums *float64, rs *float64) {
	panic("unreachable")
}
func dprefetch(p *byte, n int)  {}
func dprefetch0(p *byte, n int) {}
