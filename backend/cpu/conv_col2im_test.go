package cpu

import "testing"

// TestCol2imStride2Exact checks col2im against the scatter loop it implements,
// bit for bit, at stride 2 (where kernel columns are paired through
// kernels.Interleave2Add), over kernel sizes, paddings and odd and even widths.
func TestCol2imStride2Exact(t *testing.T) {
	for _, r := range []int{1, 2, 3, 4, 5} {
		for pad := 0; pad < r; pad++ {
			for _, w := range []int{5, 8, 9, 16, 17, 32, 33, 70} {
				h := 6
				ho, wo := (h+2*pad-r)/2+1, (w+2*pad-r)/2+1
				if ho <= 0 || wo <= 0 {
					continue
				}
				l := lowering{n: 1, cin: 2, hin: h, win: w, r: r, s: r, stride: 2, padH: pad, padW: pad, ho: ho, wo: wo, pol: &defaultPolicy}
				p := ho * wo
				ld := p + 3
				col := make([]float32, l.kdim()*ld)
				for i := range col {
					col[i] = float32(i%13)*0.37 - 2.1 + float32(i%5)*1e-3
				}
				got := make([]float32, 2*h*w)
				for i := range got {
					got[i] = float32(i%7) * 0.11
				}
				want := append([]float32(nil), got...)
				l.col2im(col, ld, got)
				for c := 0; c < 2; c++ {
					for ky := 0; ky < r; ky++ {
						for kx := 0; kx < r; kx++ {
							for oy := 0; oy < ho; oy++ {
								for ox := 0; ox < wo; ox++ {
									iy, ix := oy*2+ky-pad, ox*2+kx-pad
									if iy >= 0 && iy < h && ix >= 0 && ix < w {
										want[(c*h+iy)*w+ix] += col[((c*r+ky)*r+kx)*ld+oy*wo+ox]
									}
								}
							}
						}
					}
				}
				for i := range want {
					if got[i] != want[i] {
						t.Fatalf("r=%d pad=%d w=%d: img[%d] = %v, want %v", r, pad, w, i, got[i], want[i])
					}
				}
			}
		}
	}
}
