package tensor

import (
	"math"

	"github.com/siam-ssl/siam/parallel"
)

// LayerNorm normalises x over its last dimension and applies w and b ([D], either
// may be nil).
//
// Each row is normalised with its own mean and biased variance (two passes in
// float64): y = (x-mean)/sqrt(var+eps)*w + b, as torch.nn.functional.layer_norm
// over the last dimension. The backward pass recomputes xhat from the saved row
// statistics.
func (g *Graph) LayerNorm(x, w, b *Tensor, eps float32) *Tensor {
	const op = "layernorm"
	if !g.OK(op, x) {
		return g.dead
	}
	if x.Rank() < 1 {
		return g.Fail(op, "input must have at least one dimension", x)
	}
	d := x.shape[len(x.shape)-1]
	for _, p := range [...]struct {
		name string
		t    *Tensor
	}{{"weight", w}, {"bias", b}} {
		if p.t != nil && (p.t.Rank() != 1 || p.t.shape[0] != d) {
			return g.Failf(op, []*Tensor{x, p.t}, "%s has shape %v, want [%d] (last input dimension)", p.name, p.t.shape, d)
		}
	}
	out := g.Alloc(x.shape...)
	if d == 0 || len(x.Data) == 0 {
		return out
	}
	rows := len(x.Data) / d
	xd, od := x.Data, out.Data
	wd, bd := bnParam(w), bnParam(b)
	st := g.Scratch(2 * rows)
	mean, inv := st[:rows], st[rows:]
	fd := float64(d)
	grain := max(1, (1<<13)/d)
	parallel.ForGrain(rows, grain, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			row := xd[r*d : (r+1)*d]
			o := od[r*d : (r+1)*d]
			var s float64
			for _, v := range row {
				s += float64(v)
			}
			mu := s / fd
			var q float64
			for _, v := range row {
				c := float64(v) - mu
				q += c * c
			}
			iv := float32(1 / math.Sqrt(q/fd+float64(eps)))
			m := float32(mu)
			mean[r], inv[r] = m, iv
			for j, v := range row {
				y := (v - m) * iv
				if wd != nil {
					y *= wd[j]
				}
				if bd != nil {
					y += bd[j]
				}
				o[j] = y
			}
		}
	})
	g.Record(out, func() {
		gy := out.Grad
		gx, gw, gb, accX := g.normGrads(x, w, b)
		nw := parallel.Workers()
		var parts [][]float64
		if gw != nil || gb != nil {
			parts = make([][]float64, nw)
		}
		body := func(wk, lo, hi int) {
			var part []float64
			if parts != nil {
				part = make([]float64, 2*d)
				parts[wk] = part
			}
			for r := lo; r < hi; r++ {
				row := xd[r*d : (r+1)*d]
				dy := gy[r*d : (r+1)*d]
				m, iv := mean[r], inv[r]
				if part != nil {
					pw, pb := part[:d], part[d:]
					for j, v := range row {
						xh := float64((v - m) * iv)
						pw[j] += float64(dy[j]) * xh
						pb[j] += float64(dy[j])
					}
				}
				if gx == nil {
					continue
				}
				var sg, sgx float64
				for j, v := range row {
					gj := float64(dy[j])
					if wd != nil {
						gj *= float64(wd[j])
					}
					sg += gj
					sgx += gj * float64((v-m)*iv)
				}
				sg /= fd
				sgx /= fd
				o := gx[r*d : (r+1)*d]
				for j, v := range row {
					gj := float64(dy[j])
					if wd != nil {
						gj *= float64(wd[j])
					}
					dx := float32(float64(iv) * (gj - sg - float64((v-m)*iv)*sgx))
					if accX {
						o[j] += dx
					} else {
						o[j] = dx
					}
				}
			}
		}
		if rows*d < 1<<13 {
			body(0, 0, rows)
		} else {
			parallel.ForWorker(rows, body)
		}
		for _, part := range parts {
			if part == nil {
				continue
			}
			for j := range d {
				if gw != nil {
					gw[j] += float32(part[j])
				}
				if gb != nil {
					gb[j] += float32(part[d+j])
				}
			}
		}
	}, x, w, b)
	return out
}
