package kernels

import (
	"fmt"
	"math"
	"math/rand"
	"testing"
)

// checkPacked runs SgemmPackedA (and SgemmPackedAFunc with a plain packer) through
// checkGemm's oracle comparison.
func packedGemm(fn bool) func(bool, bool, int, int, int, float32, []float32, int, []float32, int, float32, []float32, int) {
	return func(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
		pa := PackA(transA, m, k, a, lda)
		defer pa.Release()
		if pa.Rows() != m || pa.Depth() != k {
			panic("PackedA dims")
		}
		if !fn {
			SgemmPackedA(pa, transB, n, alpha, b, ldb, beta, c, ldc)
			return
		}
		nr := pa.PanelWidth()
		SgemmPackedAFunc(pa, n, alpha, func(dst []float32, j0, nb, p0, kc int) {
			if len(dst) != kc*nr || nb > nr || nb < 1 {
				panic(fmt.Sprintf("bad panel request len %d nb %d kc %d", len(dst), nb, kc))
			}
			for p := 0; p < kc; p++ {
				for j := 0; j < nr; j++ {
					v := float32(math.NaN()) // unused columns: must be ignored
					if j < nb {
						if transB {
							v = b[(j0+j)*ldb+p0+p]
						} else {
							v = b[(p0+p)*ldb+j0+j]
						}
					}
					dst[p*nr+j] = v
				}
			}
		}, beta, c, ldc)
	}
}

func TestSgemmPackedA(t *testing.T) {
	kc, mc, nc := gemmKC, gemmMC, gemmNC
	defer func() { gemmKC, gemmMC, gemmNC = kc, mc, nc }()
	for _, p := range [][3]int{{kc, mc, nc}, {16, 24, 64}, {7, 13, 40}} {
		gemmKC, gemmMC, gemmNC = p[0], p[1], p[2]
		t.Run(fmt.Sprint(p), func(t *testing.T) {
			forEachImpl(t, func(t *testing.T) {
				r := rand.New(rand.NewSource(5))
				ab := [][2]float32{{1, 0}, {0.5, 1}, {-1.5, 0.25}}
				cases := append(append([]gemmCase(nil), gemmCases...), gemmCase{300, 70, 600}, gemmCase{16, 300, 1152})
				if p[0] != kc {
					cases = []gemmCase{{37, 101, 53}, {100, 70, 33}, {5, 200, 100}, {13, 64, 40}}
				}
				for ci, cs := range cases {
					for ti, tr := range [][2]bool{{false, false}, {false, true}, {true, false}, {true, true}} {
						v := ab[(ci+ti)%len(ab)]
						pad := (ci + ti) % 3
						checkGemm(t, packedGemm(false), r, tr[0], tr[1], cs.m, cs.n, cs.k, pad, v[0], v[1])
						checkGemm(t, packedGemm(true), r, tr[0], tr[1], cs.m, cs.n, cs.k, pad, v[0], v[1])
					}
				}
			})
		})
	}
}

// TestSgemmPackedAReuse multiplies one packed A by several B concurrently.
func TestSgemmPackedAReuse(t *testing.T) {
	forEachImpl(t, func(t *testing.T) {
		r := rand.New(rand.NewSource(6))
		m, n, k := 37, 90, 300
		a := randSlice(r, m*k)
		pa := PackA(false, m, k, a, k)
		defer pa.Release()
		done := make(chan error, 4)
		for g := 0; g < 4; g++ {
			b := randSlice(r, k*n)
			go func() {
				want := make([]float32, m*n)
				got := make([]float32, m*n)
				SgemmRef(false, false, m, n, k, 1, a, k, b, n, 0, want, n)
				for it := 0; it < 3; it++ {
					SgemmPackedA(pa, false, n, 1, b, n, 0, got, n)
				}
				for i := range want {
					if d := math.Abs(float64(got[i] - want[i])); d > 1e-3*(1+math.Abs(float64(want[i]))) {
						done <- fmt.Errorf("C[%d] = %g want %g", i, got[i], want[i])
						return
					}
				}
				done <- nil
			}()
		}
		for g := 0; g < 4; g++ {
			if err := <-done; err != nil {
				t.Fatal(err)
			}
		}
	})
}

