package tensor_test

import (
	"math"
	"strings"
	"testing"

	"github.com/siam-ssl/siam/tensor"
	"github.com/siam-ssl/siam/tensor/tensortest"
)

// bnRef is a float64 reference batch norm over x [N,C,S...] with batch (training)
// statistics: it returns the output, the per-channel mean and the biased variance.
func bnRef(x []float32, shape []int, w, b []float32, eps float64, relu bool) (out, mean, bvar []float64) {
	n, c := shape[0], shape[1]
	s := len(x) / (n * c)
	m := float64(n * s)
	mean, bvar = make([]float64, c), make([]float64, c)
	for ch := range c {
		for i := range n {
			for k := range s {
				mean[ch] += float64(x[(i*c+ch)*s+k])
			}
		}
		mean[ch] /= m
		for i := range n {
			for k := range s {
				d := float64(x[(i*c+ch)*s+k]) - mean[ch]
				bvar[ch] += d * d
			}
		}
		bvar[ch] /= m
	}
	out = bnApplyRef(x, shape, mean, bvar, w, b, eps, relu)
	return out, mean, bvar
}

// bnApplyRef normalises x with the given per-channel mean and variance in float64.
func bnApplyRef(x []float32, shape []int, mean, vr []float64, w, b []float32, eps float64, relu bool) []float64 {
	n, c := shape[0], shape[1]
	s := len(x) / (n * c)
	out := make([]float64, len(x))
	for i := range n {
		for ch := range c {
			for k := range s {
				j := (i*c+ch)*s + k
				y := (float64(x[j]) - mean[ch]) / math.Sqrt(vr[ch]+eps)
				if w != nil {
					y *= float64(w[ch])
				}
				if b != nil {
					y += float64(b[ch])
				}
				if relu && y < 0 {
					y = 0
				}
				out[j] = y
			}
		}
	}
	return out
}

func bnSeq(n int, f func(i int) float32) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = f(i)
	}
	return v
}

// newBN returns a BatchNorm with c channels, affine or not, running stats
// initialised to non-trivial values.
func newBN(c int, affine bool) *tensor.BatchNorm {
	bn := &tensor.BatchNorm{Momentum: 0.1, Eps: 1e-5, Training: true}
	if affine {
		bn.Weight = tensor.NewParam("w", c)
		bn.Bias = tensor.NewParam("b", c)
		copy(bn.Weight.Data, bnSeq(c, func(i int) float32 { return 0.5 + 0.25*float32(i) }))
		copy(bn.Bias.Data, bnSeq(c, func(i int) float32 { return 0.1*float32(i) - 0.2 }))
	}
	bn.RunningMean = tensor.New(c)
	bn.RunningVar = tensor.New(c)
	copy(bn.RunningMean.Data, bnSeq(c, func(i int) float32 { return 0.05 * float32(i) }))
	copy(bn.RunningVar.Data, bnSeq(c, func(i int) float32 { return 1 + 0.5*float32(i) }))
	return bn
}

func bnClose(t *testing.T, what string, got []float32, want []float64, atol, rtol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	for i := range got {
		if d := math.Abs(float64(got[i]) - want[i]); d > atol+rtol*math.Abs(want[i]) || math.IsNaN(float64(got[i])) {
			t.Fatalf("%s[%d] = %.8g, want %.8g", what, i, got[i], want[i])
		}
	}
}

// The last two are large enough to be split across workers.
var bnShapes = [][]int{{4, 3}, {7, 5}, {4, 3, 5}, {2, 3, 4, 5}, {3, 2, 7, 9}, {2, 4, 1, 1}, {5, 2, 33, 40}, {8, 6, 32, 32}, {4096, 8}}

