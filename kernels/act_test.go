package kernels

import (
	"math"
	"os"
	"regexp"
	"strconv"
	"testing"
)

// actGrid returns n points spread over [lo, hi] (not evenly: a fixed irrational
// stride so the points do not line up with the polynomials' breakpoints).
func actGrid(lo, hi float64, n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		f := math.Mod(float64(i)*0.6180339887498949, 1)
		x[i] = float32(lo + (hi-lo)*(float64(i)+f)/float64(n))
	}
	return x
}

func geluRef(x float64) float64 { return 0.5 * x * (1 + math.Erf(x/math.Sqrt2)) }

func geluGradRef(x float64) float64 {
	return 0.5*(1+math.Erf(x/math.Sqrt2)) + x*math.Exp(-0.5*x*x)/math.Sqrt(2*math.Pi)
}

// actPaths runs f with the exported function (the vector kernel where the CPU has
// one, Go for the tail) and with the pure-Go path.
var actPaths = []struct {
	name string
	exp  func(dst, src []float32, shift float32) float32
	gelu func(dst, src []float32)
	grad func(dx, dy, x []float32, acc bool)
}{
	{"dispatch", ExpShift, GELU, GELUGrad},
	{"go", expShiftGo, geluGo, geluGradGo},
}

func TestExpShift(t *testing.T) {
	for _, p := range actPaths {
		t.Run(p.name, func(t *testing.T) {
			for _, n := range []int{0, 1, 15, 16, 17, 63, 64, 65, 100003} {
				src := actGrid(-87, 80, n) // the sum stays finite
				dst := make([]float32, n)
				s := p.exp(dst, src, 0)
				var want, worst float64
				for i, v := range src {
					w := math.Exp(float64(v))
					want += w
					worst = math.Max(worst, math.Abs(float64(dst[i])-w)/w)
				}
				if worst > 2.5e-7 {
					t.Errorf("n=%d: max relative error %.3g > 2.5e-7", n, worst)
				}
				if n > 0 && math.Abs(float64(s)-want) > 1e-6*want {
					t.Errorf("n=%d: sum %g, want %g", n, s, want)
				}
			}
			// A shifted softmax row, in place: dst aliases src.
			row := actGrid(-20, 5, 65)
			ref := make([]float64, len(row))
			for i, v := range row {
				ref[i] = math.Exp(float64(v - 5)) // the float32 difference, as ExpShift forms it
			}
			p.exp(row, row, 5)
			for i, v := range row {
				if math.Abs(float64(v)-ref[i]) > 2.5e-7*ref[i] {
					t.Fatalf("in place: %g, want %g", v, ref[i])
				}
			}
		})
	}
}

func TestExpShiftEdges(t *testing.T) {
	for _, p := range actPaths {
		t.Run(p.name, func(t *testing.T) {
			nan := float32(math.NaN())
			in := []float32{-88, -100, -104, -200, float32(math.Inf(-1)), 88.5, 89, 200, float32(math.Inf(1)), nan, 0, 1}
			src := make([]float32, 32) // the edge values in the vector part and in the tail
			copy(src, in)
			copy(src[20:], in)
			dst := make([]float32, len(src))
			p.exp(dst, src, 0)
			for _, off := range []int{0, 20} {
				got := dst[off : off+len(in)]
				for i, v := range in[:4] {
					w := math.Exp(float64(v))
					if g := float64(got[i]); g < 0 || math.Abs(g-w) > 1e-7*w+1.5e-45 {
						t.Errorf("exp(%g) = %g, want %g", v, g, w)
					}
				}
				if got[4] != 0 || got[7] != float32(math.Inf(1)) || got[8] != float32(math.Inf(1)) {
					t.Errorf("exp(-Inf), exp(200), exp(+Inf) = %g, %g, %g", got[4], got[7], got[8])
				}
				if w := math.Exp(88.5); math.Abs(float64(got[5])-w) > 2.5e-7*w {
					t.Errorf("exp(88.5) = %g, want %g", got[5], w)
				}
				if !math.IsInf(float64(got[6]), 1) {
					t.Errorf("exp(89) = %g, want +Inf (overflows float32)", got[6])
				}
				if got[9] == got[9] {
					t.Errorf("exp(NaN) = %g, want NaN", got[9])
				}
				if got[10] != 1 {
					t.Errorf("exp(0) = %g", got[10])
				}
			}
		})
	}
}

func TestMax(t *testing.T) {
	nan := float32(math.NaN())
	for _, n := range []int{0, 1, 5, 16, 17, 64, 65, 130} {
		x := actGrid(-3, 3, n)
		want := float32(math.Inf(-1))
		for _, v := range x {
			want = max(want, v)
		}
		if got := Max(x); got != want {
			t.Errorf("n=%d: Max %g, want %g", n, got, want)
		}
		for i := range x { // NaNs anywhere are ignored
			if i%3 == 0 {
				x[i] = nan
			}
		}
		want = float32(math.Inf(-1))
		for _, v := range x {
			if v == v {
				want = max(want, v)
			}
		}
		if got := Max(x); got != want {
			t.Errorf("n=%d with NaNs: Max %g, want %g", n, got, want)
		}
	}
	if got := Max([]float32{nan, nan}); !math.IsInf(float64(got), -1) {
		t.Errorf("Max of all NaN = %g, want -Inf", got)
	}
}