func TestSgemmPackedAEdge(t *testing.T) {
	c := []float32{float32(math.NaN()), 2}
	pa := PackA(false, 1, 0, nil, 1)
	SgemmPackedA(pa, false, 2, 1, nil, 2, 0, c, 2)
	pa.Release()
	if c[0] != 0 || c[1] != 0 {
		t.Fatalf("k=0 beta=0: %v", c)
	}
	pa = PackA(false, 0, 3, nil, 3)
	SgemmPackedA(pa, false, 5, 1, nil, 5, 0, nil, 5)
	pa.Release()
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("no panic on short A")
			}
		}()
		PackA(false, 2, 2, make([]float32, 3), 2)
	}()
}

func TestPackANoAlloc(t *testing.T) {
	r := rand.New(rand.NewSource(7))
	m, n, k := 16, 256, 144
	a, b, c := randSlice(r, m*k), randSlice(r, k*n), make([]float32, m*n)
	run := func() {
		pa := PackA(false, m, k, a, k)
		SgemmPackedA(pa, false, n, 1, b, n, 0, c, n)
		pa.Release()
	}
	run()
	if got := testing.AllocsPerRun(20, run); got > 0.5 {
		t.Fatalf("%v allocations per PackA+SgemmPackedA", got)
	}
}

func TestPackRows(t *testing.T) {
	r := rand.New(rand.NewSource(8))
	src := randSlice(r, 500)
	offs := []int{0, 3, 40, 41, 100, 7, 200, 450}
	tab := NewRowOffsets(offs)
	for _, n := range []int{1, 4, 8, 15, 16, 17, 31, 32, 40} {
		for _, ldd := range []int{n, 32, 48} {
			if ldd < n {
				continue
			}
			for r0 := 0; r0 < 3; r0++ {
				rows := len(offs) - r0 - r0%2
				dst := make([]float32, (rows-1)*ldd+n+5)
				for i := range dst {
					dst[i] = -7
				}
				PackRows(dst, ldd, src, 9, &tab, r0, rows, n)
				for i := 0; i < rows; i++ {
					for j := 0; j < ldd && i*ldd+j < len(dst); j++ {
						want := float32(-7)
						if j < n {
							want = src[9+offs[r0+i]+j]
						}
						if got := dst[i*ldd+j]; got != want {
							t.Fatalf("n=%d ldd=%d r0=%d: dst[%d][%d]=%g want %g", n, ldd, r0, i, j, got, want)
						}
					}
				}
			}
		}
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("no panic out of range")
			}
		}()
		PackRows(make([]float32, 64), 32, src, 460, &tab, 0, 2, 32)
	}()
}

func TestPackRowsT(t *testing.T) {
	forEachImpl(t, func(t *testing.T) {
		r := rand.New(rand.NewSource(9))
		src := randSlice(r, 4000)
		offs := make([]int, 70)
		for i := range offs {
			offs[i] = r.Intn(1000)
		}
		tab := NewRowOffsets(offs)
		for _, c := range []struct{ nr, r0, nb, run, kc int }{
			{32, 0, 32, 16, 64}, {32, 5, 32, 16, 256}, {32, 38, 32, 16, 32}, {32, 40, 30, 16, 48},
			{32, 0, 17, 16, 16}, {32, 3, 32, 8, 40}, {32, 3, 32, 8, 48}, {32, 1, 32, 4, 64}, {32, 30, 25, 4, 16}, {16, 2, 16, 16, 32}, {8, 1, 5, 3, 10}, {32, 50, 20, 16, 32},
		} {
			runs := make([]int, (c.kc+c.run-1)/c.run)
			for i := range runs {
				runs[i] = r.Intn(2900)
			}
			dst := make([]float32, c.kc*c.nr)
			PackRowsT(dst, c.nr, src, &tab, c.r0, c.nb, runs, c.run, c.kc)
			for p := 0; p < c.kc; p++ {
				for j := 0; j < c.nb; j++ {
					want := src[offs[c.r0+j]+runs[p/c.run]+p%c.run]
					if got := dst[p*c.nr+j]; got != want {
						t.Fatalf("%+v: dst[%d][%d]=%g want %g", c, p, j, got, want)
					}
				}
			}
		}
	})
}