func TestBatchNormTrainForward(t *testing.T) {
	for _, shape := range bnShapes {
		for _, affine := range []bool{true, false} {
			for _, relu := range []bool{false, true} {
				for _, offset := range []float32{0, 1000} {
					c := shape[1]
					x := tensortest.Rand(3, shape...)
					for i := range x.Data {
						x.Data[i] = x.Data[i]*(1+0.5*float32(i%c)) + offset
					}
					bn := newBN(c, affine)
					rm0, rv0 := bn.RunningMean.Clone(), bn.RunningVar.Clone()
					g := tensor.NewGraph()
					var y *tensor.Tensor
					if relu {
						y = g.BatchNormReLU(x, bn)
					} else {
						y = g.BatchNorm(x, bn)
					}
					if err := g.Err(); err != nil {
						t.Fatal(err)
					}
					var w, b []float32
					if affine {
						w, b = bn.Weight.Data, bn.Bias.Data
					}
					want, mean, bvar := bnRef(x.Data, shape, w, b, 1e-5, relu)
					name := func(s string) string {
						return strings.Join([]string{s, tensor.New(shape...).String()}, " ")
					}
					// A 1000 offset costs float32 resolution in x itself (6e-5).
					tol := 2e-5
					if offset != 0 {
						tol = 2e-3
					}
					bnClose(t, name("output"), y.Data, want, tol, tol)
					m := float64(len(x.Data) / c)
					wantRM, wantRV := make([]float64, c), make([]float64, c)
					for ch := range c {
						wantRM[ch] = 0.9*float64(rm0.Data[ch]) + 0.1*mean[ch]
						wantRV[ch] = 0.9*float64(rv0.Data[ch]) + 0.1*bvar[ch]*m/(m-1)
					}
					bnClose(t, name("running mean"), bn.RunningMean.Data, wantRM, 1e-5, 1e-5)
					bnClose(t, name("running var"), bn.RunningVar.Data, wantRV, 1e-5, 1e-5)
					if bn.NumBatchesTracked != 1 {
						t.Fatalf("NumBatchesTracked = %d, want 1", bn.NumBatchesTracked)
					}
				}
			}
		}
	}
}

func TestBatchNormEvalForward(t *testing.T) {
	for _, shape := range append(bnShapes, []int{1, 3}, []int{1, 2, 1, 1}) {
		for _, relu := range []bool{false, true} {
			c := shape[1]
			x := tensortest.Rand(5, shape...)
			bn := newBN(c, true)
			bn.Training = false
			rm0, rv0 := bn.RunningMean.Clone(), bn.RunningVar.Clone()
			g := tensor.NewGraph()
			var y *tensor.Tensor
			if relu {
				y = g.BatchNormReLU(x, bn)
			} else {
				y = g.BatchNorm(x, bn)
			}
			if err := g.Err(); err != nil {
				t.Fatal(err)
			}
			mean, vr := make([]float64, c), make([]float64, c)
			for ch := range c {
				mean[ch], vr[ch] = float64(rm0.Data[ch]), float64(rv0.Data[ch])
			}
			want := bnApplyRef(x.Data, shape, mean, vr, bn.Weight.Data, bn.Bias.Data, 1e-5, relu)
			bnClose(t, "eval output", y.Data, want, 1e-5, 1e-5)
			for ch := range c {
				if bn.RunningMean.Data[ch] != rm0.Data[ch] || bn.RunningVar.Data[ch] != rv0.Data[ch] {
					t.Fatal("eval mode changed the running statistics")
				}
			}
			if bn.NumBatchesTracked != 0 {
				t.Fatalf("eval mode counted a batch: %d", bn.NumBatchesTracked)
			}
		}
	}
}

// PyTorch updates the running statistics whenever the module trains, also under
// no_grad.
func TestBatchNormNoGradUpdatesRunningStats(t *testing.T) {
	x := tensortest.Rand(1, 8, 2, 3, 3)
	bn := newBN(2, true)
	rm0 := bn.RunningMean.Clone()
	g := tensor.NewGraph()
	g.SetNoGrad(true)
	for range 2 {
		g.BatchNorm(x, bn)
	}
	if err := g.Err(); err != nil {
		t.Fatal(err)
	}
	if bn.NumBatchesTracked != 2 || bn.RunningMean.Data[1] == rm0.Data[1] {
		t.Fatalf("running statistics not updated under no-grad: %d batches, mean %v", bn.NumBatchesTracked, bn.RunningMean.Data)
	}
	_, mean, _ := bnRef(x.Data, x.Shape(), nil, nil, 1e-5, false)
	for ch := range 2 {
		want := 0.81*float64(rm0.Data[ch]) + (0.9*0.1+0.1)*mean[ch]
		if d := math.Abs(float64(bn.RunningMean.Data[ch]) - want); d > 1e-6 {
			t.Fatalf("running mean[%d] after two batches = %v, want %v", ch, bn.RunningMean.Data[ch], want)
		}
	}
}

