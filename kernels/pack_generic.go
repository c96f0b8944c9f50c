//go:build !amd64 || purego

package kernels

func packRows512(rows int, src *float32, offs *int, n int, dst *float32, ldd int) {
	panic("unreachable")
}

func packRowsT512(kb int, src *float32, rowOffs *int, pixOffs *int, dst *float32) {
	panic("unreachable")
}

func packRowsT512r8(kb int, src *float32, rowOffs *int, pixOffs *int, dst *float32) {
	panic("unreachable")
}

func packRowsT512r4(kb int, src *float32, rowOffs *int, pixOffs *int, dst *float32) {
	panic("unreachable")
}

func packRowsSeg512r16(rows int, src *float32, offs *int, segOffs *int, dst *float32) {
	panic("unreachable")
}

func packRowsSeg512r8(rows int, src *float32, offs *int, segOffs *int, dst *float32) {
	panic("unreachable")
}

func packRowsSeg512r4(rows int, src *float32, offs *int, segOffs *int, dst *float32) {
	panic("unreachable")
}
