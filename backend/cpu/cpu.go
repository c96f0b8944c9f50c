// Package cpu is siam's host backend: the kernels of package kernels (AVX-512 and
// AVX2 Go assembly chosen at run time, the pure-Go fallback under -tags purego or
// on other architectures) and parallel's one thread pool behind backend.Backend.
// Its buffers are host slices, so tensor reads them without a copy. It registers
// itself as "cpu"; Options keys force the convolution lowerings (see ConvPolicy).
package cpu

import (
	"fmt"
	"math"
	"runtime"
	"strconv"

	"github.com/siam-ssl/siam/backend"
	"github.com/siam-ssl/siam/kernels"
	"github.com/siam-ssl/siam/parallel"
)

// Name is the name the backend registers under.
const Name = "cpu"

func init() {
	backend.Register(Name, func(opts backend.Options) (backend.Backend, error) { return New(opts) })
}

// Backend is the CPU backend. Its zero value is not usable: call New.
type Backend struct {
	conv ConvPolicy
}

var _ backend.Backend = (*Backend)(nil)

// New returns a CPU backend. opts may force the convolution lowerings:
//
//	conv.target_cols  columns a lowered GEMM aims for (int > 0, default 256)
//	conv.implicit     implicit-im2col forward and weight gradient (true/false)
//	conv.shift        shifted-view forward of stride-1 convolutions when not
//	                  implicit (never/auto/always, or 0/1/2)
//	conv.wide         widened output rows (true/false)
//	conv.phase_bwd    phase-split stride-2 input gradient (true/false)
//
// Any other key is an error.
func New(opts backend.Options) (*Backend, error) {
	b := &Backend{conv: defaultPolicy}
	for k, v := range opts {
		var err error
		switch k {
		case "conv.target_cols":
			b.conv.TargetCols, err = strconv.Atoi(v)
			if err == nil && b.conv.TargetCols < 1 {
				err = fmt.Errorf("must be >= 1")
			}
		case "conv.implicit":
			b.conv.Implicit, err = strconv.ParseBool(v)
		case "conv.wide":
			b.conv.WideFwd, err = strconv.ParseBool(v)
		case "conv.phase_bwd":
			b.conv.PhaseBwd, err = strconv.ParseBool(v)
		case "conv.shift":
			switch v {
			case "never", "0":
				b.conv.Shift = 0
			case "auto", "1":
				b.conv.Shift = 1
			case "always", "2":
				b.conv.Shift = 2
			default:
				err = fmt.Errorf("want never, auto or always")
			}
		default:
			return nil, fmt.Errorf("backend cpu: unknown option %q", k)
		}
		if err != nil {
			return nil, fmt.Errorf("backend cpu: option %s=%q: %v", k, v, err)
		}
	}
	return b, nil
}

// Policy returns the backend's convolution choices.
func (b *Backend) Policy() ConvPolicy { return b.conv }

// Name returns "cpu".
func (b *Backend) Name() string { return Name }

// Describe names the kernels in use and the thread count.
func (b *Backend) Describe() string {
	return fmt.Sprintf("host CPU (%s/%s): GEMM %s, batch norm %s, %d threads", runtime.GOOS, runtime.GOARCH,
		kernels.GEMMImpl(), kernels.BNImpl(), parallel.Workers())
}

// host returns the host slice of a buffer; a CPU backend never sees device memory.
func host(b backend.Buffer) []float32 {
	s, ok := b.HostView()
	if !ok {
		panic("backend cpu: device buffer passed to the CPU backend")
	}
	return s
}

// IsHost reports true: buffers are host slices.
func (b *Backend) IsHost() bool { return true }

// Alloc returns a zeroed host buffer.
func (b *Backend) Alloc(n int) backend.Buffer { return backend.HostBuffer(make([]float32, n)) }

// Free leaves the memory to the garbage collector.
func (b *Backend) Free(backend.Buffer) {}

