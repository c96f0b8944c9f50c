package data

import (
	"math"
	"math/rand/v2"
)

// Luma weights of torchvision's rgb_to_grayscale (ITU-R 601-2).
const (
	lumaR = 0.299
	lumaG = 0.587
	lumaB = 0.114
)

// clamp01 limits v to [0,1] (comparisons rather than min/max, whose NaN
// and signed-zero rules cost extra instructions in the pixel loops).
func clamp01(v float32) float32 {
	if v < 0 {
		return 0
	}
	if v > 1 {
		return 1
	}
	return v
}

// factor draws a jitter factor uniformly in [max(0, 1-s), 1+s].
func factor(rng *rand.Rand, s float64) float32 {
	lo := max(0, 1-s)
	return float32(lo + rng.Float64()*(1+s-lo))
}

// jitter applies torchvision's ColorJitter to a [0,1] CHW view in place:
// brightness, contrast, saturation and hue in the plan's random order, each
// with the plan's random factor, clamping to [0,1] after every op. Saturation
// and hue need colour and are skipped for one channel.
func (a *Augmenter) jitter(x []float32, p *viewPlan) {
	r := &a.r
	for _, op := range p.order {
		switch op {
		case 0:
			if r.Brightness > 0 {
				f := p.factor[0]
				for i, v := range x {
					x[i] = clamp01(v * f)
				}
			}
		case 1:
			if r.Contrast > 0 {
				a.contrast(x, p.factor[1])
			}
		case 2:
			if r.Saturation > 0 && a.c == 3 {
				a.saturation(x, p.factor[2])
			}
		case 3:
			if r.Hue > 0 && a.c == 3 {
				a.hue(x, p.factor[3])
			}
		}
	}
}

// contrast blends each pixel with the mean gray level of the view.
func (a *Augmenter) contrast(x []float32, f float32) {
	n := a.oh * a.ow
	var sum float32
	if a.c == 3 {
		for i := 0; i < n; i++ {
			sum += lumaR*x[i] + lumaG*x[n+i] + lumaB*x[2*n+i]
		}
	} else {
		for _, v := range x[:n] {
			sum += v
		}
	}
	m := (1 - f) * sum / float32(n)
	for i, v := range x {
		x[i] = clamp01(f*v + m)
	}
}

// saturation blends each RGB pixel with its own gray level.
func (a *Augmenter) saturation(x []float32, f float32) {
	n := a.oh * a.ow
	r, g, b := x[:n], x[n:2*n], x[2*n:3*n]
	for i := range r {
		l := (1 - f) * (lumaR*r[i] + lumaG*g[i] + lumaB*b[i])
		r[i] = clamp01(f*r[i] + l)
		g[i] = clamp01(f*g[i] + l)
		b[i] = clamp01(f*b[i] + l)
	}
}

// hue rotates the hue of each RGB pixel by h turns, as torchvision's
// adjust_hue (RGB -> HSV, shift, back). A hue shift keeps each pixel's max and
// min, so the way back uses the branch-free form c = max - (max-min)*
// clamp(min(k, 4-k), 0, 1) with k = (n + H) mod 6 and n = 5, 3, 1 for R, G, B.
func (a *Augmenter) hue(x []float32, h float32) {
	n := a.oh * a.ow
	r, g, b := x[:n], x[n:2*n], x[2*n:3*n]
	shift := 6 * h
	for i := range r {
		ri, gi, bi := r[i], g[i], b[i]
		maxc := max(ri, gi, bi)
		cr := maxc - min(ri, gi, bi)
		if cr == 0 {
			continue // gray pixel: hue has no effect
		}
		var hh float32 // hue in sixths of a turn, [-1, 5)
		switch maxc {
		case ri:
			hh = (gi - bi) / cr
		case gi:
			hh = 2 + (bi-ri)/cr
		default:
			hh = 4 + (ri-gi)/cr
		}
		hh += shift
		if hh < 0 {
			hh += 6
		} else if hh >= 6 {
			hh -= 6
		}
		r[i] = maxc - cr*hueRamp(5+hh)
		g[i] = maxc - cr*hueRamp(3+hh)
		b[i] = maxc - cr*hueRamp(1+hh)
	}
}

// hueRamp is clamp(min(k, 4-k), 0, 1) for k = k mod 6, with k in [0, 12).
func hueRamp(k float32) float32 {
	if k >= 6 {
		k -= 6
	}
	return min(max(min(k, 4-k), 0), 1)
}