// Without running statistics (track_running_stats=False) both modes use the batch.
func TestBatchNormNoRunningStats(t *testing.T) {
	for _, training := range []bool{true, false} {
		x := tensortest.Rand(2, 4, 3, 5)
		bn := &tensor.BatchNorm{Eps: 1e-5, Momentum: 0.1, Training: training}
		g := tensor.NewGraph()
		y := g.BatchNorm(x, bn)
		if err := g.Err(); err != nil {
			t.Fatal(err)
		}
		want, _, _ := bnRef(x.Data, x.Shape(), nil, nil, 1e-5, false)
		bnClose(t, "output", y.Data, want, 2e-5, 2e-5)
		if bn.NumBatchesTracked != 0 {
			t.Fatal("counted a batch without running statistics")
		}
	}
}

// bnFunc builds a gradient-check function: in[0] is x, in[1] and in[2] (when
// present) weight and bias; running statistics are fresh on every call so
// repeated evaluations see the same state.
func bnFunc(training, relu bool) tensortest.Func {
	return func(g *tensor.Graph, in []*tensor.Tensor) *tensor.Tensor {
		c := in[0].Dim(1)
		bn := newBN(c, false)
		bn.Training = training
		bn.Eps = 1e-3
		if len(in) > 1 {
			bn.Weight = in[1]
		}
		if len(in) > 2 {
			bn.Bias = in[2]
		}
		if relu {
			return g.BatchNormReLU(in[0], bn)
		}
		return g.BatchNorm(in[0], bn)
	}
}

func TestBatchNormGrad(t *testing.T) {
	shapes := [][]int{{6, 3}, {4, 3, 5}, {4, 2, 3, 3}, {5, 2, 1, 1}}
	for _, shape := range shapes {
		for _, training := range []bool{true, false} {
			for _, relu := range []bool{false, true} {
				for _, affine := range []bool{true, false} {
					c := shape[1]
					x := tensortest.Rand(7, shape...)
					in := []*tensor.Tensor{x}
					if affine {
						w := tensortest.Rand(8, c)
						for i := range w.Data {
							w.Data[i] = 0.5 + 0.5*float32(i) // keep the scale positive and varied
						}
						in = append(in, w, tensortest.Rand(9, c))
					}
					t.Logf("shape %v training %v relu %v affine %v", shape, training, relu, affine)
					tensortest.CheckGrad(t, bnFunc(training, relu), in, tensortest.Options{Eps: 1e-3, RTol: 2e-2, ATol: 3e-3, MaxChecks: 100})
				}
			}
		}
	}
}

// Shapes large enough to run on several workers. (BatchNormReLU at this size is
// covered by TestBatchNormReLUMatchesReLUOfBatchNorm: with thousands of values per
// channel, finite differences of the weight cross the ReLU kink often enough to be
// off by a few percent.)
func TestBatchNormGradParallel(t *testing.T) {
	for _, shape := range [][]int{{8, 6, 32, 32}, {4096, 8}} {
		for _, training := range []bool{true, false} {
			x := tensortest.Rand(31, shape...)
			w, b := tensortest.Rand(32, shape[1]), tensortest.Rand(33, shape[1])
			tensortest.CheckGrad(t, bnFunc(training, false), []*tensor.Tensor{x, w, b}, tensortest.Options{Eps: 1e-3, ATol: 3e-3, MaxChecks: 24})
		}
	}
}

// The accumulate path: x feeds two batch norms, so its gradient buffer already
// holds the first one's gradient when the second adds to it.
func TestBatchNormGradAccumulates(t *testing.T) {
	x := tensortest.Rand(11, 4, 3, 2, 3)
	w := tensortest.Rand(12, 3)
	tensortest.CheckGrad(t, func(g *tensor.Graph, in []*tensor.Tensor) *tensor.Tensor {
		bn := bnFunc(true, false)
		bnr := bnFunc(true, true)
		return g.AddReLU(bn(g, in), bnr(g, in))
	}, []*tensor.Tensor{x, w}, tensortest.Options{Eps: 1e-3, ATol: 3e-3})
}