// Upload copies src into dst.
func (b *Backend) Upload(dst backend.Buffer, src []float32) { copy(host(dst), src) }

// Download copies src into dst.
func (b *Backend) Download(dst []float32, src backend.Buffer) { copy(dst, host(src)) }

// Copy copies src into dst.
func (b *Backend) Copy(dst, src backend.Buffer) { copy(host(dst), host(src)) }

// Zero clears b.
func (b *Backend) Zero(buf backend.Buffer) { clear(host(buf)) }

// Gemm runs one product on kernels.Sgemm, or kernels.SgemmPar when p.Parallel and
// the product is large enough to split. An empty product only applies beta.
func (b *Backend) Gemm(p backend.GemmParams, a, bm, c backend.Buffer) {
	gemm(p, host(a), host(bm), host(c))
}

// parFlops is the m*n*k size from which one product is split across the cores.
const parFlops = 1 << 16

func gemm(p backend.GemmParams, a, b, c []float32) {
	m, n, k := p.M, p.N, p.K
	if m == 0 || n == 0 {
		return
	}
	if k == 0 {
		if p.Beta != 1 {
			for i := range m {
				row := c[i*p.LDC : i*p.LDC+n]
				for j := range row {
					row[j] *= p.Beta
				}
			}
		}
		return
	}
	if p.Parallel && m*n*k >= parFlops {
		kernels.SgemmPar(p.TransA, p.TransB, m, n, k, p.Alpha, a, p.LDA, b, p.LDB, p.Beta, c, p.LDC)
	} else {
		kernels.Sgemm(p.TransA, p.TransB, m, n, k, p.Alpha, a, p.LDA, b, p.LDB, p.Beta, c, p.LDC)
	}
}

// GemmBatched runs the products in parallel, one single-core GEMM each, or one
// multi-core GEMM when there is a single product.
func (b *Backend) GemmBatched(p backend.GemmParams, batch, sa, sb, sc int, a, bm, c backend.Buffer) {
	ad, bd, cd := host(a), host(bm), host(c)
	if batch == 1 {
		gemm(p, ad, bd, cd)
		return
	}
	p.Parallel = false
	parallel.For(batch, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			gemm(p, ad[i*sa:], bd[i*sb:], cd[i*sc:])
		}
	})
}

// ChannelSums runs kernels.ChannelSumsPlanes.
func (b *Backend) ChannelSums(x backend.Buffer, planes, size, stride int, shift float32) (float64, float64) {
	return kernels.ChannelSumsPlanes(host(x), planes, size, stride, shift)
}

// ScaleShift runs kernels.ScaleShift or kernels.ScaleShiftReLU.
func (b *Backend) ScaleShift(dst, src backend.Buffer, scale, shift float32, relu bool) {
	if relu {
		kernels.ScaleShiftReLU(host(dst), host(src), scale, shift)
	} else {
		kernels.ScaleShift(host(dst), host(src), scale, shift)
	}
}

// BNBackwardReduce runs kernels.BNBackwardReduce or kernels.BNBackwardReduceReLU.
func (b *Backend) BNBackwardReduce(dy, x backend.Buffer, mean float32, relu bool, scale, shift float32) (float64, float64) {
	if relu {
		return kernels.BNBackwardReduceReLU(host(dy), host(x), mean, scale, shift)
	}
	return kernels.BNBackwardReduce(host(dy), host(x), mean)
}

// BNBackwardApply runs kernels.BNBackwardApply or kernels.BNBackwardApplyAdd.
func (b *Backend) BNBackwardApply(dx, dy, x backend.Buffer, k, p, q float32, accumulate bool) {
	if accumulate {
		kernels.BNBackwardApplyAdd(host(dx), host(dy), host(x), k, p, q)
	} else {
		kernels.BNBackwardApply(host(dx), host(dy), host(x), k, p, q)
	}
}

