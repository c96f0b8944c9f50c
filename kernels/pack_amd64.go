//go:build amd64 && !purego

package kernels

import "unsafe"

// The non-transposed A panel packing of the AVX-512 GEMM: 16x16 in-register
// transposes of whole 16-deep blocks (packAN512x<mr>), the depth tail in Go. It
// replaces the Go loop, which was the weight-gradient GEMM's largest packing cost
// (A = dY there, packed afresh for every image).
func init() { avx512Impl.packAN = packAN512 }

var packAN512Fns = [...]func(kc int, a *float32, lda int, dst *float32){nil,
	packAN512x1, packAN512x2, packAN512x3, packAN512x4, packAN512x5, packAN512x6, packAN512x7, packAN512x8,
	packAN512x9, packAN512x10, packAN512x11, packAN512x12, packAN512x13, packAN512x14, packAN512x15, packAN512x16}

// packAN512 packs dst[p*mr+i] = a[i*lda+p] for i < mr <= 16, p < kc.
func packAN512(kc int, a *float32, lda int, mr int, dst *float32) {
	k16 := kc &^ 15
	if k16 > 0 {
		packAN512Fns[mr](k16, a, lda, dst)
	}
	if k16 == kc {
		return
	}
	as := unsafe.Slice(a, (mr-1)*lda+kc)
	ds := unsafe.Slice(dst, kc*mr)
	for i := 0; i < mr; i++ {
		for p := k16; p < kc; p++ {
			ds[p*mr+i] = as[i*lda+p]
		}
	}
}
