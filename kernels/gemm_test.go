package kernels

import (
	"fmt"
	"math"
	"math/rand"
	"testing"
)

type gemmCase struct{ m, n, k int }

var gemmCases = []gemmCase{
	{1, 1, 1}, {1, 1, 7}, {2, 3, 1}, {7, 33, 5}, {17, 31, 129}, {13, 32, 64},
	{12, 32, 256}, {24, 64, 257}, {25, 65, 513}, {64, 16, 31}, {16, 1024, 144},
	{64, 100, 576}, {145, 70, 300}, {300, 17, 40}, {1, 300, 33}, {200, 1, 50},
	{150, 600, 20},
}

func randSlice(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(r.NormFloat64())
	}
	return s
}

func absSlice(s []float32) []float32 {
	o := make([]float32, len(s))
	for i, v := range s {
		o[i] = float32(math.Abs(float64(v)))
	}
	return o
}

// checkGemm runs f (Sgemm or SgemmPar) against SgemmRef for one configuration.
func checkGemm(t *testing.T, f func(bool, bool, int, int, int, float32, []float32, int, []float32, int, float32, []float32, int),
	r *rand.Rand, transA, transB bool, m, n, k, pad int, alpha, beta float32) {
	t.Helper()
	ar, ac := m, k
	if transA {
		ar, ac = k, m
	}
	br, bc := k, n
	if transB {
		br, bc = n, k
	}
	lda, ldb, ldc := ac+pad, bc+2*pad, n+3*pad
	a := randSlice(r, max(0, (ar-1)*lda+ac))
	b := randSlice(r, max(0, (br-1)*ldb+bc))
	c0 := randSlice(r, max(0, (m-1)*ldc+n))
	if beta == 0 {
		for i := range c0 {
			c0[i] = float32(math.NaN())
		}
	}
	want := append([]float32(nil), c0...)
	got := append([]float32(nil), c0...)
	SgemmRef(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, want, ldc)
	bound := make([]float32, len(c0))
	SgemmRef(transA, transB, m, n, k, 1, absSlice(a), lda, absSlice(b), ldb, 0, bound, ldc)
	f(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, got, ldc)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			x := i*ldc + j
			tol := 1e-6*float64(k+8)*float64(bound[x])*math.Abs(float64(alpha)) + 1e-5
			if beta != 0 {
				tol += 1e-6 * math.Abs(float64(beta*c0[x]))
			}
			if d := math.Abs(float64(got[x] - want[x])); !(d <= tol) {
				t.Fatalf("tA=%v tB=%v m=%d n=%d k=%d pad=%d alpha=%g beta=%g: C[%d,%d]=%g want %g (tol %g)",
					transA, transB, m, n, k, pad, alpha, beta, i, j, got[x], want[x], tol)
			}
		}
		// Padding between rows must be untouched.
		for j := n; j < ldc && i < m-1; j++ {
			x := i*ldc + j
			if math.Float32bits(got[x]) != math.Float32bits(c0[x]) {
				t.Fatalf("padding C[%d,%d] overwritten", i, j)
			}
		}
	}
}

// forEachImpl runs fn with each GEMM implementation this CPU supports forced active.
func forEachImpl(t *testing.T, fn func(t *testing.T)) {
	saved := active
	defer func() { active = saved }()
	for _, im := range impls() {
		active = im
		t.Run(im.name, fn)
	}
}

func TestSgemm(t *testing.T) {
	forEachImpl(t, func(t *testing.T) {
		r := rand.New(rand.NewSource(1))
		ab := [][2]float32{{1, 0}, {0.5, 1}, {-1.5, 0.25}}
		for _, cs := range gemmCases {
			for _, tr := range [][2]bool{{false, false}, {false, true}, {true, false}, {true, true}} {
				for vi, v := range ab {
					pad := vi * 3
					checkGemm(t, Sgemm, r, tr[0], tr[1], cs.m, cs.n, cs.k, pad, v[0], v[1])
				}
			}
		}
	})
}

