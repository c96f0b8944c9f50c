package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/siam-ssl/siam/data"
	"github.com/siam-ssl/siam/eval"
	"github.com/siam-ssl/siam/ssl"
	"github.com/siam-ssl/siam/train"
)

// loadedRun is a run folder's trained model with the datasets to evaluate it on.
type loadedRun struct {
	Dir         string
	Model       *ssl.SimSiam
	Step        int
	Config      train.Config
	Data        string // the dataset spec used ("" = embedded)
	Train, Test *data.Dataset
	Recipe      data.Recipe // the run's augmentation; its evaluation transform normalises
}

// dataName is how records and messages name a dataset spec.
func dataName(spec string) string {
	if spec == "" {
		return "embedded"
	}
	return spec
}

// loadRun loads RUN_DIR's checkpoint and opens dataSpec, or the run's own dataset
// when dataSpec is empty.
func loadRun(dir, dataSpec string, dataSet bool) (*loadedRun, error) {
	if dir == "" {
		return nil, errors.New("--checkpoint RUN_DIR is required")
	}
	ts, ck, err := train.ReadCheckpointMeta(dir)
	if err != nil {
		return nil, err
	}
	spec := ck.Config.Data
	if dataSet {
		spec = dataSpec
	}
	dcfg := ck.Config
	dcfg.Data = spec
	tr, te, err := train.OpenData(dcfg, dir, os.Stderr) // the run's image size and streaming
	if err != nil {
		return nil, err
	}
	m, err := train.BuildModel(ck.Config, tr.C)
	if err != nil {
		return nil, err
	}
	if err := m.All.LoadStateDict(ts); err != nil {
		return nil, fmt.Errorf("%s does not fit dataset %s (%d-channel images): %w", filepath.Join(dir, train.CheckpointFile), dataName(spec), tr.C, err)
	}
	m.SetTraining(false)
	return &loadedRun{Dir: dir, Model: m, Step: ck.Step, Config: ck.Config, Data: spec,
		Train: tr, Test: te, Recipe: train.AugmentRecipe(ck.Config, tr)}, nil
}

// needTest returns the run's validation set or an error naming the dataset.
func (r *loadedRun) needTest() (*data.Dataset, error) {
	if r.Test == nil {
		return nil, fmt.Errorf("dataset %s has no validation split", dataName(r.Data))
	}
	return r.Test, nil
}

// record starts a results.jsonl record of the given kind for this run.
func (r *loadedRun) record(kind string) map[string]any {
	return map[string]any{"kind": kind, "step": r.Step, "data": dataName(r.Data)}
}

// appendResult adds rec, stamped with the current time, as one line of
// RUN_DIR/results.jsonl (a single write in append mode).
func appendResult(dir string, rec map[string]any) error {
	rec["time"] = time.Now().UTC().Format(time.RFC3339)
	return train.AppendJSONL(filepath.Join(dir, train.ResultsFile), rec)
}

// evalFlags are the flags every `siam eval` subcommand takes.
type evalFlags struct {
	checkpoint, data string
	batch            int
}

func (e *evalFlags) add(cmd *cobra.Command, batch int, batchUsage string) {
	f := cmd.Flags()
	f.StringVar(&e.checkpoint, "checkpoint", "", "run folder holding checkpoint.safetensors (required); results go to its results.jsonl")
	f.StringVar(&e.data, "data", "", "dataset to evaluate on (default: the run's own dataset)")
	f.IntVar(&e.batch, "batch", batch, batchUsage)
}

// forwardBatch is the usage of --batch where it sizes forward passes.
const forwardBatch = "images per forward pass (0 = 128)"

func (e *evalFlags) load(cmd *cobra.Command) (*loadedRun, error) {
	if e.batch < 0 {
		return nil, fmt.Errorf("--batch %d < 0", e.batch)
	}
	return loadRun(e.checkpoint, e.data, cmd.Flags().Changed("data"))
}

// newEval is `siam eval`: k-NN, linear probe and validation loss of a run.
func newEval() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "eval",
		Short: "Evaluate a trained run: k-NN accuracy, linear probe, validation SimSiam loss",
		Long: `Evaluate a run's backbone with the paper's protocols (SPEC §6). Each subcommand prints
its result and appends one JSON line to RUN_DIR/results.jsonl ("kind": knn, linear or
loss), which siam predict and siam report read.`,
	}
	cmd.AddCommand(newEvalKNN(), newEvalLinear(), newEvalLoss())
	return cmd
}

