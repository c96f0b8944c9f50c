package parallel

import (
	"sync"
	"sync/atomic"
	"testing"
)

func TestLoopsCoverEveryIndexOnce(t *testing.T) {
	for _, n := range []int{0, 1, 2, 3, 7, 1000} {
		for _, grain := range []int{0, 1, 5, 1 << 20} {
			hits := make([]int32, n)
			ForGrain(n, grain, func(lo, hi int) {
				for i := lo; i < hi; i++ {
					atomic.AddInt32(&hits[i], 1)
				}
			})
			for i, h := range hits {
				if h != 1 {
					t.Fatalf("ForGrain(%d, %d): index %d visited %d times", n, grain, i, h)
				}
			}
		}
		var mu sync.Mutex
		seen := map[int]bool{}
		count := 0
		ForWorker(n, func(w, lo, hi int) {
			mu.Lock()
			defer mu.Unlock()
			if w < 0 || w >= Workers() || seen[w] {
				t.Errorf("ForWorker(%d): bad or repeated worker %d", n, w)
			}
			seen[w] = true
			count += hi - lo
		})
		if count != n {
			t.Fatalf("ForWorker(%d) covered %d indices", n, count)
		}
	}
}
