package eval

import (
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"time"

	"github.com/siam-ssl/siam/data"
	"github.com/siam-ssl/siam/nn"
	"github.com/siam-ssl/siam/optim"
	"github.com/siam-ssl/siam/tensor"
)

// Defaults of LinearOptions, from the paper's linear-probe protocol (SPEC §6).
const (
	// DefaultProbeEpochs is the paper's 90 epochs.
	DefaultProbeEpochs = 90
	// DefaultProbeBatch is the probe's batch size (the reference uses 4096 on 8 GPUs;
	// the learning rate scales with it).
	DefaultProbeBatch = 256
	// DefaultProbeLR is the base learning rate, scaled by batch/256: 1.6, the rate the
	// paper's LARS probe actually ran at (0.1 x 4096/256). LARS moves the layer by
	// lr x 0.001 x ||W|| per step, so it is the per-step rate that transfers; the
	// nominal 0.1 at batch 256 under-trains the layer (0.21 vs 0.45 accuracy on the
	// embedded set after 90 epochs; docs/EVAL.md).
	DefaultProbeLR = 1.6
	// ProbeInitStd is the standard deviation of the linear layer's initial weights.
	ProbeInitStd = 0.01
)

// LinearOptions configures LinearProbe. The zero value is the paper's protocol
// (90 epochs, LARS with trust 0.001, the paper's effective lr 1.6, cosine, momentum 0.9,
// weight decay 0, RandomResizedCrop + flip) at batch 256.
type LinearOptions struct {
	// Epochs over the training set (0 means DefaultProbeEpochs).
	Epochs int
	// Batch is the number of images per step (0 means DefaultProbeBatch).
	Batch int
	// LR is the base learning rate before batch/256 scaling (0 means DefaultProbeLR).
	LR float64
	// Seed fixes the initialisation, the shuffling and the augmentation.
	Seed uint64
	// CachedFeatures trains on features computed once from un-augmented images
	// (evaluation transform) and shuffled every epoch: much faster, usually a few
	// points below the augmented protocol.
	CachedFeatures bool
	// Recipe, when non-nil, gives the image size and normalisation (its Probe()
	// transform is used for training views and its evaluation transform for
	// features); nil means data.RecipeFor(train).
	Recipe *data.Recipe
	// Workers augment in parallel in the augmented mode (0: GOMAXPROCS).
	Workers int
	// FeatureBatch is the batch size of feature extraction (0 means DefaultBatch).
	FeatureBatch int
	// Log, when non-nil, receives one line per epoch.
	Log io.Writer
}

// LinearResult reports a linear probe.
type LinearResult struct {
	// TrainAccuracy and ValAccuracy are top-1 accuracies (fractions) of the final
	// layer on the un-augmented training and validation images.
	TrainAccuracy float64 `json:"train_accuracy"`
	ValAccuracy   float64 `json:"accuracy"`
	// EpochLoss[e] is the mean cross-entropy of epoch e's steps; EpochAccuracy[e] the
	// running top-1 accuracy on the (augmented, in the augmented mode) views trained
	// on during epoch e.
	EpochLoss     []float64 `json:"epoch_loss"`
	EpochAccuracy []float64 `json:"epoch_accuracy"`
	// Epochs, Batch, LR (the scaled rate) and Steps describe the run.
	Epochs int     `json:"epochs"`
	Batch  int     `json:"batch"`
	LR     float64 `json:"lr"`
	Steps  int     `json:"steps"`
	Cached bool    `json:"cached"`
	// Dim and Classes are the feature width and the number of classes.
	Dim     int `json:"dim"`
	Classes int `json:"classes"`
	// Seconds is the wall time of the whole probe.
	Seconds float64 `json:"seconds"`
}

