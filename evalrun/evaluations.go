package evalrun

import (
	"errors"
	"fmt"
	"time"

	"github.com/siam-ssl/siam/collapse"
	"github.com/siam-ssl/siam/eval"
)

// Evaluation kinds, as the "kind" of their results.jsonl records.
const (
	KindCollapse = "collapse"
	KindKNN      = "knn"
	KindLoss     = "loss"
	KindLinear   = "linear"
)

// Kinds lists the evaluation kinds in the order a sweep runs them (cheapest first;
// collapse before k-NN so both use one feature pass).
var Kinds = []string{KindCollapse, KindKNN, KindLoss, KindLinear}

// KNNOptions configures Run.KNN; the zero value is `siam eval knn`'s default.
type KNNOptions struct {
	eval.KNNOptions
	// TrainSamples, when > 0 and below the training set's size, uses a seeded
	// sample of that many training images as memory.
	TrainSamples int
	// Seed picks the TrainSamples sample.
	Seed uint64
	// Batch is the forward batch (0 = eval.DefaultBatch).
	Batch int
}

// KNN measures k-NN accuracy: training-set features as memory, validation images as
// queries (SPEC §6), and returns its "knn" record.
func (r *Run) KNN(o KNNOptions) (Record, *eval.KNNResult, error) {
	t0 := time.Now()
	if o.TrainSamples < 0 || o.Batch < 0 {
		return nil, nil, fmt.Errorf("k-NN: train samples %d and batch %d must be >= 0", o.TrainSamples, o.Batch)
	}
	test, err := r.NeedTest()
	if err != nil {
		return nil, nil, err
	}
	var idx []int
	if o.TrainSamples > 0 && o.TrainSamples < r.Train.N {
		idx = eval.SampleIndices(r.Train.N, o.TrainSamples, o.Seed)
	}
	keys, dim, kl, err := r.Features("train", idx, o.Batch, true)
	if err != nil {
		return nil, nil, err
	}
	queries, qdim, ql, err := r.Features("test", nil, o.Batch, true)
	if err != nil {
		return nil, nil, err
	}
	if qdim != dim {
		return nil, nil, fmt.Errorf("feature width %d on train, %d on val", dim, qdim)
	}
	ko := o.KNNOptions
	ko.InPlace, ko.NumClasses = true, max(r.Train.Classes, test.Classes)
	res, err := eval.KNN(keys, kl, queries, ql, dim, ko)
	if err != nil {
		return nil, nil, err
	}
	rec := r.Record(KindKNN)
	rec["accuracy"], rec["best_k"], rec["weighted_accuracy"] = res.BestAccuracy, res.BestK, res.WeightedAccuracy
	rec["weighted_k"], rec["temperature"], rec["k_sweep"] = res.WeightedK, res.Temperature, res.Accuracy
	rec["keys"], rec["queries"], rec["dim"] = res.NumKeys, res.NumQueries, res.Dim
	rec["seconds"] = time.Since(t0).Seconds()
	return rec, res, nil
}

// CollapseOptions configures Run.Collapse; the zero value is `siam collapse`'s
// default (the whole training split, float64 covariance).
type CollapseOptions struct {
	collapse.Options
	// Split is "train" (default) or "test".
	Split string
	// Samples, when > 0 and below the split's size, measures a seeded sample.
	Samples int
	// Seed picks the Samples sample.
	Seed uint64
	// Batch is the forward batch (0 = eval.DefaultBatch).
	Batch int
}

// Collapse computes the singular values of the run's representations and the
// collapse metrics (SPEC §5), and returns its "collapse" record.
func (r *Run) Collapse(o CollapseOptions) (Record, *collapse.Result, error) {
	if o.Split == "" {
		o.Split = "train"
	}
	if o.Samples < 0 || o.Batch < 0 {
		return nil, nil, fmt.Errorf("collapse: samples %d and batch %d must be >= 0", o.Samples, o.Batch)
	}
	ds, err := r.Split(o.Split)
	if err != nil {
		return nil, nil, err
	}
	var idx []int
	if o.Samples > 0 && o.Samples < ds.N {
		idx = eval.SampleIndices(ds.N, o.Samples, o.Seed)
	}
	feats, dim, _, err := r.Features(o.Split, idx, o.Batch, false)
	if err != nil {
		return nil, nil, err
	}
	res, err := collapse.Spectrum(feats, len(feats)/dim, dim, o.Options)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", r.Dir, err)
	}
	rec := r.Record(KindCollapse)
	rec["auc"], rec["rankme"], rec["effective_rank"], rec["mean_dim_std"] = res.AUC, res.RankMe, res.EffectiveRank, res.MeanDimStd
	rec["participation_ratio"], rec["n"], rec["d"], rec["method"] = res.ParticipationRatio, res.N, res.D, res.Method
	rec["normalized_rows"], rec["split"], rec["samples"], rec["singular_values"] = res.NormalizedRows, o.Split, o.Samples, res.Singular
	return rec, res, nil
}

// LossOptions configures Run.Loss; the zero value is `siam eval loss`'s default.
type LossOptions struct {
	eval.LossOptions
	// Split is "test" (default) or "train".
	Split string
}

// Loss measures the method's loss on two seeded views of each validation image,
// model in evaluation mode (SPEC §6, for the predictor of §7), and returns its
// "loss" record.
func (r *Run) Loss(o LossOptions) (Record, *eval.LossResult, error) {
	t0 := time.Now()
	if o.Split == "" {
		o.Split = "test"
	}
	ds, err := r.Split(o.Split)
	if err != nil {
		return nil, nil, err
	}
	if r.Model == nil {
		return nil, nil, errors.New("the validation loss needs a run's whole model (projector and predictor), not a backbone alone")
	}
	lo := o.LossOptions
	lo.Recipe = &r.Recipe
	res, err := eval.ValLoss(r.Model, ds, lo)
	if err != nil {
		return nil, nil, err
	}
	rec := r.Record(KindLoss)
	rec["val_loss"], rec["images"], rec["seed"], rec["split"] = res.Loss, res.Images, res.Seed, o.Split
	rec["method"] = r.Model.Name()
	rec["seconds"] = time.Since(t0).Seconds()
	return rec, res, nil
}

// Linear trains the linear probe on the frozen backbone (SPEC §6) and returns its
// "linear" record. o.Recipe defaults to the run's recipe.
func (r *Run) Linear(o eval.LinearOptions) (Record, *eval.LinearResult, error) {
	test, err := r.NeedTest()
	if err != nil {
		return nil, nil, err
	}
	if o.Recipe == nil {
		o.Recipe = &r.Recipe
	}
	res, err := eval.LinearProbe(r.Representer(), r.Train, test, o)
	if err != nil {
		return nil, nil, err
	}
	rec := r.Record(KindLinear)
	rec["accuracy"], rec["train_accuracy"], rec["epochs"], rec["cached"] = res.ValAccuracy, res.TrainAccuracy, res.Epochs, res.Cached
	rec["batch"], rec["lr"], rec["seed"], rec["epoch_loss"] = res.Batch, res.LR, o.Seed, res.EpochLoss
	rec["seconds"] = res.Seconds
	return rec, res, nil
}
