package cpu

import (
	"github.com/siam-ssl/siam/backend"
	"github.com/siam-ssl/siam/parallel"
)

// ConvPolicy holds every choice between convolution lowerings and kernels that the
// CPU backend makes, in one place: the defaults are what measured fastest on the
// ResNet shapes of tensor/conv_bench_test.go on AVX-512 and AVX2 machines, and an
// Options key forces each one (for tests and benchmarks) instead of a package
// variable.
type ConvPolicy struct {
	// TargetCols is the column count (G*P) a lowered GEMM aims for: below it,
	// images are grouped side by side ("conv.target_cols", default 256).
	TargetCols int
	// Implicit packs the GEMM's B panels straight from a zero-bordered image
	// instead of materialising the column matrix, forward and weight gradient
	// ("conv.implicit", default true).
	Implicit bool
	// Shift selects the shifted-view lowering of stride-1 convolutions when
	// Implicit is off: 0 never, 1 where it pays, 2 always ("conv.shift", default 1).
	Shift int
	// WideFwd computes forward output rows rounded up to a multiple of 4 wide
	// ("conv.wide", default true).
	WideFwd bool
	// PhaseBwd computes the input gradient of stride-2 convolutions as four
	// phase-split GEMMs instead of column matrix and col2im ("conv.phase_bwd",
	// default true).
	PhaseBwd bool
}

// defaultPolicy is the measured default.
var defaultPolicy = ConvPolicy{TargetCols: 256, Implicit: true, Shift: 1, WideFwd: true, PhaseBwd: true}

// lowering returns the lowering of p under the backend's policy.
func (b *Backend) lowering(p backend.ConvParams) lowering {
	return lowering{n: p.N, cin: p.C, hin: p.H, win: p.W, r: p.R, s: p.S, stride: p.Stride,
		padH: p.PadH, padW: p.PadW, ho: p.OutH, wo: p.OutW, pol: &b.conv}
}

// ConvForward writes (accumulate: adds) y = conv(x, w) and its epilogue.
func (b *Backend) ConvForward(p backend.ConvParams, x, w backend.Buffer, ep backend.ConvEpilogue, y backend.Buffer, accumulate bool) {
	if y.Len() == 0 {
		return
	}
	l := b.lowering(p)
	var e *convEpilogue
	if ep.Shift.Len() > 0 || ep.Residual.Len() > 0 || ep.ReLU {
		e = &convEpilogue{shift: host(ep.Shift), res: host(ep.Residual), relu: ep.ReLU}
	}
	l.forward(host(x), host(w), p.K, host(y), accumulate, e)
}

// ConvBackwardData writes (accumulate: adds) the input gradient dx. A stride-1
// convolution's is a stride-1 convolution of dy with the flipped,
// channel-transposed kernel (padding R-1-pad) through the same lowered GEMM; a
// stride-2 one's runs as four phase-split GEMMs (PhaseBwd), any other as the
// column matrix followed by col2im.
func (b *Backend) ConvBackwardData(p backend.ConvParams, dy, w, dx backend.Buffer, accumulate bool) {
	if dx.Len() == 0 {
		return
	}
	l := b.lowering(p)
	gx, dyh, wd := host(dx), host(dy), host(w)
	k, rs := p.K, p.R*p.S
	if l.stride == 1 && l.padH <= l.r-1 && l.padW <= l.s-1 {
		wt := poolGet(bufFlip, len(wd))
		defer poolPut(bufFlip, wt)
		c := l.cin
		for ki := 0; ki < k; ki++ {
			for ci := 0; ci < c; ci++ {
				src := wd[(ki*c+ci)*rs : (ki*c+ci+1)*rs]
				dst := wt[(ci*k+ki)*rs : (ci*k+ki+1)*rs]
				for i, v := range src {
					dst[rs-1-i] = v
				}
			}
		}
		t := lowering{n: l.n, cin: k, hin: l.ho, win: l.wo, r: l.r, s: l.s, stride: 1,
			padH: l.r - 1 - l.padH, padW: l.s - 1 - l.padW, ho: l.hin, wo: l.win, pol: l.pol}
		t.forward(dyh, wt, c, gx, accumulate, nil)
		return
	}
	if l.stride == 2 && l.r*l.s > 1 && l.pol.PhaseBwd {
		l.backwardDataPhased(dyh, wd, k, gx, !accumulate)
		return
	}
	l.backwardData(dyh, wd, k, gx, !accumulate)
}

// ConvBackwardFilter adds the weight gradient into dw and, when db is not empty,
// the bias gradient into db.
func (b *Backend) ConvBackwardFilter(p backend.ConvParams, x, dy, dw, db backend.Buffer) {
	l := b.lowering(p)
	gb := host(db)
	if len(gb) == 0 {
		gb = nil
	}
	if dw.Len() > 0 {
		l.backwardWeights(host(x), host(dy), p.K, host(dw), gb)
		return
	}
	if gb != nil {
		convBiasGrad(host(dy), l.n, p.K, l.pix(), gb)
	}
}

// convBiasGrad adds to gb [k] the sum of dy [n,k,p] over images and pixels.
func convBiasGrad(dy []float32, n, k, p int, gb []float32) {
	parallel.ForGrain(k, 8, func(lo, hi int) {
		for ki := lo; ki < hi; ki++ {
			var s float64
			for i := 0; i < n; i++ {
				var r float32
				for _, v := range dy[(i*k+ki)*p : (i*k+ki+1)*p] {
					r += v
				}
				s += float64(r)
			}
			gb[ki] += float32(s)
		}
	})
}

// PoolMisses returns how many convolution work-buffer requests have allocated so
// far (for the steady-state allocation tests).
func PoolMisses() int64 { return convPoolMisses.Load() }

// WithPolicy returns a CPU backend with the given convolution choices (the
// Options of New, as a struct, for tests and benchmarks that sweep them).
func WithPolicy(p ConvPolicy) *Backend {
	if p.TargetCols < 1 {
		p.TargetCols = defaultPolicy.TargetCols
	}
	return &Backend{conv: p}
}

// DefaultPolicy returns the measured default convolution choices.
func DefaultPolicy() ConvPolicy { return defaultPolicy }
