package eval

import (
	"fmt"

	"github.com/siam-ssl/siam/data"
	"github.com/siam-ssl/siam/ssl"
	"github.com/siam-ssl/siam/tensor"
)

// DefaultBatch is the batch size of feature extraction when none is given.
const DefaultBatch = 128

// Representer is a model whose backbone features can be extracted: Represent maps
// a batch of images x [N,C,H,W] to features [N,d] (after global pooling), and
// SetTraining switches its batch-norm layers between batch statistics (true) and
// running statistics (false). Every ssl.Method implements it.
type Representer interface {
	Represent(g *tensor.Graph, x *tensor.Tensor) *tensor.Tensor
	SetTraining(bool)
}

// Features computes the backbone features of the images of ds at idx (nil means
// every image, in order) with the deterministic evaluation transform of
// data.RecipeFor(ds) (no augmentation: resize if needed, then normalise with ds's
// own channel statistics). See FeaturesWith.
func Features(m Representer, ds *data.Dataset, idx []int, batch int) (feats []float32, dim int, labels []int, err error) {
	if ds == nil {
		return nil, 0, nil, fmt.Errorf("eval: features: no dataset")
	}
	return FeaturesWith(m, ds, data.RecipeFor(ds), idx, batch)
}

// FeaturesWith is Features with an explicit recipe, whose evaluation transform
// (resize to r.Size if needed, normalise with r.Mean/r.Std) is applied; use the
// training recipe so that validation images are normalised like training images.
//
// The model runs in evaluation mode (batch norm with running statistics) on a
// graph that records no gradients and is reused across batches of size batch (0
// means DefaultBatch); its mode is restored afterwards (for an ssl.Method and for
// models with a Training() bool method each layer's own flag is restored,
// other models are put back in training mode). The result is a row-major
// len(labels) x dim matrix, row i for image idx[i], and is the same on every call.
func FeaturesWith(m Representer, ds *data.Dataset, r data.Recipe, idx []int, batch int) (feats []float32, dim int, labels []int, err error) {
	if m == nil || ds == nil {
		return nil, 0, nil, fmt.Errorf("eval: features: nil model or dataset")
	}
	if err := ds.Validate(); err != nil {
		return nil, 0, nil, err
	}
	if batch == 0 {
		batch = DefaultBatch
	}
	if batch < 0 {
		return nil, 0, nil, fmt.Errorf("eval: features: batch %d < 1", batch)
	}
	n := ds.N
	if idx != nil {
		n = len(idx)
		for _, i := range idx {
			if i < 0 || i >= ds.N {
				return nil, 0, nil, fmt.Errorf("eval: features: index %d out of range [0, %d)", i, ds.N)
			}
		}
	}
	if n == 0 {
		return nil, 0, nil, fmt.Errorf("eval: features: no images selected from %s", ds.Name)
	}
	aug, err := data.NewAugmenter(r, ds.C, ds.H, ds.W)
	if err != nil {
		return nil, 0, nil, err
	}
	c, h, w := r.OutShape(ds.C, ds.H, ds.W)
	restore := evalMode(m)
	defer restore()

	g := tensor.NewGraph()
	g.SetNoGrad(true)
	sz := aug.OutSize()
	x := make([]float32, min(batch, n)*sz)
	labels = make([]int, n)
	for lo := 0; lo < n; lo += batch {
		hi := min(lo+batch, n)
		for i := lo; i < hi; i++ {
			j := i
			if idx != nil {
				j = idx[i]
			}
			aug.Eval(x[(i-lo)*sz:(i-lo+1)*sz], ds.Image(j))
			labels[i] = ds.Labels[j]
		}
		g.Reset()
		y := m.Represent(g, g.Input(x[:(hi-lo)*sz], hi-lo, c, h, w))
		if err := g.Err(); err != nil {
			return nil, 0, nil, fmt.Errorf("eval: features of %s: %w", ds.Name, err)
		}
		if y.Rank() != 2 || y.Dim(0) != hi-lo {
			return nil, 0, nil, fmt.Errorf("eval: features: model returned shape %v for %d images, want [%d, d]", y.Shape(), hi-lo, hi-lo)
		}
		if feats == nil {
			dim = y.Dim(1)
			feats = make([]float32, n*dim)
		} else if y.Dim(1) != dim {
			return nil, 0, nil, fmt.Errorf("eval: features: feature width changed from %d to %d", dim, y.Dim(1))
		}
		copy(feats[lo*dim:hi*dim], y.Data)
	}
	return feats, dim, labels, nil
}

// evalMode puts m in evaluation mode and returns a function that restores its
// previous mode.
func evalMode(m any) (restore func()) {
	switch v := m.(type) {
	case ssl.Method:
		bns := v.Modules().BNs
		saved := make([]bool, len(bns))
		for i, bn := range bns {
			saved[i] = bn.Training
		}
		v.SetTraining(false)
		return func() {
			for i, bn := range bns {
				bn.Training = saved[i]
			}
		}
	case interface {
		Training() bool
		SetTraining(bool)
	}:
		was := v.Training()
		v.SetTraining(false)
		return func() { v.SetTraining(was) }
	case interface{ SetTraining(bool) }:
		v.SetTraining(false)
		return func() { v.SetTraining(true) }
	}
	return func() {}
}