// Add runs kernels.Add.
func (b *Backend) Add(dst, x, y backend.Buffer) { kernels.Add(host(dst), host(x), host(y)) }

// AddReLU runs kernels.AddReLU.
func (b *Backend) AddReLU(dst, x, y backend.Buffer) { kernels.AddReLU(host(dst), host(x), host(y)) }

// Axpy runs kernels.Axpy.
func (b *Backend) Axpy(alpha float32, x, y backend.Buffer) { kernels.Axpy(alpha, host(x), host(y)) }

// Scale runs kernels.Scale.
func (b *Backend) Scale(alpha float32, x backend.Buffer) { kernels.Scale(alpha, host(x)) }

// ReLU runs kernels.ReLUBits (a select on the sign bit).
func (b *Backend) ReLU(dst, src backend.Buffer) { kernels.ReLUBits(host(dst), host(src)) }

// ReLUMaskGrad runs kernels.ReLUMaskGrad or kernels.ReLUMaskGradAdd.
func (b *Backend) ReLUMaskGrad(dx, dy, y backend.Buffer, accumulate bool) {
	if accumulate {
		kernels.ReLUMaskGradAdd(host(dx), host(dy), host(y))
	} else {
		kernels.ReLUMaskGrad(host(dx), host(dy), host(y))
	}
}

// ReLUMaskGradPair runs kernels.ReLUMaskGradPair.
func (b *Backend) ReLUMaskGradPair(dx, dx2, dy, y backend.Buffer) {
	kernels.ReLUMaskGradPair(host(dx), host(dx2), host(dy), host(y))
}

// GELU runs kernels.GELU.
func (b *Backend) GELU(dst, src backend.Buffer) { kernels.GELU(host(dst), host(src)) }

// GELUGrad runs kernels.GELUGrad.
func (b *Backend) GELUGrad(dx, dy, x backend.Buffer, accumulate bool) {
	kernels.GELUGrad(host(dx), host(dy), host(x), accumulate)
}

// Sum runs kernels.Sum.
func (b *Backend) Sum(x backend.Buffer) float32 { return kernels.Sum(host(x)) }

// Dot runs kernels.Dot.
func (b *Backend) Dot(x, y backend.Buffer) float32 { return kernels.Dot(host(x), host(y)) }

// Max runs kernels.Max.
func (b *Backend) Max(x backend.Buffer) float32 { return kernels.Max(host(x)) }

// SoftmaxRows normalises each row with kernels.ExpShift and kernels.Scale.
func (b *Backend) SoftmaxRows(x backend.Buffer, rows, cols int) {
	xd := host(x)
	for r := 0; r < rows; r++ {
		row := xd[r*cols : (r+1)*cols]
		s := kernels.ExpShift(row, row, kernels.Max(row))
		kernels.Scale(1/s, row)
	}
}

// SGDUpdate is torch.optim.SGD's update (dampening 0): d = g + wd*p; buf = m*buf +
// d; p -= lr*buf (or lr*(d + m*buf) with Nesterov).
func (b *Backend) SGDUpdate(o backend.SGDParams, p, g, buf backend.Buffer) {
	pd, grad, bd := host(p), host(g), host(buf)
	m, wd, rate := o.Momentum, o.WeightDecay, o.LR
	for i, w := range pd {
		d := grad[i] + wd*w
		if m != 0 {
			v := m*bd[i] + d
			bd[i] = v
			if o.Nesterov {
				d += m * v
			} else {
				d = v
			}
		}
		pd[i] = w - rate*d
	}
}

// LARSUpdate is LARS with the trust ratio computed in float64.
func (b *Backend) LARSUpdate(o backend.LARSParams, p, g, buf backend.Buffer) {
	pd, grad, bd := host(p), host(g), host(buf)
	m, rate := o.Momentum, o.LR
	q, wd := float32(1), float32(0)
	if !o.Excluded {
		wd = o.WeightDecay
		var pn, un float64
		for i, w := range pd {
			d := float64(grad[i] + wd*w)
			pn += float64(w) * float64(w)
			un += d * d
		}
		if pn > 0 && un > 0 {
			q = float32(o.Trust * math.Sqrt(pn) / math.Sqrt(un))
		}
	}
	for i, w := range pd {
		d := (grad[i] + wd*w) * q
		v := m*bd[i] + d
		bd[i] = v
		pd[i] = w - rate*v
	}
}

