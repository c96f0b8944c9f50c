package tensor

import (
	"math"

	"github.com/siam-ssl/siam/parallel"
)

// poolCheck validates a k x k pooling of x [N,C,H,W] and returns the output size.
func (g *Graph) poolCheck(op string, x *Tensor, k, stride, pad int) (ho, wo int, ok bool) {
	switch {
	case x.Rank() != 4:
		g.Failf(op, []*Tensor{x}, "input must be [N,C,H,W], got rank %d", x.Rank())
	case k < 1 || stride < 1 || pad < 0:
		g.Failf(op, []*Tensor{x}, "bad window: kernel %d, stride %d, padding %d", k, stride, pad)
	case 2*pad > k:
		g.Failf(op, []*Tensor{x}, "padding %d exceeds half the kernel %d", pad, k)
	}
	if g.err != nil {
		return 0, 0, false
	}
	h, w := x.shape[2], x.shape[3]
	if h+2*pad < k || w+2*pad < k {
		g.Failf(op, []*Tensor{x}, "kernel %dx%d larger than padded input %dx%d (pad %d)", k, k, h+2*pad, w+2*pad, pad)
		return 0, 0, false
	}
	return (h+2*pad-k)/stride + 1, (w+2*pad-k)/stride + 1, true
}

// poolGrain is the number of planes a worker takes at least in the pooling loops.
func poolGrain(planeSize int) int { return max(1, (1<<14)/max(planeSize, 1)) }

// MaxPool2d takes the maximum over k x k windows of x [N,C,H,W] with the given stride
// and padding (padding never wins the maximum). When a gradient will be needed the
// position of each maximum is kept, so the backward pass routes the gradient
// straight to it.
func (g *Graph) MaxPool2d(x *Tensor, k, stride, pad int) *Tensor {
	const op = "maxpool2d"
	if !g.OK(op, x) {
		return g.dead
	}
	ho, wo, ok := g.poolCheck(op, x, k, stride, pad)
	if !ok {
		return g.dead
	}
	n, c, h, w := x.shape[0], x.shape[1], x.shape[2], x.shape[3]
	out := g.Alloc(n, c, ho, wo)
	var arg []float32 // int32 plane offsets of the maxima, stored as float32 bits
	if !g.noGrad && x.requiresGrad {
		arg = g.Scratch(len(out.Data))
	}
	xd, od := x.Data, out.Data
	parallel.ForGrain(n*c, poolGrain(h*w), func(lo, hi int) {
		for pl := lo; pl < hi; pl++ {
			in := xd[pl*h*w : (pl+1)*h*w]
			o := od[pl*ho*wo : (pl+1)*ho*wo]
			for oy := range ho {
				y0, y1 := max(oy*stride-pad, 0), min(oy*stride-pad+k, h)
				for ox := range wo {
					x0, x1 := max(ox*stride-pad, 0), min(ox*stride-pad+k, w)
					best, bi := float32(math.Inf(-1)), y0*w+x0
					for y := y0; y < y1; y++ {
						for xx := x0; xx < x1; xx++ {
							// v > best or NaN propagates, as PyTorch.
							if v := in[y*w+xx]; v > best || v != v {
								best, bi = v, y*w+xx
							}
						}
					}
					o[oy*wo+ox] = best
					if arg != nil {
						arg[pl*ho*wo+oy*wo+ox] = math.Float32frombits(uint32(bi))
					}
				}
			}
		}
	})
	g.Record(out, func() {
		if !x.requiresGrad || arg == nil {
			return
		}
		gx, gy := g.GradOf(x), out.Grad
		parallel.ForGrain(n*c, poolGrain(h*w), func(lo, hi int) {
			for pl := lo; pl < hi; pl++ {
				gxp := gx[pl*h*w : (pl+1)*h*w]
				for i := pl * ho * wo; i < (pl+1)*ho*wo; i++ {
					gxp[math.Float32bits(arg[i])] += gy[i]
				}
			}
		})
	}, x)
	return out
}