func newEvalKNN() *cobra.Command {
	var ef evalFlags
	var maxK, wk, samples int
	var temp float64
	var seed uint64
	cmd := &cobra.Command{
		Use:   "knn",
		Short: "k-NN accuracy: training-set features as memory, validation images as queries",
		Long: `Backbone features (evaluation mode, no augmentation) of the training set (memory) and the
validation set (queries), L2-normalised, cosine similarity. Reports the paper's plain
majority vote swept over k = 1..--max-k with the best k, and the weighted vote used for
monitoring (--k neighbours, weights exp(sim/T)).`,
		Example: `  siam eval knn --checkpoint runs/multi
  siam eval knn --checkpoint runs/multi --train-samples 10000`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			t0 := time.Now()
			if samples < 0 {
				return fmt.Errorf("--train-samples %d < 0", samples)
			}
			r, err := ef.load(cmd)
			if err != nil {
				return err
			}
			test, err := r.needTest()
			if err != nil {
				return err
			}
			var idx []int
			if samples > 0 && samples < r.Train.N {
				idx = eval.SampleIndices(r.Train.N, samples, seed)
			}
			keys, dim, kl, err := eval.FeaturesWith(r.Model, r.Train, r.Recipe, idx, ef.batch)
			if err != nil {
				return err
			}
			queries, qdim, ql, err := eval.FeaturesWith(r.Model, test, r.Recipe, nil, ef.batch)
			if err != nil {
				return err
			}
			if qdim != dim {
				return fmt.Errorf("feature width %d on train, %d on val", dim, qdim)
			}
			res, err := eval.KNN(keys, kl, queries, ql, dim, eval.KNNOptions{MaxK: maxK, WeightedK: wk,
				Temperature: temp, InPlace: true, NumClasses: max(r.Train.Classes, test.Classes)})
			if err != nil {
				return err
			}
			rec := r.record("knn")
			rec["accuracy"], rec["best_k"], rec["weighted_accuracy"] = res.BestAccuracy, res.BestK, res.WeightedAccuracy
			rec["weighted_k"], rec["temperature"], rec["k_sweep"] = res.WeightedK, res.Temperature, res.Accuracy
			rec["keys"], rec["queries"], rec["dim"] = res.NumKeys, res.NumQueries, res.Dim
			rec["seconds"] = time.Since(t0).Seconds()
			if err := appendResult(r.Dir, rec); err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "%s (step %d) on %s: %d training images as memory, %d validation queries, d=%d\n",
				r.Dir, r.Step, dataName(r.Data), res.NumKeys, res.NumQueries, res.Dim)
			fmt.Fprintf(out, "k-NN majority vote (k = 1..%d): best k %d, accuracy %.4f\n", len(res.Accuracy), res.BestK, res.BestAccuracy)
			fmt.Fprintf(out, "weighted %d-NN (T %g): accuracy %.4f\n", res.WeightedK, res.Temperature, res.WeightedAccuracy)
			fmt.Fprintf(out, "%.1fs; appended to %s\n", time.Since(t0).Seconds(), filepath.Join(r.Dir, train.ResultsFile))
			return nil
		},
	}
	ef.add(cmd, 0, forwardBatch)
	f := cmd.Flags()
	f.IntVar(&maxK, "max-k", eval.DefaultMaxK, "largest k of the majority-vote sweep (k = 1..max-k)")
	f.IntVar(&wk, "k", eval.DefaultWeightedK, "neighbours of the weighted vote")
	f.Float64Var(&temp, "temperature", eval.DefaultTemperature, "temperature T of the weighted vote's weights exp(sim/T)")
	f.IntVar(&samples, "train-samples", 0, "use a seeded sample of this many training images as memory (0 = all)")
	f.Uint64Var(&seed, "seed", 1, "seed of --train-samples")
	return cmd
}

