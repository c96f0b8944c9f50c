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