func TestGELU(t *testing.T) {
	for _, p := range actPaths {
		t.Run(p.name, func(t *testing.T) {
			for _, n := range []int{1, 16, 47, 64, 200001} {
				x := actGrid(-12, 12, n)
				y := make([]float32, n)
				p.gelu(y, x)
				dy := actGrid(-2, 2, n)
				dx := make([]float32, n)
				p.grad(dx, dy, x, false)
				acc := make([]float32, n)
				for i := range acc {
					acc[i] = 0.25
				}
				p.grad(acc, dy, x, true)
				var ey, ed float64
				for i, v := range x {
					xv := float64(v)
					s := math.Max(1, math.Abs(xv))
					ey = math.Max(ey, math.Abs(float64(y[i])-geluRef(xv))/s)
					w := float64(dy[i]) * geluGradRef(xv)
					ed = math.Max(ed, math.Abs(float64(dx[i])-w)/math.Max(1, math.Abs(w)))
					if d := float64(acc[i]) - 0.25 - float64(dx[i]); math.Abs(d) > 1.2e-7*math.Max(1, math.Abs(float64(dx[i]))) {
						t.Fatalf("n=%d: accumulating GELUGrad differs from overwriting by %g at x=%g", n, d, v)
					}
				}
				if ey > 5e-7 || ed > 5e-7 {
					t.Errorf("n=%d: GELU error %.3g, GELU' error %.3g (limit 5e-7 relative to max(1,|.|))", n, ey, ed)
				}
			}
			// In place and NaN propagation.
			x := actGrid(-3, 3, 40)
			x[3], x[33] = float32(math.NaN()), float32(math.NaN())
			p.gelu(x, x)
			if x[3] == x[3] || x[33] == x[33] {
				t.Errorf("GELU(NaN) = %g, %g, want NaN", x[3], x[33])
			}
			g := make([]float32, 40)
			p.grad(g, actGrid(1, 2, 40), x, false)
			if g[3] == g[3] || g[33] == g[33] {
				t.Errorf("GELU'(NaN) = %g, %g, want NaN", g[3], g[33])
			}
		})
	}
}

// TestActConstantsMatchGenerator checks that the constants the assembly generator
// writes into its table are kernels/act.go's.
func TestActConstantsMatchGenerator(t *testing.T) {
	src, err := os.ReadFile("internal/asmgen/act/main.go")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{
		"expLog2e": expLog2e, "expLn2Hi": expLn2Hi, "expLn2Lo": expLn2Lo,
		"expC0": expC0, "expC1": expC1, "expC2": expC2, "expC3": expC3, "expC4": expC4, "expC5": expC5,
		"expLo": expLo, "expHi": expHi, "erfClamp": erfClamp, "merfClamp": -erfClamp,
		"erfP0": erfP0, "erfP1": erfP1, "erfP2": erfP2, "erfP3": erfP3, "erfP4": erfP4, "erfP5": erfP5, "erfP6": erfP6,
		"erfQ0": erfQ0, "erfQ1": erfQ1, "erfQ2": erfQ2, "erfQ3": erfQ3, "erfQ4": erfQ4,
		"invSqrt2": invSqrt2, "invSqrt2Pi": invSqrt2Pi, "half": 0.5, "one": 1, "mhalf": -0.5,
	}
	re := regexp.MustCompile(`\{"(\w+)", ([-+0-9.eE]+)\}`)
	seen := map[string]bool{}
	for _, m := range re.FindAllStringSubmatch(string(src), -1) {
		v, err := strconv.ParseFloat(m[2], 64)
		if err != nil {
			t.Fatalf("%s: %v", m[1], err)
		}
		w, ok := want[m[1]]
		if !ok {
			t.Errorf("generator constant %s is not in act.go", m[1])
			continue
		}
		if float32(v) != float32(w) {
			t.Errorf("%s: generator %v, act.go %v", m[1], v, w)
		}
		seen[m[1]] = true
	}
	for k := range want {
		if !seen[k] {
			t.Errorf("constant %s missing from the generator's table", k)
		}
	}
}

func BenchmarkGELU(b *testing.B) {
	x := actGrid(-5, 5, 1<<16)
	y := make([]float32, len(x))
	b.SetBytes(int64(8 * len(x)))
	for b.Loop() {
		GELU(y, x)
	}
}

func BenchmarkGELUGrad(b *testing.B) {
	x := actGrid(-5, 5, 1<<16)
	dy := actGrid(-1, 1, len(x))
	dx := make([]float32, len(x))
	b.SetBytes(int64(12 * len(x)))
	for b.Loop() {
		GELUGrad(dx, dy, x, false)
	}
}

func BenchmarkExpShift(b *testing.B) {
	x := actGrid(-20, 0, 1<<16)
	y := make([]float32, len(x))
	b.SetBytes(int64(8 * len(x)))
	for b.Loop() {
		ExpShift(y, x, 0)
	}
}
