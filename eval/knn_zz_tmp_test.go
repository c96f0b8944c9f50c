package eval

import "testing"

func TestTmpCount(t *testing.T) {
	const nq, nk, dim, k = 50, 50000, 512, 200
	q, keys := RandomUnitVectors(nq, dim, 1), RandomUnitVectors(nk, dim, 2)
	var h topK
	idx := make([]int32, 256+16)
	pushes, shrinks := 0, 0
	for qi := range nq {
		h.reset(k)
		row := make([]float32, nk)
		for j := range nk {
			var s float32
			for p := range dim {
				s += q[qi*dim+p] * keys[j*dim+p]
			}
			row[j] = s
		}
		for k0 := 0; k0 < nk; k0 += 192 {
			k1 := min(nk, k0+192)
			before := len(h.sim)
			thr := h.thr
			n := 0
			for _, v := range row[k0:k1] {
				if v > thr {
					n++
				}
			}
			h.scanFiltered(row[k0:k1], int32(k0), idx)
			if len(h.sim) < before+n {
				shrinks++
			}
			pushes += n
		}
	}
	t.Logf("pushes/query %d, shrink blocks/query %.1f", pushes/nq, float64(shrinks)/nq)
}
