package tensor_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"

	"github.com/siam-ssl/siam/tensor"
	"github.com/siam-ssl/siam/tensor/tensortest"
)

type convCase struct {
	n, c, h, w, k, r, s, stride, pad int
	bias                             bool
}

func (cc convCase) String() string {
	return fmt.Sprintf("N%d_C%d_%dx%d_K%d_%dx%d_s%d_p%d_b%v", cc.n, cc.c, cc.h, cc.w, cc.k, cc.r, cc.s, cc.stride, cc.pad, cc.bias)
}

var convCases = []convCase{
	{1, 4, 6, 6, 5, 1, 1, 1, 0, false},  // 1x1 s1 p0 (no im2col)
	{2, 3, 8, 8, 4, 3, 3, 1, 1, true},   // 3x3 s1 p1
	{3, 2, 9, 9, 3, 3, 3, 2, 1, false},  // 3x3 s2 p1, odd size
	{2, 4, 8, 8, 6, 1, 1, 2, 0, true},   // 1x1 s2 (shortcut)
	{1, 3, 15, 13, 4, 7, 7, 2, 3, true}, // 7x7 s2 p3 (ImageNet stem)
	{2, 1, 9, 9, 2, 5, 5, 1, 2, false},  // 5x5 s1 p2, C=1
	{3, 3, 5, 7, 4, 3, 3, 1, 1, true},   // non-square input
	{2, 2, 5, 7, 3, 3, 1, 1, 0, true},   // non-square kernel
	{1, 2, 4, 4, 3, 1, 1, 1, 1, false},  // padding beyond the kernel: col2im at stride 1
	{2, 3, 4, 4, 2, 3, 3, 1, 0, true},   // valid conv
	{2, 2, 7, 6, 3, 2, 2, 3, 1, true},   // even kernel, stride 3
	{3, 5, 4, 4, 6, 3, 3, 1, 1, false},  // small images: grouped GEMMs
	{2, 2, 3, 3, 3, 3, 3, 2, 1, true},   // 2x2 output
	{2, 3, 5, 20, 4, 3, 3, 1, 1, true},  // wide rows: shifted-view lowering by default
	{2, 2, 6, 40, 3, 5, 5, 1, 2, false}, // 5x5, shifted view
	{3, 2, 4, 30, 3, 3, 3, 1, 0, true},  // valid 3x3, shifted view
	{2, 3, 4, 24, 2, 3, 1, 1, 1, false}, // 3x1 kernel, padding, shifted view
	// Output widths that are not multiples of 4 (28x28 inputs): widened pixel rows.
	{3, 4, 14, 14, 5, 3, 3, 1, 1, true},  // 14x14
	{5, 5, 7, 7, 6, 3, 3, 1, 1, false},   // 7x7, a short last group
	{3, 4, 28, 28, 5, 3, 3, 2, 1, false}, // 28 -> 14
	{3, 4, 28, 28, 6, 1, 1, 2, 0, true},  // 28 -> 14, 1x1
	{5, 4, 14, 14, 6, 3, 3, 2, 1, true},  // 14 -> 7
	{3, 6, 7, 7, 5, 3, 3, 2, 1, false},   // 7 -> 4
	{4, 3, 13, 10, 4, 3, 3, 1, 1, false}, // 13x10
}

// refConv is the direct convolution in float64, with its gradients for the output
// seed gy.
func refConv(cc convCase, x, w, b, gy []float32) (out, gx, gw, gb []float64) {
	ho := (cc.h+2*cc.pad-cc.r)/cc.stride + 1
	wo := (cc.w+2*cc.pad-cc.s)/cc.stride + 1
	out = make([]float64, cc.n*cc.k*ho*wo)
	gx = make([]float64, len(x))
	gw = make([]float64, len(w))
	gb = make([]float64, cc.k)
	for n := 0; n < cc.n; n++ {
		for k := 0; k < cc.k; k++ {
			for oy := 0; oy < ho; oy++ {
				for ox := 0; ox < wo; ox++ {
					oi := ((n*cc.k+k)*ho+oy)*wo + ox
					var s float64
					if b != nil {
						s = float64(b[k])
					}
					d := float64(gy[oi])
					gb[k] += d
					for c := 0; c < cc.c; c++ {
						for ky := 0; ky < cc.r; ky++ {
							iy := oy*cc.stride + ky - cc.pad
							if iy < 0 || iy >= cc.h {
								continue
							}
							for kx := 0; kx < cc.s; kx++ {
								ix := ox*cc.stride + kx - cc.pad
								if ix < 0 || ix >= cc.w {
									continue
								}
								xi := ((n*cc.c+c)*cc.h+iy)*cc.w + ix
								wi := ((k*cc.c+c)*cc.r+ky)*cc.s + kx
								s += float64(x[xi]) * float64(w[wi])
								gx[xi] += d * float64(w[wi])
								gw[wi] += d * float64(x[xi])
							}
						}
					}
					out[oi] = s
				}
			}
		}
	}
	return
}