// AvgPool2d averages k x k windows of x [N,C,H,W] (padding counted as zeros, as
// PyTorch's count_include_pad=True, so every window divides by k*k).
func (g *Graph) AvgPool2d(x *Tensor, k, stride, pad int) *Tensor {
	const op = "avgpool2d"
	if !g.OK(op, x) {
		return g.dead
	}
	ho, wo, ok := g.poolCheck(op, x, k, stride, pad)
	if !ok {
		return g.dead
	}
	n, c, h, w := x.shape[0], x.shape[1], x.shape[2], x.shape[3]
	out := g.Alloc(n, c, ho, wo)
	inv := 1 / float32(k*k)
	xd, od := x.Data, out.Data
	parallel.ForGrain(n*c, poolGrain(h*w), func(lo, hi int) {
		for pl := lo; pl < hi; pl++ {
			in := xd[pl*h*w : (pl+1)*h*w]
			o := od[pl*ho*wo : (pl+1)*ho*wo]
			for oy := range ho {
				y0, y1 := max(oy*stride-pad, 0), min(oy*stride-pad+k, h)
				for ox := range wo {
					x0, x1 := max(ox*stride-pad, 0), min(ox*stride-pad+k, w)
					var s float32
					for y := y0; y < y1; y++ {
						for _, v := range in[y*w+x0 : y*w+x1] {
							s += v
						}
					}
					o[oy*wo+ox] = s * inv
				}
			}
		}
	})
	g.Record(out, func() {
		if !x.requiresGrad {
			return
		}
		gx, gy := g.GradOf(x), out.Grad
		parallel.ForGrain(n*c, poolGrain(h*w), func(lo, hi int) {
			for pl := lo; pl < hi; pl++ {
				gxp := gx[pl*h*w : (pl+1)*h*w]
				gyp := gy[pl*ho*wo : (pl+1)*ho*wo]
				for oy := range ho {
					y0, y1 := max(oy*stride-pad, 0), min(oy*stride-pad+k, h)
					for ox := range wo {
						x0, x1 := max(ox*stride-pad, 0), min(ox*stride-pad+k, w)
						d := gyp[oy*wo+ox] * inv
						for y := y0; y < y1; y++ {
							row := gxp[y*w+x0 : y*w+x1]
							for i := range row {
								row[i] += d
							}
						}
					}
				}
			}
		})
	}, x)
	return out
}

// GlobalAvgPool averages each channel of x [N,C,H,W] over space, giving [N,C]: the
// ResNet representation.
func (g *Graph) GlobalAvgPool(x *Tensor) *Tensor {
	const op = "globalavgpool"
	if !g.OK(op, x) {
		return g.dead
	}
	if x.Rank() != 4 || x.shape[2]*x.shape[3] == 0 {
		return g.Failf(op, []*Tensor{x}, "input must be [N,C,H,W] with H,W >= 1")
	}
	n, c, hw := x.shape[0], x.shape[1], x.shape[2]*x.shape[3]
	out := g.Alloc(n, c)
	inv := 1 / float32(hw)
	xd, od := x.Data, out.Data
	parallel.ForGrain(n*c, poolGrain(hw), func(lo, hi int) {
		for pl := lo; pl < hi; pl++ {
			od[pl] = g.be.Sum(hb(xd[pl*hw:(pl+1)*hw])) * inv
		}
	})
	g.Record(out, func() {
		if !x.requiresGrad {
			return
		}
		gx, gy := g.GradOf(x), out.Grad
		parallel.ForGrain(n*c, poolGrain(hw), func(lo, hi int) {
			for pl := lo; pl < hi; pl++ {
				g.addConst(gx[pl*hw:(pl+1)*hw], gy[pl]*inv)
			}
		})
	}, x)
	return out
}

// onesBlock is a block of ones for addConst.
var onesBlock = func() []float32 {
	o := make([]float32, 256)
	for i := range o {
		o[i] = 1
	}
	return o
}()

// addConst adds c to every element of x (as axpy with a vector of ones, so it runs
// on the backend's vector kernel; x + c*1 is exactly x + c).
func (g *Graph) addConst(x []float32, c float32) {
	if c == 0 {
		return
	}
	for len(x) > 0 {
		n := min(len(x), len(onesBlock))
		g.be.Axpy(c, hb(onesBlock[:n]), hb(x[:n]))
		x = x[n:]
	}
}