func newEvalLinear() *cobra.Command {
	var ef evalFlags
	var o eval.LinearOptions
	var quiet bool
	cmd := &cobra.Command{
		Use:   "linear",
		Short: "Linear probe: one linear layer on the frozen backbone (paper: 90 epochs)",
		Long: `Trains one fully connected layer (init N(0, 0.01), bias 0) on the frozen backbone with LARS
(trust 0.001), lr 1.6 x batch/256, cosine schedule, momentum 0.9, weight decay 0 and
cross-entropy, on RandomResizedCrop + flip views (SPEC §6), then reports top-1 accuracy
on the validation set.

Cost: every epoch runs the backbone forward over the whole training set, so the
paper's 90 epochs cost about 90 feature passes (minutes to hours on a CPU).
--cached-features computes the features of the un-augmented images once and trains
on them: about one feature pass in all, usually a little less accurate.

The default rate is the one the paper's probe ran at (0.1 x 4096/256 = 1.6): LARS
moves the layer by lr x 0.001 x ||W|| per step, so the per-step rate is what
transfers, and the nominal "0.1 x batch/256" at batch 256 under-trains the layer.
Keep --lr the same for every model you compare (docs/EVAL.md).`,
		Example: `  siam eval linear --checkpoint runs/multi --cached-features
  siam eval linear --checkpoint runs/multi --epochs 90 --batch 256`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := ef.load(cmd)
			if err != nil {
				return err
			}
			test, err := r.needTest()
			if err != nil {
				return err
			}
			if ef.batch < 1 {
				return fmt.Errorf("--batch %d < 1", ef.batch)
			}
			o.Recipe, o.Batch = &r.Recipe, ef.batch
			if !quiet {
				o.Log = cmd.ErrOrStderr()
			}
			res, err := eval.LinearProbe(r.Model, r.Train, test, o)
			if err != nil {
				return err
			}
			rec := r.record("linear")
			rec["accuracy"], rec["train_accuracy"], rec["epochs"], rec["cached"] = res.ValAccuracy, res.TrainAccuracy, res.Epochs, res.Cached
			rec["batch"], rec["lr"], rec["seed"], rec["epoch_loss"] = res.Batch, res.LR, o.Seed, res.EpochLoss
			rec["seconds"] = res.Seconds
			if err := appendResult(r.Dir, rec); err != nil {
				return err
			}
			mode := "augmented (RandomResizedCrop + flip)"
			if res.Cached {
				mode = "cached features"
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "%s (step %d) on %s: linear probe, %d epochs, %s, batch %d, lr %.4g\n",
				r.Dir, r.Step, dataName(r.Data), res.Epochs, mode, res.Batch, res.LR)
			fmt.Fprintf(out, "top-1 accuracy: validation %.4f, training %.4f; final loss %.4f\n",
				res.ValAccuracy, res.TrainAccuracy, res.EpochLoss[len(res.EpochLoss)-1])
			fmt.Fprintf(out, "%.1fs; appended to %s\n", res.Seconds, filepath.Join(r.Dir, train.ResultsFile))
			return nil
		},
	}
	ef.add(cmd, eval.DefaultProbeBatch, "probe training batch (the learning rate scales with batch/256)")
	f := cmd.Flags()
	f.IntVar(&o.Epochs, "epochs", eval.DefaultProbeEpochs, "epochs over the training set (paper: 90; see the cost above)")
	f.BoolVar(&o.CachedFeatures, "cached-features", false, "train on features of un-augmented images computed once (fast)")
	f.Float64Var(&o.LR, "lr", eval.DefaultProbeLR, "base learning rate, scaled by batch/256")
	f.Uint64Var(&o.Seed, "seed", 0, "seed of the initialisation, shuffling and augmentation")
	f.IntVar(&o.Workers, "workers", 0, "augmentation workers (0 = GOMAXPROCS)")
	f.BoolVar(&quiet, "quiet", false, "no per-epoch lines on stderr")
	return cmd
}

func newEvalLoss() *cobra.Command {
	var ef evalFlags
	var o eval.LossOptions
	var split string
	cmd := &cobra.Command{
		Use:   "loss",
		Short: "Validation SimSiam loss (two seeded views per image, model in eval mode)",
		Long: `The symmetrised negative cosine loss of the run's model on the validation set: two
views of each image from the run's training augmentation, fixed by --seed and the
image (every model sees the same views), every batch-norm layer on its running
statistics (the model in eval mode, as the reference computes it). -1 is perfect
agreement. Together with the collapse AUC it predicts accuracy without labels
(siam predict, SPEC §7).`,
		Example: `  siam eval loss --checkpoint runs/multi
  siam eval loss --checkpoint runs/multi --samples 1000`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			t0 := time.Now()
			r, err := ef.load(cmd)
			if err != nil {
				return err
			}
			ds := r.Train
			switch split {
			case "test", "val":
				if ds, err = r.needTest(); err != nil {
					return err
				}
			case "train":
			default:
				return fmt.Errorf("--split %q: want test or train", split)
			}
			o.Batch, o.Recipe = ef.batch, &r.Recipe
			res, err := eval.ValLoss(r.Model, ds, o)
			if err != nil {
				return err
			}
			rec := r.record("loss")
			rec["val_loss"], rec["images"], rec["seed"], rec["split"] = res.Loss, res.Images, res.Seed, split
			rec["seconds"] = time.Since(t0).Seconds()
			if err := appendResult(r.Dir, rec); err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "%s (step %d) on %s %s: SimSiam loss %.4f over %d images (views seed %d)\n",
				r.Dir, r.Step, dataName(r.Data), split, res.Loss, res.Images, res.Seed)
			fmt.Fprintf(out, "%.1fs; appended to %s\n", time.Since(t0).Seconds(), filepath.Join(r.Dir, train.ResultsFile))
			return nil
		},
	}
	ef.add(cmd, 0, forwardBatch)
	f := cmd.Flags()
	f.IntVar(&o.Samples, "samples", 0, "evaluate a seeded sample of this many images (0 = all)")
	f.Uint64Var(&o.Seed, "seed", eval.DefaultLossSeed, "seed of the views and the sample (keep it fixed to compare models)")
	f.IntVar(&o.Workers, "workers", 0, "augmentation workers (0 = GOMAXPROCS)")
	f.StringVar(&split, "split", "test", "test (validation) or train")
	return cmd
}
