// Package tensortest checks the engine's analytic gradients against finite
// differences, for the tests of every op and layer (the engine's analogue of
// net/http/httptest).
package tensortest

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/siam-ssl/siam/tensor"
)

// Func builds an output from the inputs on g; CheckGrad calls it many times.
type Func func(g *tensor.Graph, in []*tensor.Tensor) *tensor.Tensor

// Options tunes CheckGrad. Zero values pick the defaults in brackets.
type Options struct {
	Eps       float64 // finite-difference step, relative to max(1,|x|) [1e-2]
	RTol      float64 // relative tolerance [2e-2]
	ATol      float64 // absolute tolerance, relative to the largest gradient [2e-3]
	MaxChecks int     // elements checked per input, spread evenly [64]
	Seed      uint64  // seed of the random projection of the output [1]
}

// CheckGrad compares the gradients that Backward computes for every input with
// RequiresGrad against central finite differences of the scalar objective
// L = sum_i r_i * out_i, with fixed random r and L accumulated in float64.
func CheckGrad(t testing.TB, f Func, in []*tensor.Tensor, o Options) {
	t.Helper()
	if err := checkGrad(f, in, o); err != nil {
		t.Fatal(err)
	}
}

func checkGrad(f Func, in []*tensor.Tensor, o Options) error {
	if o.Eps == 0 {
		o.Eps = 1e-2
	}
	if o.RTol == 0 {
		o.RTol = 2e-2
	}
	if o.ATol == 0 {
		o.ATol = 2e-3
	}
	if o.MaxChecks == 0 {
		o.MaxChecks = 64
	}
	if o.Seed == 0 {
		o.Seed = 1
	}
	for _, x := range in {
		x.ZeroGrad()
		x.Grad = nil
		if x.IsParam() {
			x.Grad = make([]float32, x.Numel())
		}
	}
	g := tensor.NewGraph()
	out := f(g, in)
	if err := g.Err(); err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(o.Seed, 7))
	r := make([]float32, out.Numel())
	for i := range r {
		r[i] = float32(rng.NormFloat64())
	}
	if err := g.BackwardWith(out, r); err != nil {
		return err
	}
	analytic := make([][]float32, len(in))
	for i, x := range in {
		if x.RequiresGrad() {
			if x.Grad == nil {
				analytic[i] = make([]float32, x.Numel())
			} else {
				analytic[i] = append([]float32(nil), x.Grad...)
			}
		}
	}
	objective := func() (float64, error) {
		g := tensor.NewGraph()
		g.SetNoGrad(true)
		out := f(g, in)
		if err := g.Err(); err != nil {
			return 0, err
		}
		var s float64
		for i, v := range out.Data {
			s += float64(r[i]) * float64(v)
		}
		return s, nil
	}
	for i, x := range in {
		if analytic[i] == nil {
			continue
		}
		var scale float64
		for _, v := range analytic[i] {
			scale = math.Max(scale, math.Abs(float64(v)))
		}
		n := x.Numel()
		stride := 1
		if n > o.MaxChecks {
			stride = n / o.MaxChecks
		}
		for j := 0; j < n; j += stride {
			orig := x.Data[j]
			h := o.Eps * math.Max(1, math.Abs(float64(orig)))
			x.Data[j] = float32(float64(orig) + h)
			hp := float64(x.Data[j]) - float64(orig)
			lp, err := objective()
			if err != nil {
				return err
			}
			x.Data[j] = float32(float64(orig) - h)
			hm := float64(orig) - float64(x.Data[j])
			lm, err := objective()
			x.Data[j] = orig
			if err != nil {
				return err
			}
			num := (lp - lm) / (hp + hm)
			a := float64(analytic[i][j])
			if math.Abs(a-num) > o.ATol*math.Max(scale, 1e-3)+o.RTol*math.Max(math.Abs(a), math.Abs(num)) {
				return fmt.Errorf("input %d %v element %d: analytic gradient %.6g, finite difference %.6g", i, x, j, a, num)
			}
		}
	}
	return nil
}

// Rand returns a tensor of the given shape with N(0,1) values from a seeded source,
// marked as requiring a gradient.
func Rand(seed uint64, shape ...int) *tensor.Tensor {
	t := tensor.New(shape...)
	rng := rand.New(rand.NewPCG(seed, 11))
	for i := range t.Data {
		t.Data[i] = float32(rng.NormFloat64())
	}
	t.SetRequiresGrad(true)
	return t
}
