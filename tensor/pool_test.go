package tensor_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/siam-ssl/siam/tensor"
	"github.com/siam-ssl/siam/tensor/tensortest"
)

// distinctRand returns a tensor whose values are a shuffled ladder 0.05 apart, so
// max-pool argmaxes do not change under a finite-difference step.
func distinctRand(seed uint64, shape ...int) *tensor.Tensor {
	t := tensor.New(shape...)
	rng := rand.New(rand.NewPCG(seed, 5))
	for i, p := range rng.Perm(len(t.Data)) {
		t.Data[i] = 0.05*float32(p) - 0.025*float32(len(t.Data))
	}
	t.SetRequiresGrad(true)
	return t
}

// refPool is the direct max or average pool in float64.
func refPool(x *tensor.Tensor, k, stride, pad int, isMax bool) []float64 {
	s := x.Shape()
	n, c, h, w := s[0], s[1], s[2], s[3]
	ho, wo := (h+2*pad-k)/stride+1, (w+2*pad-k)/stride+1
	out := make([]float64, 0, n*c*ho*wo)
	for pl := 0; pl < n*c; pl++ {
		for oy := 0; oy < ho; oy++ {
			for ox := 0; ox < wo; ox++ {
				best, sum := math.Inf(-1), 0.0
				for ky := 0; ky < k; ky++ {
					for kx := 0; kx < k; kx++ {
						iy, ix := oy*stride+ky-pad, ox*stride+kx-pad
						if iy < 0 || iy >= h || ix < 0 || ix >= w {
							continue
						}
						v := float64(x.Data[(pl*h+iy)*w+ix])
						best = math.Max(best, v)
						sum += v
					}
				}
				if isMax {
					out = append(out, best)
				} else {
					out = append(out, sum/float64(k*k))
				}
			}
		}
	}
	return out
}

var poolCases = []struct{ n, c, h, w, k, stride, pad int }{
	{2, 3, 8, 8, 2, 2, 0},
	{1, 2, 9, 7, 3, 2, 1}, // ResNet stem max pool, non-square
	{2, 2, 6, 6, 3, 1, 1},
	{1, 1, 5, 5, 5, 1, 0},
	{1, 2, 7, 7, 4, 3, 2},
}

func TestMaxPool2d(t *testing.T) {
	for _, pc := range poolCases {
		t.Run(fmt.Sprint(pc), func(t *testing.T) {
			x := distinctRand(1, pc.n, pc.c, pc.h, pc.w)
			g := tensor.NewGraph()
			g.SetNoGrad(true)
			out := g.MaxPool2d(x, pc.k, pc.stride, pc.pad)
			if err := g.Err(); err != nil {
				t.Fatal(err)
			}
			closeTo(t, "out", out.Data, refPool(x, pc.k, pc.stride, pc.pad, true), 1e-6)
			tensortest.CheckGrad(t, func(g *tensor.Graph, in []*tensor.Tensor) *tensor.Tensor {
				return g.MaxPool2d(in[0], pc.k, pc.stride, pc.pad)
			}, []*tensor.Tensor{x}, tensortest.Options{Eps: 1e-3})
		})
	}
}

func TestAvgPool2d(t *testing.T) {
	for _, pc := range poolCases {
		t.Run(fmt.Sprint(pc), func(t *testing.T) {
			x := tensortest.Rand(2, pc.n, pc.c, pc.h, pc.w)
			g := tensor.NewGraph()
			g.SetNoGrad(true)
			out := g.AvgPool2d(x, pc.k, pc.stride, pc.pad)
			if err := g.Err(); err != nil {
				t.Fatal(err)
			}
			closeTo(t, "out", out.Data, refPool(x, pc.k, pc.stride, pc.pad, false), 1e-6)
			tensortest.CheckGrad(t, func(g *tensor.Graph, in []*tensor.Tensor) *tensor.Tensor {
				return g.AvgPool2d(in[0], pc.k, pc.stride, pc.pad)
			}, []*tensor.Tensor{x}, tensortest.Options{})
		})
	}
}

func TestGlobalAvgPool(t *testing.T) {
	x := tensortest.Rand(3, 2, 3, 4, 5)
	g := tensor.NewGraph()
	out := g.GlobalAvgPool(x)
	if err := g.Err(); err != nil {
		t.Fatal(err)
	}
	if s := out.Shape(); len(s) != 2 || s[0] != 2 || s[1] != 3 {
		t.Fatalf("shape %v", s)
	}
	want := make([]float64, 6)
	for i := range want {
		for _, v := range x.Data[i*20 : (i+1)*20] {
			want[i] += float64(v) / 20
		}
	}
	closeTo(t, "out", out.Data, want, 1e-6)
	tensortest.CheckGrad(t, func(g *tensor.Graph, in []*tensor.Tensor) *tensor.Tensor {
		return g.GlobalAvgPool(in[0])
	}, []*tensor.Tensor{x}, tensortest.Options{})
}

func TestPoolErrors(t *testing.T) {
	for _, tc := range []struct {
		name           string
		shape          []int
		k, stride, pad int
		want           string
	}{
		{"rank", []int{2, 8, 8}, 2, 2, 0, "rank"},
		{"kernel", []int{1, 1, 3, 3}, 5, 1, 0, "larger"},
		{"stride", []int{1, 1, 8, 8}, 2, 0, 0, "stride"},
		{"pad", []int{1, 1, 8, 8}, 2, 2, 2, "padding"},
	} {
		for _, op := range []string{"maxpool2d", "avgpool2d"} {
			g := tensor.NewGraph()
			x := tensor.New(tc.shape...)
			if op == "maxpool2d" {
				g.MaxPool2d(x, tc.k, tc.stride, tc.pad)
			} else {
				g.AvgPool2d(x, tc.k, tc.stride, tc.pad)
			}
			if g.Err() == nil || !strings.Contains(g.Err().Error(), op) || !strings.Contains(g.Err().Error(), tc.want) ||
				!strings.Contains(g.Err().Error(), fmt.Sprint(tc.shape)) {
				t.Errorf("%s %s: error %v", op, tc.name, g.Err())
			}
		}
	}
	g := tensor.NewGraph()
	g.GlobalAvgPool(tensor.New(2, 3))
	if g.Err() == nil || !strings.Contains(g.Err().Error(), "globalavgpool") {
		t.Errorf("globalavgpool: error %v", g.Err())
	}
}
