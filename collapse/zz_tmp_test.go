package collapse

import (
	"strconv"
	"testing"
)

func BenchmarkTridiagGrain(b *testing.B) {
	const n, d = 50000, 512
	x := RandomFeatures(n, d, 1)
	st, _ := rowStats(x, n, d, false)
	cov := covariance64(x, n, d, st.mean, nil)
	a := make([]float64, d*d)
	for _, g := range []int{1 << 30, 256, 64} {
		b.Run("grain"+strconv.Itoa(g), func(b *testing.B) {
			old := tridiagGrain
			tridiagGrain = g
			defer func() { tridiagGrain = old }()
			timed(b, func() {
				copy(a, cov)
				tridiagonalize(a, d)
			})
		})
	}
}
