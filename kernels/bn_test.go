package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

var bnPathName = map[int]string{bnGo: "go", bnAVX2: "avx2", bnAVX512: "avx512"}

// bnLengths covers every tail length, the 1024-value block boundary and a few
// multi-block sizes.
func bnLengths() []int {
	var l []int
	for n := 0; n <= 100; n++ {
		l = append(l, n)
	}
	return append(l, 255, 1000, 1023, 1024, 1025, 1040, 2048+17, 4096, 3*1024+1000+9, 20000+5)
}

// bnData returns n values: normals with an offset, some exact zeros, -0, tiny and
// large magnitudes; guard floats follow the slice in its backing array.
func bnData(r *rand.Rand, n int, off float32) []float32 {
	b := make([]float32, n+guard)
	for i := range b[:n] {
		switch r.IntN(16) {
		case 0:
			b[i] = 0
		case 1:
			b[i] = float32(math.Copysign(0, -1))
		case 2:
			b[i] = float32(r.NormFloat64()) * 1e-30
		default:
			b[i] = off + float32(r.NormFloat64())
		}
	}
	// Each slice's guard holds its own values, so a kernel that copied another
	// slice's guard (NaN payloads propagate) is caught too.
	guardID = guardID%32000 + 1
	for i := n; i < len(b); i++ {
		b[i] = math.Float32frombits(0x7f800000 | guardID<<8 | uint32(i-n))
	}
	return b[:n]
}

const guard = 19

var guardID uint32

func checkGuard(t *testing.T, name string, s []float32) {
	t.Helper()
	g := s[len(s) : len(s)+guard]
	id := math.Float32bits(g[0]) &^ 0x7f8000ff
	for i, v := range g {
		if math.Float32bits(v) != 0x7f800000|id|uint32(i) || id == 0 {
			t.Fatalf("%s n=%d: wrote past the end at +%d", name, len(s), i)
		}
	}
}

func sameBits(t *testing.T, name string, got, want []float32) {
	t.Helper()
	for i := range want {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			t.Fatalf("%s n=%d: [%d] = %v (%#x), want %v (%#x)", name, len(want), i, got[i], math.Float32bits(got[i]), want[i], math.Float32bits(want[i]))
		}
	}
	checkGuard(t, name, got)
}

// closeSum checks a reduction against its float64 value; scale is the sum of the
// terms' magnitudes.
func closeSum(t *testing.T, name string, n int, got, want, scale float64) {
	t.Helper()
	if d := math.Abs(got - want); d > 2e-6*scale+1e-30 {
		t.Fatalf("%s n=%d: got %.10g, want %.10g (diff %.3g, scale %.3g)", name, n, got, want, d, scale)
	}
}

func forEachBN(t *testing.T, fn func(t *testing.T)) {
	for _, p := range bnPaths() {
		t.Run(bnPathName[p], func(t *testing.T) {
			defer forceBN(p)()
			fn(t)
		})
	}
}

func TestChannelSums(t *testing.T) {
	forEachBN(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(1, 2))
		for _, n := range bnLengths() {
			x := bnData(r, n, 3)
			k := float32(2.5)
			if n > 0 {
				k = x[0]
			}
			var s, q, as, aq float64
			for _, v := range x {
				d := float64(v - k)
				s += d
				q += d * d
				as += math.Abs(d)
			}
			aq = q
			gs, gq := ChannelSums(x, k)
			closeSum(t, "sum", n, gs, s, as)
			closeSum(t, "sumsq", n, gq, q, aq)
			// Every path reproduces the Go loop bit for bit.
			ws, wq := channelSumsGo(x, k)
			if gs != ws || gq != wq {
				t.Fatalf("n=%d: ChannelSums (%v, %v), Go loop (%v, %v)", n, gs, gq, ws, wq)
			}
		}
	})
}