// grayscale replaces the three channels by their luma.
func (a *Augmenter) grayscale(x []float32) {
	n := a.oh * a.ow
	r, g, b := x[:n], x[n:2*n], x[2*n:3*n]
	for i := range r {
		l := lumaR*r[i] + lumaG*g[i] + lumaB*b[i]
		r[i], g[i], b[i] = l, l, l
	}
}

// blurKernelSize is the odd kernel side for an image side: about 10% of it,
// at least 3 (23 for 224, as in the SimSiam reference).
func blurKernelSize(side int) int {
	return max(2*(side/20)+1, 3)
}

// blurNegligible is the normalised weight below which outer taps of the
// Gaussian kernel are dropped: together they move no value by more than
// 2.2e-5, far below one 8-bit level (3.9e-3), and a small sigma then costs
// a few taps instead of the whole 23-tap kernel of a 224-pixel view.
const blurNegligible = 1e-6

// blur convolves each channel with a separable Gaussian of the given sigma,
// reflecting at the borders (torchvision's gaussian_blur padding), over the
// kernel side of torchvision's recipe less the outer taps whose weight is
// below blurNegligible.
func (a *Augmenter) blur(x []float32, sigma float64) {
	k := blurKernelSize(min(a.oh, a.ow))
	rad := k / 2
	var wbuf [64]float32
	wts := wbuf[:0]
	if k > len(wbuf) {
		wts = make([]float32, 0, k)
	}
	var sum float32
	for i := -rad; i <= rad; i++ {
		v := float32(math.Exp(-float64(i*i) / (2 * sigma * sigma)))
		wts = append(wts, v)
		sum += v
	}
	for i := range wts {
		wts[i] /= sum
	}
	for rad > 0 && wts[0] < blurNegligible {
		wts = wts[1 : len(wts)-1]
		rad--
	}
	k = len(wts)
	oh, ow := a.oh, a.ow
	n := oh * ow
	// Horizontal pass through a reflect-padded copy of each row, vertical pass
	// accumulating whole rows: every output is still sum_j w[j]*x[reflect(i+j-rad)]
	// summed in j order, as the direct form computes it, without an index
	// function call per tap.
	pad := a.pad[:ow+2*rad]
	acc := a.acc[:ow]
	for c := 0; c < a.c; c++ {
		p := x[c*n : (c+1)*n]
		for y := 0; y < oh; y++ {
			row, out := p[y*ow:(y+1)*ow], a.tmp[y*ow:(y+1)*ow]
			for j := range pad {
				pad[j] = row[reflect(j-rad, ow)]
			}
			// Four outputs at a time: four independent sums, each still
			// accumulated in tap order.
			xx := 0
			for ; xx+4 <= ow; xx += 4 {
				win := pad[xx : xx+len(wts)+3]
				var s0, s1, s2, s3 float32
				for j, wt := range wts {
					w4 := win[j : j+4 : j+4]
					s0 += wt * w4[0]
					s1 += wt * w4[1]
					s2 += wt * w4[2]
					s3 += wt * w4[3]
				}
				out[xx], out[xx+1], out[xx+2], out[xx+3] = s0, s1, s2, s3
			}
			for ; xx < ow; xx++ {
				win := pad[xx : xx+len(wts)]
				var s float32
				for j, wt := range wts {
					s += wt * win[j]
				}
				out[xx] = s
			}
		}
		for y := 0; y < oh; y++ {
			clear(acc)
			// Two taps per pass over the row, added one after the other.
			j := 0
			for ; j+2 <= len(wts); j += 2 {
				w0, w1 := wts[j], wts[j+1]
				r0 := a.tmp[reflect(y+j-rad, oh)*ow:][:ow]
				r1 := a.tmp[reflect(y+j+1-rad, oh)*ow:][:ow]
				for xx := range acc {
					v := acc[xx]
					v += w0 * r0[xx]
					v += w1 * r1[xx]
					acc[xx] = v
				}
			}
			for ; j < len(wts); j++ {
				wt := wts[j]
				r := a.tmp[reflect(y+j-rad, oh)*ow:][:ow]
				for xx := range acc {
					acc[xx] += wt * r[xx]
				}
			}
			copy(p[y*ow:(y+1)*ow], acc)
		}
	}
}

// reflect maps an index outside [0,n) back inside by mirroring without
// repeating the edge (numpy/torch "reflect" mode).
func reflect(i, n int) int {
	if n == 1 {
		return 0
	}
	for i < 0 || i >= n {
		if i < 0 {
			i = -i
		}
		if i >= n {
			i = 2*(n-1) - i
		}
	}
	return i
}