func TestSgemmBig(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	forEachImpl(t, func(t *testing.T) {
		r := rand.New(rand.NewSource(2))
		for _, tr := range [][2]bool{{false, false}, {false, true}, {true, false}, {true, true}} {
			checkGemm(t, Sgemm, r, tr[0], tr[1], 64, 1024, 576, 0, 1, 0)
			checkGemm(t, SgemmPar, r, tr[0], tr[1], 300, 700, 300, 1, 1, 0.5)
		}
	})
}

// TestSgemmBlocking shrinks the blocking parameters so every blocking path and
// ragged block runs on small shapes.
func TestSgemmBlocking(t *testing.T) {
	kc, mc, nc := gemmKC, gemmMC, gemmNC
	defer func() { gemmKC, gemmMC, gemmNC = kc, mc, nc }()
	for _, p := range [][3]int{{16, 24, 64}, {7, 13, 40}, {64, 12, 32}} {
		gemmKC, gemmMC, gemmNC = p[0], p[1], p[2]
		t.Run(fmt.Sprint(p), func(t *testing.T) {
			forEachImpl(t, func(t *testing.T) {
				r := rand.New(rand.NewSource(3))
				for _, cs := range []gemmCase{{37, 101, 53}, {100, 70, 33}, {5, 200, 100}} {
					for _, tr := range [][2]bool{{false, false}, {false, true}, {true, false}, {true, true}} {
						checkGemm(t, Sgemm, r, tr[0], tr[1], cs.m, cs.n, cs.k, 1, 0.75, 0)
						checkGemm(t, SgemmPar, r, tr[0], tr[1], cs.m, cs.n, cs.k, 2, 1, -1)
					}
				}
			})
		})
	}
}

func TestSgemmPar(t *testing.T) {
	forEachImpl(t, func(t *testing.T) {
		r := rand.New(rand.NewSource(4))
		for _, cs := range []gemmCase{{16, 48, 8192}, {64, 40, 9000}, {64, 1024, 576}, {512, 40, 300}, {3, 5, 7}, {1000, 33, 64}} {
			for _, tr := range [][2]bool{{false, false}, {false, true}, {true, false}, {true, true}} {
				checkGemm(t, SgemmPar, r, tr[0], tr[1], cs.m, cs.n, cs.k, 1, 1, 0)
				checkGemm(t, SgemmPar, r, tr[0], tr[1], cs.m, cs.n, cs.k, 0, -0.5, 2)
			}
		}
	})
}

func TestSgemmEdge(t *testing.T) {
	// k == 0: C = beta*C; beta == 0 clears NaN garbage.
	c := []float32{float32(math.NaN()), 2}
	Sgemm(false, false, 1, 2, 0, 1, nil, 1, nil, 2, 0, c, 2)
	if c[0] != 0 || c[1] != 0 {
		t.Fatalf("k=0 beta=0: %v", c)
	}
	c = []float32{1, 2}
	SgemmPar(false, false, 1, 2, 0, 1, nil, 1, nil, 2, 3, c, 2)
	if c[0] != 3 || c[1] != 6 {
		t.Fatalf("k=0 beta=3: %v", c)
	}
	// m == 0 / n == 0 are no-ops.
	Sgemm(false, false, 0, 5, 5, 1, nil, 5, make([]float32, 25), 5, 0, nil, 5)
	Sgemm(false, false, 5, 0, 5, 1, make([]float32, 25), 5, nil, 1, 0, nil, 1)
	// alpha == 0 with beta == 0 zeroes C.
	c = []float32{float32(math.NaN())}
	Sgemm(false, false, 1, 1, 1, 0, []float32{1}, 1, []float32{1}, 1, 0, c, 1)
	if c[0] != 0 {
		t.Fatalf("alpha=0: %v", c)
	}
}

func TestSgemmPanicsOnShortSlices(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("no panic")
		}
	}()
	Sgemm(false, false, 2, 2, 2, 1, make([]float32, 3), 2, make([]float32, 4), 2, 0, make([]float32, 4), 2)
}