func TestChannelSumsPlanes(t *testing.T) {
	forEachBN(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(11, 12))
		for _, planes := range []int{0, 1, 2, 3, 4, 5, 7, 8, 9} {
			for _, size := range []int{0, 1, 3, 4, 5, 15, 16, 17, 64, 100, 1023, 1024, 1025, 2051} {
				stride := size + r.IntN(3)*size + r.IntN(5)
				x := bnData(r, max(0, (planes-1)*stride+size), 1.5)
				shift := float32(1.25)
				var ws, wq float64
				for i := range planes {
					a, b := channelSumsGo(x[i*stride:i*stride+size], shift)
					ws += a
					wq += b
				}
				gs, gq := ChannelSumsPlanes(x, planes, size, stride, shift)
				if gs != ws || gq != wq {
					t.Fatalf("planes=%d size=%d stride=%d: (%v, %v), want (%v, %v)", planes, size, stride, gs, gq, ws, wq)
				}
			}
		}
	})
}

func TestBNBackwardReduce(t *testing.T) {
	forEachBN(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(3, 4))
		for _, n := range bnLengths() {
			x := bnData(r, n, 0.5)
			dy := bnData(r, n, 0)
			mean := float32(0.4)
			var s, q, as, aq float64
			for i, v := range x {
				d, c := float64(dy[i]), float64(v-mean)
				s += d
				q += d * c
				as += math.Abs(d)
				aq += math.Abs(d * c)
			}
			gs, gq := BNBackwardReduce(dy, x, mean)
			closeSum(t, "sumDy", n, gs, s, as)
			closeSum(t, "sumDyXc", n, gq, q, aq)
		}
	})
}

func TestBNBackwardReduceReLU(t *testing.T) {
	forEachBN(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(5, 6))
		for _, n := range bnLengths() {
			x := bnData(r, n, 0.5)
			dy := bnData(r, n, 0)
			mean, sc, sh := float32(0.4), float32(1.3), float32(-0.52)
			// The reference mask comes from the forward kernel of the same path.
			y := bnData(r, n, 0)
			ScaleShiftReLU(y, x, sc, sh)
			want := make([]float32, n)
			var s, q, as, aq float64
			for i, v := range x {
				if y[i] > 0 {
					want[i] = dy[i]
				}
				d, c := float64(want[i]), float64(v-mean)
				s += d
				q += d * c
				as += math.Abs(d)
				aq += math.Abs(d * c)
			}
			gs, gq := BNBackwardReduceReLU(dy, x, mean, sc, sh)
			sameBits(t, "masked dy", dy, want)
			closeSum(t, "sumDy", n, gs, s, as)
			closeSum(t, "sumDyXc", n, gq, q, aq)
		}
	})
}

// TestBNElementwise checks every elementwise primitive bit for bit against its
// pure-Go loop, and that nothing past the end is written.
func TestBNElementwise(t *testing.T) {
	type op struct {
		name string
		run  func(dst, a, b, c []float32)
		ref  func(dst, a, b, c []float32)
		acc  bool // dst is read
	}
	const sc, sh, k, p, q = 1.7, -0.3, 0.9, -0.37, 0.011
	ops := []op{
		{"ScaleShift", func(d, a, _, _ []float32) { ScaleShift(d, a, sc, sh) }, func(d, a, _, _ []float32) { scaleShiftGo(d, a, sc, sh) }, false},
		{"ScaleShiftReLU", func(d, a, _, _ []float32) { ScaleShiftReLU(d, a, sc, sh) }, func(d, a, _, _ []float32) { scaleShiftReLUGo(d, a, sc, sh) }, false},
		{"BNBackwardApply", func(d, a, b, _ []float32) { BNBackwardApply(d, a, b, k, p, q) }, func(d, a, b, _ []float32) { bnApplyGo(d, a, b, k, p, q) }, false},
		{"BNBackwardApplyAdd", func(d, a, b, _ []float32) { BNBackwardApplyAdd(d, a, b, k, p, q) }, func(d, a, b, _ []float32) { bnApplyAddGo(d, a, b, k, p, q) }, true},
		{"AddReLU", func(d, a, b, _ []float32) { AddReLU(d, a, b) }, func(d, a, b, _ []float32) { addReLUGo(d, a, b) }, false},
		{"ReLUBits", func(d, a, _, _ []float32) { ReLUBits(d, a) }, func(d, a, _, _ []float32) { reluBitsGo(d, a) }, false},
		{"ReLUMaskGrad", func(d, a, _, c []float32) { ReLUMaskGrad(d, a, c) }, func(d, a, _, c []float32) { reluMaskGo(d, a, c) }, false},
		{"ReLUMaskGradAdd", func(d, a, _, c []float32) { ReLUMaskGradAdd(d, a, c) }, func(d, a, _, c []float32) { reluMaskAddGo(d, a, c) }, true},
		{"ReLUMaskGradPair", func(d, a, _, c []float32) {
			d2 := bnData(rand.New(rand.NewPCG(1, 1)), len(d), 0)
			ReLUMaskGradPair(d, d2, a, c)
			sameBits(t, "ReLUMaskGradPair second output", d2[:len(d)], d)
		}, func(d, a, _, c []float32) { reluMaskGo(d, a, c) }, false},
	}
	forEachBN(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(7, 8))
		for _, o := range ops {
			for _, n := range bnLengths() {
				a, b := bnData(r, n, 0.2), bnData(r, n, -0.1)
				// c plays a ReLU output: +0 or positive, with a few NaNs.
				c := bnData(r, n, 0)
				reluBitsGo(c, c)
				if n > 3 {
					c[n/2] = float32(math.NaN())
				}
				dst := bnData(r, n, 1)
				want := append([]float32(nil), dst...)
				o.ref(want, a, b, c)
				o.run(dst, a, b, c)
				sameBits(t, o.name, dst, want)
			}
		}
		// In place: dst aliases the first source.
		for _, n := range []int{0, 7, 16, 100, 1029} {
			a := bnData(r, n, 0.2)
			want := make([]float32, n)
			scaleShiftReLUGo(want, a, sc, sh)
			ScaleShiftReLU(a, a, sc, sh)
			sameBits(t, "ScaleShiftReLU in place", a, want)
		}
	})
}

