package train

import (
	"fmt"
	"time"

	"github.com/siam-ssl/siam/collapse"
	"github.com/siam-ssl/siam/data"
	"github.com/siam-ssl/siam/eval"
	"github.com/siam-ssl/siam/ssl"
)

// MonitorFactory builds a run's Monitor once its datasets are open; Run calls it
// (through RunOptions.NewMonitor) when the config's MonitorEvery is positive.
type MonitorFactory func(trainSet, testSet *data.Dataset, cfg Config) (Monitor, error)

// DefaultMonitorQueries is the largest number of validation images the monitor's
// k-NN classifies.
const DefaultMonitorQueries = 2000

// MonitorOptions configures NewMonitorWith.
type MonitorOptions struct {
	// Samples is the number of training images (a fixed seeded sample) whose
	// features give the spectrum and serve as the k-NN memory.
	Samples int
	// Queries is the number of validation images (a fixed seeded sample; 0 means
	// DefaultMonitorQueries) classified by the weighted k-NN; negative turns k-NN off.
	Queries int
	// Seed picks both samples.
	Seed uint64
	// Recipe gives the evaluation transform (normalisation); use the training recipe.
	Recipe data.Recipe
	// Method computes the spectrum (MethodCovariance64 is exact at these sizes and
	// costs little).
	Method collapse.Method
	// Batch is the feature-extraction batch (0 means eval.DefaultBatch).
	Batch int
}

// AugmentRecipe returns the augmentation recipe a config trains with on trainSet:
// data.RecipeFor(trainSet) for "auto" (normalised with the set's own statistics),
// or the named preset, producing views of side cfg.Size when it is set. Its
// evaluation transform is what evaluation should use, so that features are
// computed on images normalised as in training.
func AugmentRecipe(cfg Config, trainSet *data.Dataset) data.Recipe {
	var r data.Recipe
	switch cfg.Augment {
	case "gray28":
		r = data.SimSiamGray28()
	case "color32":
		r = data.SimSiamColor32()
	default:
		r = data.RecipeFor(trainSet)
	}
	if cfg.Size > 0 {
		r.Size = cfg.Size
	}
	return r
}

// NewMonitor is the MonitorFactory of `siam train --monitor-every`: the collapse
// and k-NN monitor of NewMonitorWith on cfg.MonitorSamples training images and up
// to DefaultMonitorQueries validation images, both drawn with cfg.Seed, with the
// run's own evaluation transform.
func NewMonitor(trainSet, testSet *data.Dataset, cfg Config) (Monitor, error) {
	return NewMonitorWith(trainSet, testSet, MonitorOptions{Samples: cfg.MonitorSamples, Seed: cfg.Seed,
		Recipe: AugmentRecipe(cfg, trainSet), Method: collapse.MethodCovariance64})
}

// NewMonitorWith returns a Monitor that, at every call, computes the backbone
// features (evaluation mode, no augmentation) of a fixed seeded sample of
// opts.Samples training images and returns their singular values and the fields
//
//	auc, rankme, effective_rank, dim_std: collapse metrics of the sample (SPEC §5);
//	knn_acc: weighted 200-NN top-1 accuracy (T 0.1, a fraction) of up to
//	         opts.Queries validation images with the sample as memory;
//	monitor_s: the seconds the measurement took.
//
// knn_acc is left out when testSet is nil or opts.Queries < 0. The samples are
// chosen once, so successive calls measure the same images.
func NewMonitorWith(trainSet, testSet *data.Dataset, opts MonitorOptions) (Monitor, error) {
	if trainSet == nil {
		return nil, fmt.Errorf("monitor: no training set")
	}
	if opts.Samples < 2 {
		return nil, fmt.Errorf("monitor: %d samples; need at least 2", opts.Samples)
	}
	if err := opts.Recipe.Validate(trainSet.C); err != nil {
		return nil, fmt.Errorf("monitor: %w", err)
	}
	keys := eval.SampleIndices(trainSet.N, opts.Samples, opts.Seed)
	if len(keys) < 2 {
		return nil, fmt.Errorf("monitor: the training set has %d image(s); need at least 2", len(keys))
	}
	var queries []int
	if testSet != nil && opts.Queries >= 0 {
		nq := opts.Queries
		if nq == 0 {
			nq = DefaultMonitorQueries
		}
		queries = eval.SampleIndices(testSet.N, nq, opts.Seed+1)
	}
	return func(step int, m ssl.Method) (map[string]float64, []float64, error) {
		t0 := time.Now()
		feats, dim, labels, err := eval.FeaturesWith(m, trainSet, opts.Recipe, keys, opts.Batch)
		if err != nil {
			return nil, nil, err
		}
		res, err := collapse.Spectrum(feats, len(keys), dim, collapse.Options{Method: opts.Method})
		if err != nil {
			return nil, nil, err
		}
		fields := map[string]float64{"auc": res.AUC, "rankme": res.RankMe,
			"effective_rank": res.EffectiveRank, "dim_std": res.MeanDimStd}
		if len(queries) > 0 {
			qf, qdim, ql, err := eval.FeaturesWith(m, testSet, opts.Recipe, queries, opts.Batch)
			if err != nil {
				return nil, nil, err
			}
			if qdim != dim {
				return nil, nil, fmt.Errorf("monitor: feature width %d on train, %d on val", dim, qdim)
			}
			k, err := eval.KNN(feats, labels, qf, ql, dim, eval.KNNOptions{MaxK: 1, InPlace: true,
				NumClasses: max(trainSet.Classes, testSet.Classes)})
			if err != nil {
				return nil, nil, err
			}
			fields["knn_acc"] = k.WeightedAccuracy
		}
		fields["monitor_s"] = time.Since(t0).Seconds()
		return fields, res.Singular, nil
	}, nil
}
