package eval

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"

	"github.com/siam-ssl/siam/data"
	"github.com/siam-ssl/siam/parallel"
	"github.com/siam-ssl/siam/tensor"
)

// LossModel is a self-supervised model whose two-view training loss can be
// evaluated; every ssl.Method implements it.
type LossModel interface {
	Loss(g *tensor.Graph, x1, x2 *tensor.Tensor) *tensor.Tensor
	SetTraining(bool)
}

// DefaultLossSeed is the augmentation seed of the validation loss when none is
// given, so that losses of different models are measured on the same views.
const DefaultLossSeed = 20240611

// LossOptions configures ValLoss.
type LossOptions struct {
	// Samples, when > 0 and below the set's size, evaluates a seeded random sample
	// of that many images instead of the whole set.
	Samples int
	// Batch is the number of images per forward pass (0 means DefaultBatch).
	// Because batch norm uses running statistics, it changes only speed (and
	// float rounding), not the loss.
	Batch int
	// Seed fixes the sample and both views of every image (0 means DefaultLossSeed).
	Seed uint64
	// Recipe is the two-view augmentation; nil means data.RecipeFor(ds). Pass the
	// training recipe to measure the loss the model was trained on.
	Recipe *data.Recipe
	// Workers augment in parallel (0: GOMAXPROCS). The views do not depend on it.
	Workers int
}

// LossResult is the validation SimSiam loss of a model.
type LossResult struct {
	// Loss is the mean over images of the symmetrised negative cosine loss, from -1
	// (the two views' predictions match perfectly) to 1.
	Loss float64 `json:"val_loss"`
	// Images is the number of images evaluated.
	Images int `json:"images"`
	// Seed is the augmentation seed used.
	Seed uint64 `json:"seed"`
}

// ValLoss measures the model's SimSiam loss on ds (normally the validation set):
// two random views of each image from the training augmentation recipe, forwarded
// without gradients. Image j's two views are drawn from a generator seeded by
// data.SampleSeeds(seed, 0, j), so every model is measured on the same views
// whatever the batch size, worker count or sample.
//
// The model runs in evaluation mode: every batch-norm layer (backbone, projector
// and predictor) uses its running statistics, as the reference code computes the
// validation loss with model.eval(). The loss is therefore a property of the model
// and the views alone, independent of the batch size and of the order of the
// images; the per-image losses are averaged with equal weight. (In training mode
// the loss would use per-batch statistics and differ with the batch size.) The
// model's mode is restored afterwards.
func ValLoss(m LossModel, ds *data.Dataset, opts LossOptions) (*LossResult, error) {
	if m == nil || ds == nil {
		return nil, fmt.Errorf("eval: validation loss needs a model and a dataset")
	}
	if err := ds.Validate(); err != nil {
		return nil, err
	}
	o := opts
	if o.Batch == 0 {
		o.Batch = DefaultBatch
	}
	if o.Seed == 0 {
		o.Seed = DefaultLossSeed
	}
	if o.Batch < 1 || o.Samples < 0 {
		return nil, fmt.Errorf("eval: validation loss: batch %d and samples %d must be positive", o.Batch, o.Samples)
	}
	if ds.N == 0 {
		return nil, fmt.Errorf("eval: validation loss: %s is empty", ds.Name)
	}
	recipe := data.RecipeFor(ds)
	if o.Recipe != nil {
		recipe = *o.Recipe
	}
	if err := recipe.Validate(ds.C); err != nil {
		return nil, err
	}
	var err error
	idx := make([]int, ds.N)
	for i := range idx {
		idx[i] = i
	}
	if o.Samples > 0 && o.Samples < ds.N {
		idx = SampleIndices(ds.N, o.Samples, o.Seed)
	}
	workers := o.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	augs := make([]*data.Augmenter, workers)
	for i := range augs {
		if augs[i], err = data.NewAugmenter(recipe, ds.C, ds.H, ds.W); err != nil {
			return nil, err
		}
	}
	c, h, w := recipe.OutShape(ds.C, ds.H, ds.W)
	sz := augs[0].OutSize()
	bmax := min(o.Batch, len(idx))
	x1, x2 := make([]float32, bmax*sz), make([]float32, bmax*sz)
	restore := evalMode(m)
	defer restore()
	g := tensor.NewGraph()
	g.SetNoGrad(true)
	var sum float64
	for lo := 0; lo < len(idx); lo += o.Batch {
		batch := idx[lo:min(lo+o.Batch, len(idx))]
		twoViews(augs, ds, batch, o.Seed, x1, x2)
		n := len(batch)
		g.Reset()
		loss := m.Loss(g, g.Input(x1[:n*sz], n, c, h, w), g.Input(x2[:n*sz], n, c, h, w))
		if err := g.Err(); err != nil {
			return nil, fmt.Errorf("eval: validation loss at image %d: %w", lo, err)
		}
		v := float64(loss.Item())
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("eval: validation loss is %v on the batch starting at image %d", v, lo)
		}
		sum += v * float64(n)
	}
	return &LossResult{Loss: sum / float64(len(idx)), Images: len(idx), Seed: o.Seed}, nil
}

// twoViews writes the two random views of each image of batch (dataset indices)
// into x1 and x2, in parallel over augs (each augmenter owns a contiguous share of
// the batch and is used by one goroutine at a time). Image j's views come from a
// generator seeded by data.SampleSeeds(seed, 0, j), so they depend only on the seed
// and the image, not on the batch, the sample it is part of or the worker count.
func twoViews(augs []*data.Augmenter, ds *data.Dataset, batch []int, seed uint64, x1, x2 []float32) {
	sz := augs[0].OutSize()
	per := (len(batch) + len(augs) - 1) / len(augs)
	parallel.For(len(augs), func(alo, ahi int) {
		pcg := rand.NewPCG(0, 0)
		rng := rand.New(pcg)
		for wi := alo; wi < ahi; wi++ {
			a := augs[wi]
			for i := wi * per; i < min((wi+1)*per, len(batch)); i++ {
				j := batch[i]
				pcg.Seed(data.SampleSeeds(seed, 0, j))
				a.Augment(x1[i*sz:(i+1)*sz], ds.Image(j), rng)
				a.Augment(x2[i*sz:(i+1)*sz], ds.Image(j), rng)
			}
		}
	})
}

// SampleIndices returns k distinct indices of [0, n) drawn uniformly with a PCG
// seeded by seed, in increasing order (all of them when k >= n). The same
// arguments always give the same sample.
func SampleIndices(n, k int, seed uint64) []int {
	if k >= n {
		k = n
	}
	if k <= 0 {
		return nil
	}
	r := rand.New(rand.NewPCG(seed, 0x5a3b1e))
	idx := r.Perm(n)[:k]
	slices.Sort(idx)
	return idx
}