// LinearProbe trains one fully connected layer (weights N(0, 0.01), bias 0) on the
// frozen backbone features of m (evaluation mode, running BN statistics, no
// gradients into the backbone) to classify train, and measures top-1 accuracy on
// train and val (un-augmented, evaluation transform). Optimiser: LARS (trust 0.001;
// the bias is excluded from the trust scaling) at lr opts.LR x batch/256 with a
// per-step cosine schedule to 0, momentum 0.9, weight decay 0; loss cross-entropy.
//
// In the default augmented mode every step draws a RandomResizedCrop (scale 0.08..1)
// + flip view of each image (data.Recipe.Probe, through a single-view Loader) and
// computes its features through the backbone; with opts.CachedFeatures the features
// of the plain images are computed once and only the shuffling changes per epoch.
// Every epoch visits each training image once in a seeded random order; the last
// batch of an epoch may be short. The result is deterministic for a seed. The
// model's mode is restored afterwards.
func LinearProbe(m Representer, train, val *data.Dataset, opts LinearOptions) (*LinearResult, error) {
	t0 := time.Now()
	if m == nil || train == nil || val == nil {
		return nil, fmt.Errorf("eval: linear probe needs a model, a training set and a validation set")
	}
	o := opts
	if o.Epochs == 0 {
		o.Epochs = DefaultProbeEpochs
	}
	if o.Batch == 0 {
		o.Batch = DefaultProbeBatch
	}
	if o.LR == 0 {
		o.LR = DefaultProbeLR
	}
	switch {
	case o.Epochs < 0:
		return nil, fmt.Errorf("eval: linear probe: epochs %d < 1", o.Epochs)
	case o.Batch < 1:
		return nil, fmt.Errorf("eval: linear probe: batch %d < 1", o.Batch)
	case !(o.LR > 0) || math.IsInf(o.LR, 0):
		return nil, fmt.Errorf("eval: linear probe: learning rate %v must be positive", o.LR)
	}
	if err := train.Validate(); err != nil {
		return nil, err
	}
	if err := val.Validate(); err != nil {
		return nil, err
	}
	if train.C != val.C || train.H != val.H || train.W != val.W {
		return nil, fmt.Errorf("eval: linear probe: train images %dx%dx%d, val images %dx%dx%d", train.C, train.H, train.W, val.C, val.H, val.W)
	}
	recipe := data.RecipeFor(train)
	if o.Recipe != nil {
		recipe = *o.Recipe
	}
	classes := max(train.Classes, val.Classes)
	if classes < 2 {
		return nil, fmt.Errorf("eval: linear probe: %d class(es); need at least 2", classes)
	}
	restore := evalMode(m)
	defer restore()

	// Clean features of both sets: the cached mode trains on the first, and both
	// give the final accuracies.
	trainFeats, dim, trainLabels, err := FeaturesWith(m, train, recipe, nil, o.FeatureBatch)
	if err != nil {
		return nil, err
	}
	valFeats, vdim, valLabels, err := FeaturesWith(m, val, recipe, nil, o.FeatureBatch)
	if err != nil {
		return nil, err
	}
	if vdim != dim {
		return nil, fmt.Errorf("eval: linear probe: feature width %d on train, %d on val", dim, vdim)
	}

	rng := rand.New(rand.NewPCG(o.Seed, 0x11ea7))
	w := tensor.NewParam("fc.weight", classes, dim)
	nn.Normal(w, ProbeInitStd, rng)
	b := tensor.NewParam("fc.bias", classes)
	opt := optim.NewLARS([]optim.Group{{Params: []*tensor.Tensor{w, b}}}, 0.9)
	spe := (train.N + o.Batch - 1) / o.Batch
	total := spe * o.Epochs
	sched := optim.Cosine{Base: optim.ScaledLR(o.LR, o.Batch), Total: total}
	res := &LinearResult{Epochs: o.Epochs, Batch: o.Batch, LR: sched.Base, Steps: total,
		Cached: o.CachedFeatures, Dim: dim, Classes: classes}

	perm := func(epoch int) []int {
		r := rand.New(rand.NewPCG(o.Seed^0x5eed5, uint64(epoch)))
		return r.Perm(train.N)
	}
	gl := tensor.NewGraph()
	// step trains the layer on one batch of features and returns its loss and the
	// number of correct predictions.
	step := func(s int, feats []float32, labels []int) (float64, int, error) {
		gl.Reset()
		x := gl.Input(feats, len(labels), dim)
		logits := gl.Linear(x, w, b)
		loss := gl.CrossEntropy(logits, labels)
		if err := gl.Err(); err != nil {
			return 0, 0, err
		}
		correct := countCorrect(logits.Data, labels, classes)
		w.ZeroGrad()
		b.ZeroGrad()
		if err := gl.Backward(loss); err != nil {
			return 0, 0, err
		}
		opt.Step(sched.At(s))
		return float64(loss.Item()), correct, nil
	}
	var epochLoss float64
	var epochCorrect, epochSeen, epochSteps int
	endStep := func(s int, loss float64, correct, n int) error {
		if math.IsNaN(loss) || math.IsInf(loss, 0) {
			return fmt.Errorf("eval: linear probe: loss %v at step %d", loss, s+1)
		}
		epochLoss += loss
		epochCorrect += correct
		epochSeen += n
		epochSteps++
		if (s+1)%spe == 0 {
			e := (s + 1) / spe
			res.EpochLoss = append(res.EpochLoss, epochLoss/float64(epochSteps))
			res.EpochAccuracy = append(res.EpochAccuracy, float64(epochCorrect)/float64(epochSeen))
			if o.Log != nil {
				fmt.Fprintf(o.Log, "linear probe epoch %d/%d: loss %.4f, train acc %.4f, lr %.4g\n",
					e, o.Epochs, res.EpochLoss[e-1], res.EpochAccuracy[e-1], sched.At(s))
			}
			epochLoss, epochCorrect, epochSeen, epochSteps = 0, 0, 0, 0
		}
		return nil
	}

	if o.CachedFeatures {
		xb := make([]float32, o.Batch*dim)
		yb := make([]int, o.Batch)
		for e := 0; e < o.Epochs; e++ {
			p := perm(e)
			for k := 0; k < spe; k++ {
				lo, hi := k*o.Batch, min((k+1)*o.Batch, train.N)
				for i, j := range p[lo:hi] {
					copy(xb[i*dim:(i+1)*dim], trainFeats[j*dim:(j+1)*dim])
					yb[i] = trainLabels[j]
				}
				s := e*spe + k
				loss, correct, err := step(s, xb[:(hi-lo)*dim], yb[:hi-lo])
				if err != nil {
					return nil, fmt.Errorf("eval: linear probe step %d: %w", s+1, err)
				}
				if err := endStep(s, loss, correct, hi-lo); err != nil {
					return nil, err
				}
			}
		}
	} else {
		probe := recipe.Probe()
		var cur []int
		curEpoch := -1
		sampler := func(s int) []int {
			e := s / spe
			if e != curEpoch {
				cur, curEpoch = perm(e), e
			}
			k := s % spe
			return cur[k*o.Batch : min((k+1)*o.Batch, train.N)]
		}
		loader, err := data.NewLoader(data.LoaderConfig{Dataset: train, Recipe: probe, Sampler: sampler,
			Batch: o.Batch, Steps: total, Seed: o.Seed, Workers: o.Workers, SingleView: true})
		if err != nil {
			return nil, err
		}
		defer loader.Close()
		gf := tensor.NewGraph()
		gf.SetNoGrad(true)
		for s := 0; s < total; s++ {
			bt, err := loader.Next()
			if err != nil {
				return nil, fmt.Errorf("eval: linear probe step %d: %w", s+1, err)
			}
			gf.Reset()
			f := m.Represent(gf, gf.Input(bt.X1, bt.N, bt.C, bt.H, bt.W))
			if err := gf.Err(); err != nil {
				return nil, fmt.Errorf("eval: linear probe step %d: %w", s+1, err)
			}
			loss, correct, err := step(s, f.Data, bt.Labels)
			if err != nil {
				return nil, fmt.Errorf("eval: linear probe step %d: %w", s+1, err)
			}
			if err := endStep(s, loss, correct, bt.N); err != nil {
				return nil, err
			}
		}
	}
	res.TrainAccuracy = linearAccuracy(trainFeats, trainLabels, dim, classes, w, b)
	res.ValAccuracy = linearAccuracy(valFeats, valLabels, dim, classes, w, b)
	res.Seconds = time.Since(t0).Seconds()
	return res, nil
}

// countCorrect counts the rows of logits [len(labels), classes] whose arg-max (the
// smaller class on ties) is the label.
func countCorrect(logits []float32, labels []int, classes int) int {
	n := 0
	for i, y := range labels {
		row := logits[i*classes : (i+1)*classes]
		best := 0
		for k := 1; k < classes; k++ {
			if row[k] > row[best] {
				best = k
			}
		}
		if best == y {
			n++
		}
	}
	return n
}

// linearAccuracy is the top-1 accuracy of x w^T + b on feats.
func linearAccuracy(feats []float32, labels []int, dim, classes int, w, b *tensor.Tensor) float64 {
	if len(labels) == 0 {
		return 0
	}
	g := tensor.NewGraph()
	g.SetNoGrad(true)
	correct := 0
	const chunk = 1024
	for lo := 0; lo < len(labels); lo += chunk {
		hi := min(lo+chunk, len(labels))
		g.Reset()
		logits := g.Linear(g.Input(feats[lo*dim:hi*dim], hi-lo, dim), w, b)
		correct += countCorrect(logits.Data, labels[lo:hi], classes)
	}
	return float64(correct) / float64(len(labels))
}