// AdamWUpdate is torch.optim.AdamW's update.
func (b *Backend) AdamWUpdate(o backend.AdamWParams, p, g, mb, vb backend.Buffer) {
	pd, grad, m, v := host(p), host(g), host(mb), host(vb)
	b1, b2, eps := o.Beta1, o.Beta2, o.Eps
	for i, w := range pd {
		gv := grad[i]
		mi := b1*m[i] + (1-b1)*gv
		vi := b2*v[i] + (1-b2)*gv*gv
		m[i], v[i] = mi, vi
		den := float32(math.Sqrt(float64(vi)))*o.InvSqrtC2 + eps
		pd[i] = w*o.Decay - o.Step*mi/den
	}
}

// EMAUpdate computes t = m*t + (1-m)*o.
func (b *Backend) EMAUpdate(m float32, target, online backend.Buffer) {
	t, o := host(target), host(online)
	o = o[:len(t)]
	for j := range t {
		t[j] = m*t[j] + (1-m)*o[j]
	}
}

// Nearest runs kernels.NearestNeighbors (Dot) or kernels.NearestL2 (L2).
func (b *Backend) Nearest(metric backend.Metric, queries, keys backend.Buffer, dim, k, chunk int) (*backend.Neighbors, error) {
	var nb *kernels.Neighbors
	var err error
	switch metric {
	case backend.Dot:
		nb, err = kernels.NearestNeighbors(host(queries), host(keys), dim, k, chunk)
	case backend.L2:
		nb, err = kernels.NearestL2(host(queries), host(keys), dim, k, chunk)
	default:
		return nil, fmt.Errorf("backend cpu: unknown metric %d", metric)
	}
	if err != nil {
		return nil, err
	}
	return &backend.Neighbors{K: nb.K, Index: nb.Index, Sim: nb.Sim}, nil
}

// Gram32 runs kernels.Dgram32.
func (b *Backend) Gram32(rows, d int, x []float32, ldx int, scale, shift []float64, c []float64, ldc int) {
	kernels.Dgram32(rows, d, x, ldx, scale, shift, c, ldc)
}

// Gram64 runs kernels.Dgram64.
func (b *Backend) Gram64(rows, d int, x []float64, ldx int, scale, shift []float64, c []float64, ldc int) {
	kernels.Dgram64(rows, d, x, ldx, scale, shift, c, ldc)
}

// Gram32Stats runs kernels.Dgram32Stats.
func (b *Backend) Gram32Stats(rows, d int, x []float32, ldx int, normalize bool, shift []float64, c []float64, ldc int, st *backend.GramStats) {
	ks := kernels.DgramStats{Sum: st.Sum, S1: st.S1, S2: st.S2}
	kernels.Dgram32Stats(rows, d, x, ldx, normalize, shift, c, ldc, &ks)
}

// Rank2Dot runs kernels.Drank2Dot.
func (b *Backend) Rank2Dot(r, v, w []float64, a, bb float64, u []float64) float64 {
	return kernels.Drank2Dot(r, v, w, a, bb, u)
}

// Rank2Symv runs kernels.Drank2Symv.
func (b *Backend) Rank2Symv(r, vp, wp []float64, a, bb float64, v []float64, vi float64, p []float64) float64 {
	return kernels.Drank2Symv(r, vp, wp, a, bb, v, vi, p)
}

// Ddot runs kernels.Ddot.
func (b *Backend) Ddot(x, y []float64) float64 { return kernels.Ddot(x, y) }