func closeTo(t *testing.T, what string, got []float32, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	var scale float64
	for _, v := range want {
		scale = math.Max(scale, math.Abs(v))
	}
	for i := range got {
		if d := math.Abs(float64(got[i]) - want[i]); d > tol*math.Max(scale, 1) {
			t.Fatalf("%s[%d] = %v, want %v (scale %v)", what, i, got[i], want[i], scale)
		}
	}
}

func randSlice(rng *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(rng.NormFloat64())
	}
	return s
}

// TestConv2dReference checks forward and all three gradients against the direct
// convolution for every case, with image grouping off, default and forced.
func TestConv2dReference(t *testing.T) {
	// phase 1 is the default (stride-2 input gradients split by phase), 0 the
	// column matrix and col2im.
	for _, mode := range []struct{ cols, shift, implicit, phase int }{{1, 0, 0, 1}, {1, 2, 0, 1}, {256, 1, 0, 1}, {1 << 20, 1, 0, 1}, {1 << 20, 0, 0, 1},
		{1, 0, 1, 1}, {256, 1, 1, 1}, {1 << 20, 1, 1, 1}, {1, 0, 1, 0}, {256, 1, 1, 0}} {
		cols := mode.cols
		old := tensor.SetConvTargetCols(cols)
		oldShift := tensor.SetConvShift(mode.shift)
		oldImplicit := tensor.SetConvImplicit(mode.implicit)
		oldPhase := tensor.SetConvPhaseBwd(mode.phase)
		for _, cc := range convCases {
			t.Run(fmt.Sprintf("cols%d_shift%d_implicit%d_phase%d/%v", cols, mode.shift, mode.implicit, mode.phase, cc), func(t *testing.T) {
				rng := rand.New(rand.NewPCG(uint64(cc.n*1000+cc.c*100+cc.r), 3))
				x := tensortest.Rand(1, cc.n, cc.c, cc.h, cc.w)
				w := tensor.NewParam("w", cc.k, cc.c, cc.r, cc.s)
				copy(w.Data, randSlice(rng, len(w.Data)))
				var b *tensor.Tensor
				var bd []float32
				if cc.bias {
					b = tensor.NewParam("b", cc.k)
					copy(b.Data, randSlice(rng, cc.k))
					bd = b.Data
				}
				g := tensor.NewGraph()
				out := g.Conv2d(x, w, b, tensor.ConvOpts{Stride: cc.stride, Pad: cc.pad})
				if err := g.Err(); err != nil {
					t.Fatal(err)
				}
				gy := randSlice(rng, out.Numel())
				ro, rgx, rgw, rgb := refConv(cc, x.Data, w.Data, bd, gy)
				closeTo(t, "out", out.Data, ro, 1e-5)
				// Pre-existing gradients must be accumulated into, not overwritten.
				for i := range w.Grad {
					w.Grad[i] = 1
				}
				for i := range rgw {
					rgw[i]++
				}
				if cols == 256 { // and into an existing input gradient
					x.Grad = make([]float32, len(x.Data))
					for i := range x.Grad {
						x.Grad[i] = 2
						rgx[i] += 2
					}
				}
				if err := g.BackwardWith(out, gy); err != nil {
					t.Fatal(err)
				}
				closeTo(t, "gx", x.Grad, rgx, 1e-5)
				closeTo(t, "gw", w.Grad, rgw, 1e-5)
				if b != nil {
					closeTo(t, "gb", b.Grad, rgb, 1e-5)
				}
			})
		}
		tensor.SetConvTargetCols(old)
		tensor.SetConvShift(oldShift)
		tensor.SetConvImplicit(oldImplicit)
		tensor.SetConvPhaseBwd(oldPhase)
	}
}