func TestBatchNormReLUMatchesReLUOfBatchNorm(t *testing.T) {
	for _, shape := range [][]int{{8, 4}, {4, 3, 7}, {4, 5, 6, 6}, {8, 6, 32, 32}, {4096, 8}} {
		for _, training := range []bool{true, false} {
			c := shape[1]
			run := func(fused bool) (y, gx, gw, gb []float32) {
				x := tensortest.Rand(21, shape...)
				bn := newBN(c, true)
				bn.Training = training
				g := tensor.NewGraph()
				var out *tensor.Tensor
				if fused {
					out = g.BatchNormReLU(x, bn)
				} else {
					out = g.ReLU(g.BatchNorm(x, bn))
				}
				seed := tensortest.Rand(22, shape...).Data
				if err := g.BackwardWith(out, seed); err != nil {
					t.Fatal(err)
				}
				return out.Data, x.Grad, bn.Weight.Grad, bn.Bias.Grad
			}
			y1, gx1, gw1, gb1 := run(true)
			y2, gx2, gw2, gb2 := run(false)
			for _, p := range []struct {
				name string
				a, b []float32
			}{{"output", y1, y2}, {"x grad", gx1, gx2}, {"weight grad", gw1, gw2}, {"bias grad", gb1, gb2}} {
				want := make([]float64, len(p.b))
				for i, v := range p.b {
					want[i] = float64(v)
				}
				bnClose(t, p.name, p.a, want, 1e-5, 1e-5)
			}
		}
	}
}

func TestBatchNormErrors(t *testing.T) {
	cases := []struct {
		name  string
		x     []int
		bn    func() *tensor.BatchNorm
		relu  bool
		wants []string
	}{
		{"weight channels", []int{4, 3, 2, 2}, func() *tensor.BatchNorm { bn := newBN(3, true); bn.Weight = tensor.New(5); return bn }, false,
			[]string{"batchnorm:", "[4 3 2 2]", "[5]", "weight"}},
		{"bias channels", []int{4, 3}, func() *tensor.BatchNorm { bn := newBN(3, true); bn.Bias = tensor.New(2); return bn }, true,
			[]string{"batchnorm_relu:", "[4 3]", "[2]", "bias"}},
		{"running stats channels", []int{4, 3, 5}, func() *tensor.BatchNorm { return newBN(4, false) }, false,
			[]string{"batchnorm:", "[4 3 5]", "[4]", "running mean"}},
		{"running var only", []int{4, 3}, func() *tensor.BatchNorm { bn := newBN(3, false); bn.RunningMean = nil; return bn }, false,
			[]string{"batchnorm:", "[4 3]", "both"}},
		{"rank 1", []int{6}, func() *tensor.BatchNorm { return newBN(6, false) }, false,
			[]string{"batchnorm:", "[6]", "rank 1"}},
		{"single value 1d", []int{1, 3}, func() *tensor.BatchNorm { return newBN(3, true) }, false,
			[]string{"batchnorm:", "[1 3]", "more than 1 value per channel"}},
		{"single value 2d", []int{1, 3, 1, 1}, func() *tensor.BatchNorm { return newBN(3, true) }, true,
			[]string{"batchnorm_relu:", "[1 3 1 1]", "more than 1 value per channel"}},
		{"nil state", []int{2, 3}, func() *tensor.BatchNorm { return nil }, false, []string{"batchnorm:", "nil"}},
	}
	for _, tc := range cases {
		g := tensor.NewGraph()
		x := tensortest.Rand(1, tc.x...)
		var y *tensor.Tensor
		if tc.relu {
			y = g.BatchNormReLU(x, tc.bn())
		} else {
			y = g.BatchNorm(x, tc.bn())
		}
		err := g.Err()
		if err == nil || y.Numel() != 0 {
			t.Fatalf("%s: want an error and a dead tensor, got %v", tc.name, err)
		}
		for _, w := range tc.wants {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not mention %q", tc.name, err, w)
			}
		}
	}
	// A nil input is an error too, not a panic.
	g := tensor.NewGraph()
	g.BatchNorm(nil, newBN(3, true))
	if g.Err() == nil {
		t.Fatal("nil input: no error")
	}
}
