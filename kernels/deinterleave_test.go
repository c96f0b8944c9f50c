package kernels

import (
	"math/rand"
	"testing"
)

func TestDeinterleave2(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for n := 0; n <= 200; n++ {
		src := make([]float32, n)
		for i := range src {
			src[i] = rng.Float32()
		}
		ne, no := (n+1)/2, n/2
		for _, vec := range []bool{false, true} {
			if vec && !hasVec512 {
				continue
			}
			// Guard cells past each output catch stores beyond its end.
			eb := make([]float32, ne+40)
			ob := make([]float32, no+40)
			for i := range eb {
				eb[i] = -1
			}
			for i := range ob {
				ob[i] = -1
			}
			even, odd := eb[:ne], ob[:no]
			if vec {
				Deinterleave2(even, odd, src)
			} else {
				deinterleave2Go(even, odd, src)
			}
			for i := 0; i < ne; i++ {
				if even[i] != src[2*i] {
					t.Fatalf("n=%d vec=%v: even[%d] = %v, want %v", n, vec, i, even[i], src[2*i])
				}
			}
			for i := 0; i < no; i++ {
				if odd[i] != src[2*i+1] {
					t.Fatalf("n=%d vec=%v: odd[%d] = %v, want %v", n, vec, i, odd[i], src[2*i+1])
				}
			}
			for i := ne; i < len(eb); i++ {
				if eb[i] != -1 {
					t.Fatalf("n=%d vec=%v: even guard %d overwritten", n, vec, i)
				}
			}
			for i := no; i < len(ob); i++ {
				if ob[i] != -1 {
					t.Fatalf("n=%d vec=%v: odd guard %d overwritten", n, vec, i)
				}
			}
		}
	}
	defer func() {
		if recover() == nil {
			t.Fatal("Deinterleave2 accepted mismatched lengths")
		}
	}()
	Deinterleave2(make([]float32, 2), make([]float32, 2), make([]float32, 3))
}

func TestInterleave2Add(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	for n := 0; n <= 200; n++ {
		ne, no := (n+1)/2, n/2
		even, odd := make([]float32, ne), make([]float32, no)
		for i := range even {
			even[i] = rng.Float32()
		}
		for i := range odd {
			odd[i] = rng.Float32()
		}
		base := make([]float32, n+40)
		for i := range base {
			base[i] = rng.Float32()
		}
		for _, vec := range []bool{false, true} {
			if vec && !hasVec512 {
				continue
			}
			// Guard cells past dst catch stores beyond its end.
			buf := append([]float32(nil), base...)
			if vec {
				Interleave2Add(buf[:n], even, odd)
			} else {
				interleave2AddGo(buf[:n], even, odd)
			}
			for i := 0; i < len(buf); i++ {
				want := base[i]
				switch {
				case i >= n:
				case i%2 == 0:
					want += even[i/2]
				default:
					want += odd[i/2]
				}
				if buf[i] != want {
					t.Fatalf("n=%d vec=%v: dst[%d] = %v, want %v", n, vec, i, buf[i], want)
				}
			}
		}
	}
}