// TestBNFusedConsistent checks that the backward ReLU mask agrees with the
// forward output element for element on each path (both recompute x*sc+sh).
func TestBNFusedConsistent(t *testing.T) {
	forEachBN(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(9, 10))
		for _, n := range []int{13, 1024, 5000} {
			x := bnData(r, n, 0)
			y := make([]float32, n)
			sc, sh := float32(0.731), float32(0.0017)
			ScaleShiftReLU(y, x, sc, sh)
			dy := make([]float32, n)
			for i := range dy {
				dy[i] = 1
			}
			BNBackwardReduceReLU(dy, x, 0, sc, sh)
			for i := range y {
				if (y[i] > 0) != (dy[i] == 1) {
					t.Fatalf("n=%d [%d]: y=%v masked dy=%v", n, i, y[i], dy[i])
				}
			}
		}
	})
}

func BenchmarkBNPrimitives(b *testing.B) {
	const n = 16 * 1024 // 64 KiB per stream: L2-resident, as in the engine's per-plane calls
	r := rand.New(rand.NewPCG(1, 1))
	x, dy, dx := bnData(r, n, 0.3), bnData(r, n, 0), bnData(r, n, 0)
	for _, p := range bnPaths() {
		restore := forceBN(p)
		for _, bc := range []struct {
			name  string
			bytes int // per element
			fn    func()
		}{
			{"ChannelSums", 4, func() { ChannelSums(x, 0.1) }},
			{"ChannelSumsPlanes16x1024", 4, func() { ChannelSumsPlanes(x, 16, 1024, 1024, 0.1) }},
			{"ScaleShiftReLU", 8, func() { ScaleShiftReLU(dx, x, 1.1, 0.1) }},
			{"BNBackwardReduce", 8, func() { BNBackwardReduce(dy, x, 0.2) }},
			{"BNBackwardReduceReLU", 12, func() { BNBackwardReduceReLU(dy, x, 0.2, 1.1, 0.1) }},
			{"BNBackwardApply", 12, func() { BNBackwardApply(dx, dy, x, 1, 0.5, 0.1) }},
			{"AddReLU", 12, func() { AddReLU(dx, x, dy) }},
			{"ReLUMaskGrad", 12, func() { ReLUMaskGrad(dx, dy, x) }},
		} {
			b.Run(fmt.Sprintf("%s/%s", bc.name, bnPathName[p]), func(b *testing.B) {
				b.SetBytes(int64(bc.bytes * n))
				for b.Loop() {
					bc.fn()
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/elem")
			})
		}
		restore()
	}
}
