package main

import (
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/siam-ssl/siam/data"
	"github.com/siam-ssl/siam/eval"
	"github.com/siam-ssl/siam/evalrun"
	"github.com/siam-ssl/siam/train"
)

// loadedRun is a run folder's trained model with the datasets to evaluate it on
// (package evalrun, whose evaluations siam sweep shares), or a backbone loaded
// with --weights.
type loadedRun struct {
	*evalrun.Run
	Weights *weightsInfo // set for --weights: the model measured (weights.go)
}

// dataName is how records and messages name a dataset spec.
func dataName(spec string) string { return evalrun.DataName(spec) }

// loadRun loads RUN_DIR's checkpoint and opens dataSpec, or the run's own dataset
// when dataSpec is empty.
func loadRun(dir, dataSpec string, dataSet bool) (*loadedRun, error) {
	r, err := evalrun.Load(dir, dataSpec, dataSet)
	if err != nil {
		return nil, err
	}
	return &loadedRun{Run: r}, nil
}

// needTest returns the run's validation set or an error naming the dataset.
func (r *loadedRun) needTest() (*data.Dataset, error) { return r.NeedTest() }

// record starts a results.jsonl record of the given kind for this run.
func (r *loadedRun) record(kind string) map[string]any { return r.Record(kind) }

// appendResult adds rec, stamped with the current time, as one line of
// RUN_DIR/results.jsonl (a single write in append mode).
func appendResult(dir string, rec map[string]any) error { return evalrun.Append(dir, rec) }

// evalFlags are the flags every `siam eval` subcommand takes.
type evalFlags struct {
	checkpoint, data string
	batch            int
	w                weightsFlags // --weights and its flags (knn, linear)
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
	if e.checkpoint == "" && cmd.Flags().Lookup("weights") != nil && !cmd.Flags().Changed("weights") {
		return nil, errors.New("give --checkpoint RUN_DIR or --weights FILE")
	}
	if e.w.resolve(cmd); e.w.used() {
		if e.checkpoint != "" {
			return nil, errors.New("give --checkpoint RUN_DIR or --weights FILE, not both")
		}
		return loadWeights(&e.w, e.w.files[0], e.data)
	}
	return loadRun(e.checkpoint, e.data, cmd.Flags().Changed("data"))
}

// newEval is `siam eval`: k-NN, linear probe and validation loss of a run.
func newEval() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "eval",
		Short: "Evaluate a trained run: k-NN accuracy, linear probe, validation loss of its method",
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
  siam eval knn --checkpoint runs/multi --train-samples 10000
  siam eval knn --weights checkpoint_0099.pth.tar --data cifar10 --size 32`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			t0 := time.Now()
			if samples < 0 {
				return fmt.Errorf("--train-samples %d < 0", samples)
			}
			// Zero is not "the default" here: it would silently run another setting.
			if maxK < 1 {
				return fmt.Errorf("--max-k %d < 1", maxK)
			}
			if wk < 1 {
				return fmt.Errorf("--k %d < 1", wk)
			}
			if !(temp > 0) || math.IsInf(temp, 0) {
				return fmt.Errorf("--temperature %v must be a positive number", temp)
			}
			r, err := ef.load(cmd)
			if err != nil {
				return err
			}
			rec, res, err := r.KNN(evalrun.KNNOptions{KNNOptions: eval.KNNOptions{MaxK: maxK, WeightedK: wk, Temperature: temp},
				TrainSamples: samples, Seed: seed, Batch: ef.batch})
			if err != nil {
				return err
			}
			if err := appendResult(r.Dir, rec); err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "%s on %s: %d training images as memory, %d validation queries, d=%d\n",
				r.title(), dataName(r.Data), res.NumKeys, res.NumQueries, res.Dim)
			fmt.Fprintf(out, "k-NN majority vote (k = 1..%d): best k %d, accuracy %.4f\n", len(res.Accuracy), res.BestK, res.BestAccuracy)
			fmt.Fprintf(out, "weighted %d-NN (T %g): accuracy %.4f\n", res.WeightedK, res.Temperature, res.WeightedAccuracy)
			fmt.Fprintf(out, "%.1fs; appended to %s\n", time.Since(t0).Seconds(), filepath.Join(r.Dir, train.ResultsFile))
			return nil
		},
	}
	ef.add(cmd, 0, forwardBatch)
	ef.w.add(cmd, false)
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
  siam eval linear --weights resnet18.pth --data cifar10 --cached-features
  siam eval linear --checkpoint runs/multi --epochs 90 --batch 256`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.Epochs < 1 { // zero is not "the default": it would silently train 90 epochs
				return fmt.Errorf("--epochs %d < 1", o.Epochs)
			}
			r, err := ef.load(cmd)
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
			rec, res, err := r.Linear(o)
			if err != nil {
				return err
			}
			if err := appendResult(r.Dir, rec); err != nil {
				return err
			}
			mode := "augmented (RandomResizedCrop + flip)"
			if res.Cached {
				mode = "cached features"
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "%s on %s: linear probe, %d epochs, %s, batch %d, lr %.4g\n",
				r.title(), dataName(r.Data), res.Epochs, mode, res.Batch, res.LR)
			fmt.Fprintf(out, "top-1 accuracy: validation %.4f, training %.4f; final loss %.4f\n",
				res.ValAccuracy, res.TrainAccuracy, res.EpochLoss[len(res.EpochLoss)-1])
			fmt.Fprintf(out, "%.1fs; appended to %s\n", res.Seconds, filepath.Join(r.Dir, train.ResultsFile))
			return nil
		},
	}
	ef.add(cmd, eval.DefaultProbeBatch, "probe training batch (the learning rate scales with batch/256)")
	ef.w.add(cmd, false)
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
		Short: "Validation loss of the run's method (two seeded views per image, model in eval mode)",
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
			if split != "test" && split != "val" && split != "train" {
				return fmt.Errorf("--split %q: want test or train", split)
			}
			o.Batch = ef.batch
			rec, res, err := r.Loss(evalrun.LossOptions{LossOptions: o, Split: split})
			if err != nil {
				return err
			}
			if err := appendResult(r.Dir, rec); err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "%s (step %d) on %s %s: %s loss %.4f over %d images (views seed %d)\n",
				r.Dir, r.Step, dataName(r.Data), split, r.Model.Name(), res.Loss, res.Images, res.Seed)
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