// TestConv2dNoInputGrad checks that a first-layer convolution (input without a
// gradient) still produces weight gradients and leaves the input alone.
func TestConv2dNoInputGrad(t *testing.T) {
	cc := convCase{2, 3, 8, 8, 4, 3, 3, 1, 1, false}
	x := tensortest.Rand(2, cc.n, cc.c, cc.h, cc.w)
	x.SetRequiresGrad(false)
	w := tensor.NewParam("w", cc.k, cc.c, cc.r, cc.s)
	copy(w.Data, tensortest.Rand(3, len(w.Data)).Data)
	g := tensor.NewGraph()
	out := g.Conv2d(x, w, nil, tensor.ConvOpts{Stride: 1, Pad: 1})
	gy := tensortest.Rand(4, out.Numel()).Data
	if err := g.BackwardWith(out, gy); err != nil {
		t.Fatal(err)
	}
	if x.Grad != nil {
		t.Fatal("input without RequiresGrad got a gradient")
	}
	_, _, rgw, _ := refConv(cc, x.Data, w.Data, nil, gy)
	closeTo(t, "gw", w.Grad, rgw, 1e-5)
}

func TestConv2dGradCheck(t *testing.T) {
	for _, cc := range []convCase{
		{2, 2, 5, 5, 3, 3, 3, 1, 1, true},
		{1, 3, 6, 5, 2, 3, 3, 2, 1, true},
		{2, 3, 4, 4, 2, 1, 1, 1, 0, true},
		{1, 2, 7, 7, 2, 5, 5, 2, 2, true},
	} {
		t.Run(cc.String(), func(t *testing.T) {
			x := tensortest.Rand(5, cc.n, cc.c, cc.h, cc.w)
			w := tensortest.Rand(6, cc.k, cc.c, cc.r, cc.s)
			b := tensortest.Rand(7, cc.k)
			tensortest.CheckGrad(t, func(g *tensor.Graph, in []*tensor.Tensor) *tensor.Tensor {
				return g.Conv2d(in[0], in[1], in[2], tensor.ConvOpts{Stride: cc.stride, Pad: cc.pad})
			}, []*tensor.Tensor{x, w, b}, tensortest.Options{})
		})
	}
}

func TestConv2dErrors(t *testing.T) {
	for _, tc := range []struct {
		name    string
		x, w, b []int
		o       tensor.ConvOpts
		want    []string
	}{
		{"rank", []int{3, 8, 8}, []int{4, 3, 3, 3}, nil, tensor.ConvOpts{Stride: 1}, []string{"[3 8 8]", "rank"}},
		{"weight rank", []int{2, 3, 8, 8}, []int{4, 27}, nil, tensor.ConvOpts{Stride: 1}, []string{"[4 27]", "rank"}},
		{"channels", []int{2, 3, 8, 8}, []int{4, 2, 3, 3}, nil, tensor.ConvOpts{Stride: 1}, []string{"[2 3 8 8]", "[4 2 3 3]", "channels"}},
		{"kernel too large", []int{1, 1, 4, 4}, []int{2, 1, 7, 7}, nil, tensor.ConvOpts{Stride: 1, Pad: 1}, []string{"[1 1 4 4]", "[2 1 7 7]", "larger"}},
		{"stride", []int{1, 1, 4, 4}, []int{2, 1, 3, 3}, nil, tensor.ConvOpts{}, []string{"[1 1 4 4]", "stride"}},
		{"pad", []int{1, 1, 4, 4}, []int{2, 1, 3, 3}, nil, tensor.ConvOpts{Stride: 1, Pad: -1}, []string{"padding"}},
		{"bias", []int{1, 1, 4, 4}, []int{2, 1, 3, 3}, []int{3}, tensor.ConvOpts{Stride: 1}, []string{"[3]", "bias"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := tensor.NewGraph()
			x := tensor.New(tc.x...)
			w := tensor.New(tc.w...)
			var b *tensor.Tensor
			if tc.b != nil {
				b = tensor.New(tc.b...)
			}
			out := g.Conv2d(x, w, b, tc.o)
			if g.Err() == nil || out.Numel() != 0 {
				t.Fatalf("want an error, got %v", out)
			}
			msg := g.Err().Error()
			for _, s := range append([]string{"conv2d"}, tc.want...) {
				if !strings.Contains(msg, s) {
					t.Errorf("error %q lacks %q", msg, s)
				}
			}
		})
	}
	g := tensor.NewGraph()
	g.Conv2d(nil, tensor.New(1, 1, 1, 1), nil, tensor.ConvOpts{Stride: 1})
	if g.Err() == nil || !strings.Contains(g.Err().Error(), "conv2d") {
		t.Fatalf("nil input: %v", g.Err())
	}
}