// TestSgemmPackB checks SgemmPackB with a PackRowsT packer against SgemmRef: C =
// A x X^T for X gathered from rows of a source at table offsets.
func TestSgemmPackB(t *testing.T) {
	forEachImpl(t, func(t *testing.T) {
		r := rand.New(rand.NewSource(10))
		for _, c := range []struct{ m, n, k int }{{16, 144, 1024}, {7, 40, 64}, {64, 576, 256}, {3, 5, 33}} {
			src := randSlice(r, c.n*c.k+50)
			offs := make([]int, (c.n+31)&^31)
			for i := range offs {
				offs[i] = min(i, c.n-1) * c.k
			}
			tab := NewRowOffsets(offs)
			run := 16
			if c.k%16 != 0 {
				run = 1
			}
			runs := make([]int, 1024)
			for i := range runs {
				runs[i] = i * run
			}
			a := randSlice(r, c.m*c.k)
			want := make([]float32, c.m*c.n)
			got := make([]float32, c.m*c.n)
			for i := range got {
				got[i] = 1
				want[i] = 1
			}
			SgemmRef(false, true, c.m, c.n, c.k, 1.5, a, c.k, src, c.k, 0.5, want, c.n)
			pa := PackA(false, 1, 1, []float32{1}, 1)
			nr := pa.PanelWidth()
			pa.Release()
			SgemmPackB(false, c.m, c.n, c.k, 1.5, a, c.k, func(dst []float32, j0, nb, p0, kc int) {
				PackRowsT(dst, nr, src, &tab, j0, nb, runs[p0/run:], run, kc)
			}, 0.5, got, c.n)
			for i := range want {
				if d := math.Abs(float64(got[i] - want[i])); d > 1e-4*(float64(c.k)+math.Abs(float64(want[i]))) {
					t.Fatalf("%+v: C[%d]=%g want %g", c, i, got[i], want[i])
				}
			}
		}
	})
}

// TestPackANAsm checks the non-transposed A packing against its definition for
// every tile height and ragged depths.
func TestPackANAsm(t *testing.T) {
	r := rand.New(rand.NewSource(11))
	for _, im := range impls() {
		for mr := 1; mr <= im.mrMax; mr++ {
			for _, kc := range []int{1, 15, 16, 17, 48, 100, 256} {
				lda := kc + 3
				a := randSlice(r, 20*lda)
				dst := make([]float32, kc*mr)
				packA(im, dst, a, lda, false, 2, mr, 1, kc)
				for p := 0; p < kc; p++ {
					for i := 0; i < mr; i++ {
						if got, want := dst[p*mr+i], a[(2+i)*lda+1+p]; got != want {
							t.Fatalf("%s mr=%d kc=%d: dst[%d][%d]=%g want %g", im.name, mr, kc, p, i, got, want)
						}
					}
				}
			}
		}
	}
}

func TestPackRowsSeg(t *testing.T) {
	r := rand.New(rand.NewSource(12))
	src := randSlice(r, 3000)
	offs := make([]int, 40)
	for i := range offs {
		offs[i] = r.Intn(1000)
	}
	tab := NewRowOffsets(offs)
	for _, run := range []int{16, 8, 4} {
		for _, r0 := range []int{0, 3} {
			rows := 37 - r0
			segs := make([]int, 32/run)
			for k := range segs {
				segs[k] = r.Intn(1900)
			}
			dst := make([]float32, rows*32)
			PackRowsSeg(dst, src, &tab, r0, rows, segs, run)
			for i := 0; i < rows; i++ {
				for k := range segs {
					for j := 0; j < run; j++ {
						if got, want := dst[i*32+k*run+j], src[segs[k]+offs[r0+i]+j]; got != want {
							t.Fatalf("run %d r0 %d: dst[%d][%d]=%g want %g", run, r0, i, k*run+j, got, want)
						}
					}
				}
			}
		}
	}
}
