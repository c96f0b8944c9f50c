package tensor

import "github.com/siam-ssl/siam/parallel"

// Reductions. Whole-tensor reductions (Sum, Mean, and the losses) return a rank-0
// tensor: shape [] (Rank 0, Numel 1), as PyTorch does; Item reads its value and
// Backward accepts it as a loss. Rank-0 tensors broadcast against any shape.

// Sum adds every element of x into a one-element tensor of shape [] (rank 0). The
// sum is accumulated in float64.
func (g *Graph) Sum(x *Tensor) *Tensor { return g.reduceAll("sum", x, 1) }

// Mean averages every element of x into a one-element tensor of shape [] (rank 0).
// The mean of an empty tensor is NaN, as in PyTorch.
func (g *Graph) Mean(x *Tensor) *Tensor {
	if !g.OK("mean", x) {
		return g.dead
	}
	return g.reduceAll("mean", x, float64(len(x.Data)))
}

// reduceAll returns sum(x) / div as a rank-0 tensor.
func (g *Graph) reduceAll(op string, x *Tensor, div float64) *Tensor {
	if !g.OK(op, x) {
		return g.dead
	}
	out := g.Alloc()
	out.Data[0] = float32(rdSumPar(x.Data) / div)
	g.Record(out, func() {
		if !x.requiresGrad {
			return
		}
		gx, v := g.GradOf(x), float32(float64(out.Grad[0])/div)
		parallel.ForGrain(len(gx), ewGrain, func(lo, hi int) {
			d := gx[lo:hi]
			for i := range d {
				d[i] += v
			}
		})
	}, x)
	return out
}

// rdSumPar sums xs in float64, split across the cores for long slices.
func rdSumPar(xs []float32) float64 {
	chunks := min(parallel.Workers(), (len(xs)+ewGrain-1)/ewGrain)
	if chunks <= 1 {
		return rdSum64(xs)
	}
	part := make([]float64, chunks)
	parallel.For(chunks, func(lo, hi int) {
		for c := lo; c < hi; c++ {
			part[c] = rdSum64(xs[c*len(xs)/chunks : (c+1)*len(xs)/chunks])
		}
	})
	var s float64
	for _, v := range part {
		s += v
	}
	return s
}

// rdSum64 is a float64 sum with four independent accumulators.
func rdSum64(xs []float32) float64 {
	var s0, s1, s2, s3 float64
	i := 0
	for ; i+4 <= len(xs); i += 4 {
		s0 += float64(xs[i])
		s1 += float64(xs[i+1])
		s2 += float64(xs[i+2])
		s3 += float64(xs[i+3])
	}
	for ; i < len(xs); i++ {
		s0 += float64(xs[i])
	}
	return (s0 + s1) + (s2 + s3)
}

// SumAxis sums x along axis (negative counts from the end), keeping it as size 1
// when keepDim. An axis outside [-rank, rank) records an error.
func (g *Graph) SumAxis(x *Tensor, axis int, keepDim bool) *Tensor {
	return g.reduceAxis("sum_axis", x, axis, keepDim, false)
}

// MeanAxis averages x along axis, keeping it as size 1 when keepDim. An axis outside
// [-rank, rank) records an error; averaging over an empty axis gives NaN.
func (g *Graph) MeanAxis(x *Tensor, axis int, keepDim bool) *Tensor {
	return g.reduceAxis("mean_axis", x, axis, keepDim, true)
}

// rdAxis maps axis (negative counts from the end) into [0, rank), or reports
// false.
func rdAxis(axis, rank int) (int, bool) {
	if axis < 0 {
		axis += rank
	}
	return axis, axis >= 0 && axis < rank
}

// rdSplit views shape as [outer, shape[axis], inner].
func rdSplit(shape []int, axis int) (outer, d, inner int) {
	return numel(shape[:axis]), shape[axis], numel(shape[axis+1:])
}

func (g *Graph) reduceAxis(op string, x *Tensor, axis int, keepDim, mean bool) *Tensor {
	if !g.OK(op, x) {
		return g.dead
	}
	ax, ok := rdAxis(axis, x.Rank())
	if !ok {
		return g.Failf(op, []*Tensor{x}, "axis %d out of range for rank %d", axis, x.Rank())
	}
	shape := append([]int(nil), x.shape...)
	if keepDim {
		shape[ax] = 1
	} else {
		shape = append(shape[:ax], shape[ax+1:]...)
	}
	outer, d, inner := rdSplit(x.shape, ax)
	scale := float32(1)
	if mean {
		scale = 1 / float32(d)
	}
	out := g.Alloc(shape...)
	xd, od := x.Data, out.Data
	grain := max(1, ewGrain/max(d, 1))
	// Split the output positions; each run lies in one outer slice.
	parallel.ForGrain(outer*inner, grain, func(lo, hi int) {
		for pos := lo; pos < hi; {
			o, c := pos/inner, pos%inner
			cnt := min(inner-c, hi-pos)
			dst := od[pos : pos+cnt]
			switch {
			case d == 0:
				for j := range dst {
					dst[j] = 0 * scale
				}
			case inner == 1: // contiguous rows: accumulate in float64
				for j := range dst {
					dst[j] = float32(rdSum64(xd[(pos+j)*d:(pos+j+1)*d]) * float64(scale))
				}
			default:
				base := o*d*inner + c
				copy(dst, xd[base:base+cnt])
				for k := 1; k < d; k++ {
					src := xd[base+k*inner : base+k*inner+cnt]
					for j := range dst {
						dst[j] += src[j]
					}
				}
				if scale != 1 {
					for j := range dst {
						dst[j] *= scale
					}
				}
			}
			pos += cnt
		}
	})
	g.Record(out, func() {
		if !x.requiresGrad {
			return
		}
		gx, gy := g.GradOf(x), out.Grad
		parallel.ForGrain(outer*inner, grain, func(lo, hi int) {
			for pos := lo; pos < hi; {
				o, c := pos/inner, pos%inner
				cnt := min(inner-c, hi-pos)
				src := gy[pos : pos+cnt]
				base := o*d*inner + c
				for k := range d {
					dst := gx[base+k*inner : base+k*inner+cnt]
					if scale == 1 {
						for j := range dst {
							dst[j] += src[j]
						}
					} else {
						for j := range dst {
							dst[j] += src[j] * scale
						}
					}
				}
				pos += cnt
			}
		})
	}, x)
	return out
}