// TestConv2dSteadyState checks that repeated steps with the same shapes allocate
// no new arena memory.
func TestConv2dSteadyState(t *testing.T) {
	x := tensortest.Rand(8, 4, 8, 8, 8)
	w := tensor.NewParam("w", 8, 8, 3, 3)
	copy(w.Data, tensortest.Rand(9, len(w.Data)).Data)
	g := tensor.NewGraph()
	var bytes int64
	for step := range 3 {
		g.Reset()
		out := g.Conv2d(x, w, nil, tensor.ConvOpts{Stride: 1, Pad: 1})
		if err := g.BackwardWith(out, out.Data); err != nil {
			t.Fatal(err)
		}
		if step == 1 {
			bytes = g.ArenaBytes()
		} else if step == 2 && g.ArenaBytes() != bytes {
			t.Fatalf("arena grew from %d to %d bytes", bytes, g.ArenaBytes())
		}
	}
}

// TestConv2dNoSteadyAlloc runs a small network of differently shaped convolutions
// (forward and backward) for a few steps and checks that a later step takes every
// work buffer from the pools and the arena, allocating (almost) nothing.
func TestConv2dNoSteadyAlloc(t *testing.T) {
	type layer struct {
		w *tensor.Tensor
		o tensor.ConvOpts
	}
	layers := []layer{
		{tensor.NewParam("stem", 8, 3, 3, 3), tensor.ConvOpts{Stride: 1, Pad: 1}},
		{tensor.NewParam("a", 16, 8, 3, 3), tensor.ConvOpts{Stride: 1, Pad: 1}},
		{tensor.NewParam("a2", 16, 16, 3, 3), tensor.ConvOpts{Stride: 1, Pad: 1}},
		{tensor.NewParam("b", 16, 16, 3, 3), tensor.ConvOpts{Stride: 2, Pad: 1}},
		{tensor.NewParam("c", 16, 16, 1, 1), tensor.ConvOpts{Stride: 1, Pad: 0}},
		{tensor.NewParam("d", 32, 16, 1, 1), tensor.ConvOpts{Stride: 2, Pad: 0}},
		{tensor.NewParam("e", 32, 32, 3, 3), tensor.ConvOpts{Stride: 1, Pad: 1}},
	}
	for i, l := range layers {
		copy(l.w.Data, tensortest.Rand(uint64(i+1), l.w.Numel()).Data)
	}
	x := tensortest.Rand(40, 6, 3, 32, 32)
	x.SetRequiresGrad(false)
	g := tensor.NewGraph()
	step := func() {
		g.Reset()
		h := x
		for _, l := range layers {
			h = g.Conv2d(h, l.w, nil, l.o)
		}
		if err := g.BackwardWith(h, h.Data); err != nil {
			t.Fatal(err)
		}
	}
	for range 5 {
		step()
	}
	arena := g.ArenaBytes()
	misses := tensor.ConvPoolMisses()
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	step()
	runtime.ReadMemStats(&m1)
	// The GEMM's own packing buffers live in a sync.Pool, which may allocate afresh
	// when a goroutine lands on another P; that is logged, not failed.
	t.Logf("steady step allocated %d bytes", m1.TotalAlloc-m0.TotalAlloc)
	if d := tensor.ConvPoolMisses() - misses; d != 0 {
		t.Errorf("steady step allocated %d conv work buffers", d)
	}
	if g.ArenaBytes() != arena {
		t.Errorf("arena grew from %d to %d bytes", arena, g.ArenaBytes())
	}
}

