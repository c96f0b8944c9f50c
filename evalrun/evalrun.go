// Package evalrun evaluates a trained run folder the way the paper does (SPEC §5,
// §6): the collapse spectrum of its representations, k-NN accuracy, the
// validation loss and the linear probe. Each evaluation returns one results.jsonl
// record in the format `siam eval` and `siam collapse` write, so the CLI commands
// and `siam sweep` share one implementation and `siam report` / `siam predict`
// read every record the same way.
//
// It sits at the train layer: it loads checkpoints through package train and
// computes through collapse and eval.
package evalrun

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/siam-ssl/siam/data"
	"github.com/siam-ssl/siam/eval"
	"github.com/siam-ssl/siam/ssl"
	"github.com/siam-ssl/siam/train"
)

// Run is a run folder's trained model with the datasets to evaluate it on.
type Run struct {
	Dir         string
	Model       ssl.Method
	Step        int
	Config      train.Config
	Data        string // the dataset spec used ("" = embedded)
	Train, Test *data.Dataset
	Recipe      data.Recipe // the run's augmentation; its evaluation transform normalises
	// Rep, when set, is evaluated instead of Model: a backbone trained elsewhere
	// (siam eval --weights). Such a run has no Model, so no validation loss.
	Rep eval.Representer
	// Annotate, when set, completes every record (e.g. with the weights file
	// measured); it may also delete fields such as "step".
	Annotate func(Record)

	// feats caches whole-split features between evaluations of one Run
	// (collapse and k-NN both need the training split's).
	feats map[featKey]*features
}

type featKey struct {
	split string
	batch int
}

type features struct {
	x      []float32
	dim    int
	labels []int
}

// Record is one line of RUN_DIR/results.jsonl: "kind" (collapse, knn, linear,
// loss), "step" (the checkpoint's), "data" (the dataset name) and the
// evaluation's values.
type Record map[string]any

// DataName is how records and messages name a dataset spec ("" is "embedded").
func DataName(spec string) string {
	if spec == "" {
		return "embedded"
	}
	return spec
}

// Load loads dir's checkpoint into the model its config describes, in evaluation
// mode, and opens the run's own dataset, or dataSpec when override is set.
func Load(dir, dataSpec string, override bool) (*Run, error) {
	if dir == "" {
		return nil, errors.New("--checkpoint RUN_DIR is required")
	}
	ts, ck, err := train.ReadCheckpointMeta(dir)
	if err != nil {
		return nil, err
	}
	spec := ck.Config.Data
	if override {
		spec = dataSpec
	}
	dcfg := ck.Config
	dcfg.Data = spec
	tr, te, err := train.OpenData(dcfg, dir, os.Stderr) // the run's image size and streaming
	if err != nil {
		return nil, err
	}
	m, err := train.BuildModel(ck.Config, train.InputOf(ck.Config, tr))
	if err != nil {
		return nil, err
	}
	if err := ssl.LoadState(m, ts); err != nil {
		return nil, fmt.Errorf("%s does not fit dataset %s (%d-channel images): %w", filepath.Join(dir, train.CheckpointFile), DataName(spec), tr.C, err)
	}
	m.SetTraining(false)
	return &Run{Dir: dir, Model: m, Step: ck.Step, Config: ck.Config, Data: spec,
		Train: tr, Test: te, Recipe: train.AugmentRecipe(ck.Config, tr)}, nil
}

// NeedTest returns the run's validation set or an error naming the dataset.
func (r *Run) NeedTest() (*data.Dataset, error) {
	if r.Test == nil {
		return nil, fmt.Errorf("dataset %s has no validation split", DataName(r.Data))
	}
	return r.Test, nil
}

// Split returns the training ("train") or validation ("test" or "val") split.
func (r *Run) Split(name string) (*data.Dataset, error) {
	switch name {
	case "train":
		return r.Train, nil
	case "test", "val":
		return r.NeedTest()
	}
	return nil, fmt.Errorf("split %q: want train or test", name)
}

// Record starts a results.jsonl record of the given kind for this run.
func (r *Run) Record(kind string) Record {
	rec := Record{"kind": kind, "step": r.Step, "data": DataName(r.Data)}
	if r.Annotate != nil {
		r.Annotate(rec)
	}
	return rec
}

// Representer is the model the run's features come from: Rep when set, else Model.
func (r *Run) Representer() eval.Representer {
	if r.Rep != nil {
		return r.Rep
	}
	return r.Model
}

// Append adds rec, stamped with the current time, as one line of
// dir/results.jsonl (a single write in append mode).
func Append(dir string, rec Record) error {
	rec["time"] = time.Now().UTC().Format(time.RFC3339)
	return train.AppendJSONL(filepath.Join(dir, train.ResultsFile), map[string]any(rec))
}

// Features returns the backbone features of split at idx (nil: every image),
// evaluation transform of the run's recipe. Whole-split features are cached on
// the Run; with consume the cached copy is handed over (the caller may modify
// it) and forgotten.
func (r *Run) Features(split string, idx []int, batch int, consume bool) (x []float32, dim int, labels []int, err error) {
	ds, err := r.Split(split)
	if err != nil {
		return nil, 0, nil, err
	}
	if idx != nil {
		return eval.FeaturesWith(r.Representer(), ds, r.Recipe, idx, batch)
	}
	k := featKey{split, batch}
	if f, ok := r.feats[k]; ok {
		if consume {
			delete(r.feats, k)
		}
		return f.x, f.dim, f.labels, nil
	}
	x, dim, labels, err = eval.FeaturesWith(r.Representer(), ds, r.Recipe, nil, batch)
	if err != nil {
		return nil, 0, nil, err
	}
	if !consume {
		if r.feats == nil {
			r.feats = map[featKey]*features{}
		}
		r.feats[k] = &features{x, dim, labels}
	}
	return x, dim, labels, nil
}

// FromSummary wraps a run train.Run has just finished (its model, datasets and
// config in memory) for evaluation without reading the checkpoint back. The model
// is put in evaluation mode.
func FromSummary(s *train.Summary) (*Run, error) {
	if s == nil || s.Model == nil || s.Train == nil {
		return nil, errors.New("evalrun: summary without a model or training set")
	}
	s.Model.SetTraining(false)
	return &Run{Dir: s.Dir, Model: s.Model, Step: s.Step, Config: s.Config, Data: s.Config.Data,
		Train: s.Train, Test: s.Test, Recipe: train.AugmentRecipe(s.Config, s.Train)}, nil
}