// TestConv2dBiasOnlyGrad covers a frozen weight with a trainable bias.
func TestConv2dBiasOnlyGrad(t *testing.T) {
	cc := convCase{3, 2, 5, 5, 4, 3, 3, 1, 1, true}
	x := tensortest.Rand(31, cc.n, cc.c, cc.h, cc.w)
	w := tensortest.Rand(32, cc.k, cc.c, cc.r, cc.s)
	w.SetRequiresGrad(false)
	b := tensor.NewParam("b", cc.k)
	g := tensor.NewGraph()
	out := g.Conv2d(x, w, b, tensor.ConvOpts{Stride: 1, Pad: 1})
	gy := tensortest.Rand(33, out.Numel()).Data
	if err := g.BackwardWith(out, gy); err != nil {
		t.Fatal(err)
	}
	_, rgx, _, rgb := refConv(cc, x.Data, w.Data, b.Data, gy)
	closeTo(t, "gb", b.Grad, rgb, 1e-5)
	closeTo(t, "gx", x.Grad, rgx, 1e-5)
	if w.Grad != nil {
		t.Fatal("frozen weight got a gradient")
	}
}

// TestConvPhaseBwdMatchesCol2im compares the phase-split input gradient of stride-2
// convolutions with the column-matrix route it replaces, on the ResNet shapes
// (3x3 and 1x1 downsampling of 32x32, 28x28, 14x14 and 7x7 inputs, grouped and
// single-image GEMMs), written fresh and accumulated. The summation order differs
// (one GEMM over all taps of a phase instead of a GEMM per tap and col2im), so the
// two agree to float32 rounding, not bit for bit.
func TestConvPhaseBwdMatchesCol2im(t *testing.T) {
	for _, cc := range []convCase{
		{4, 16, 32, 32, 32, 3, 3, 2, 1, false},
		{4, 16, 32, 32, 32, 1, 1, 2, 0, false},
		{3, 16, 28, 28, 32, 3, 3, 2, 1, false},
		{5, 32, 14, 14, 64, 3, 3, 2, 1, false},
		{9, 64, 7, 7, 128, 3, 3, 2, 1, false},
		{9, 64, 7, 7, 128, 1, 1, 2, 0, false},
		{2, 3, 11, 9, 5, 5, 5, 2, 2, false},
		{2, 3, 10, 12, 4, 4, 4, 2, 1, false},
	} {
		for _, mode := range []struct {
			accumulate bool
			wide       int
		}{{false, 1}, {true, 1}, {false, 0}} {
			accumulate := mode.accumulate
			grads := [2][]float32{}
			for i, phase := range []int{0, 1} {
				prev := tensor.SetConvPhaseBwd(phase)
				prevWide := tensor.SetConvWideFwd(mode.wide)
				x := tensortest.Rand(5, cc.n, cc.c, cc.h, cc.w)
				w := tensor.NewParam("w", cc.k, cc.c, cc.r, cc.s)
				copy(w.Data, tensortest.Rand(6, len(w.Data)).Data)
				if accumulate {
					x.Grad = make([]float32, len(x.Data))
					copy(x.Grad, tensortest.Rand(7, len(x.Data)).Data)
				}
				g := tensor.NewGraph()
				out := g.Conv2d(x, w, nil, tensor.ConvOpts{Stride: cc.stride, Pad: cc.pad})
				if err := g.BackwardWith(out, tensortest.Rand(8, out.Numel()).Data); err != nil {
					t.Fatal(err)
				}
				tensor.SetConvPhaseBwd(prev)
				tensor.SetConvWideFwd(prevWide)
				grads[i] = x.Grad
			}
			want := make([]float64, len(grads[0]))
			for i, v := range grads[0] {
				want[i] = float64(v)
			}
			closeTo(t, fmt.Sprintf("%v %+v: phase gx vs col2im", cc, mode), grads[1], want, 2e-6)
		}
	}
}
