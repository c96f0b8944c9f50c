package sweep

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/siam-ssl/siam/atomicfile"
	"github.com/siam-ssl/siam/collapse"
	"github.com/siam-ssl/siam/data"
	"github.com/siam-ssl/siam/eval"
	"github.com/siam-ssl/siam/evalrun"
	"github.com/siam-ssl/siam/internal/hostinfo"
	"github.com/siam-ssl/siam/order"
	"github.com/siam-ssl/siam/train"
)

// RunOptions configure RunPoint.
type RunOptions struct {
	// Log receives the training progress and one line per evaluation (nil: discard).
	Log io.Writer
	// Terminal draws a progress bar instead of periodic lines.
	Terminal bool
	// StaleAfter is the lock heartbeat timeout (0: DefaultStaleAfter).
	StaleAfter time.Duration
	// OnStep, when set, is called after every training step (a hook for tests and
	// dashboards; see train.RunOptions.OnStep).
	OnStep func(step int, loss float64)
}

// RunPoint trains and evaluates one run of sweep s in its folder under dir, under
// the run's lock: it creates the folder with the run's config.yaml, or resumes it
// from its checkpoint (train.Run with Resume, bit-exact), then appends each listed
// evaluation that has no record at the final step to results.jsonl and writes
// done.json. A finished run returns at once with already set. A run locked by a
// live process fails with an error wrapping ErrBusy. A context cancellation
// checkpoints and returns train.ErrInterrupted. Any other failure is also written
// to the run's error.txt (first line: the error), which the next attempt removes.
func RunPoint(ctx context.Context, dir string, s *Sweep, p Point, o RunOptions) (already bool, err error) {
	rd := p.Dir(dir)
	if err := os.MkdirAll(rd, 0o755); err != nil {
		return false, err
	}
	lock, err := Acquire(filepath.Join(rd, LockFile), o.StaleAfter)
	if err != nil {
		return false, err
	}
	defer lock.Release()
	if isFinished(rd, s, p) {
		return true, nil
	}
	if err := os.Remove(filepath.Join(rd, ErrorFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return false, err
	}
	t0 := time.Now()
	resumed := lastStep(filepath.Join(rd, train.MetricsFile)) > 0
	err = runLocked(ctx, rd, s, p, o)
	if err == nil {
		d := done{Step: p.Config.Steps, Evals: s.Evals, Host: hostname(), Time: time.Now().UTC(), Seconds: time.Since(t0).Seconds(),
			Resumed: resumed, CPU: hostinfo.CPU(), Cores: runtime.GOMAXPROCS(0), Commit: hostinfo.Commit()}
		b, _ := json.MarshalIndent(d, "", "  ")
		return false, atomicfile.WriteFile(filepath.Join(rd, DoneFile), append(b, '\n'))
	}
	if !errors.Is(err, train.ErrInterrupted) {
		writeError(rd, err.Error())
	}
	return false, err
}

// writeError records a failure in RUN/error.txt (atomically); the first line is
// the error, then when and where it happened.
func writeError(runDir, msg string) {
	line := strings.ReplaceAll(strings.TrimSpace(msg), "\n", " ")
	body := fmt.Sprintf("%s\n\ntime: %s\nhost: %s\npid: %d\nlog: %s\n", line, time.Now().UTC().Format(time.RFC3339),
		hostname(), os.Getpid(), filepath.Join(runDir, LogFile))
	atomicfile.WriteFile(filepath.Join(runDir, ErrorFile), []byte(body))
}

// sweepFiles may be in a run folder before its config.yaml.
var sweepFiles = []string{LockFile, LockFile + ".break", ErrorFile, LogFile}

func runLocked(ctx context.Context, rd string, s *Sweep, p Point, o RunOptions) error {
	log := o.Log
	if log == nil {
		log = io.Discard
	}
	cfgPath := filepath.Join(rd, train.ConfigFile)
	b, err := os.ReadFile(cfgPath)
	switch {
	case err == nil:
		c, err := train.ParseConfigYAML(b, train.DefaultConfig())
		if err != nil {
			return fmt.Errorf("%s: %w", cfgPath, err)
		}
		if d := configDiff(c, p.Config); d != "" {
			return fmt.Errorf("%s does not match the sweep (%s); move the folder away to train it afresh", cfgPath, d)
		}
	case errors.Is(err, os.ErrNotExist):
		entries, err := os.ReadDir(rd)
		if err != nil {
			return err
		}
		for _, e := range entries {
			if !slices.Contains(sweepFiles, e.Name()) && !strings.HasPrefix(e.Name(), ".") {
				return fmt.Errorf("%s holds %s but no %s; move it away so the run can start", rd, e.Name(), train.ConfigFile)
			}
		}
		if err := atomicfile.WriteFile(cfgPath, p.Config.YAML()); err != nil {
			return err
		}
	default:
		return err
	}
	sum, err := train.Run(ctx, p.Config, train.RunOptions{Dir: rd, Resume: true, Locked: true, Log: log, Terminal: o.Terminal,
		NewMonitor: train.NewMonitor, OnStep: o.OnStep})
	if err != nil {
		return err
	}
	if sum.Step != p.Config.Steps {
		return fmt.Errorf("training stopped at step %d of %d", sum.Step, p.Config.Steps)
	}
	missing := missingEvals(rd, s.Evals, p.Config.Steps)
	if len(missing) == 0 {
		return nil
	}
	r, err := evalrun.FromSummary(sum)
	if err != nil {
		return err
	}
	for _, kind := range missing {
		if ctx.Err() != nil {
			return train.ErrInterrupted
		}
		t0 := time.Now()
		rec, summary, err := s.evaluate(r, kind, log)
		if err != nil {
			return fmt.Errorf("eval %s: %w", kind, err)
		}
		if err := evalrun.Append(rd, rec); err != nil {
			return err
		}
		fmt.Fprintf(log, "eval %s: %s (%.1fs)\n", kind, summary, time.Since(t0).Seconds())
	}
	return nil
}

// evaluate runs one evaluation with the sweep's options and returns its record
// and a short summary.
func (s *Sweep) evaluate(r *evalrun.Run, kind string, log io.Writer) (evalrun.Record, string, error) {
	o := s.EvalOptions
	switch kind {
	case evalrun.KindCollapse:
		m, err := collapseMethod(o.CollapseMethod)
		if err != nil {
			return nil, "", err
		}
		rec, res, err := r.Collapse(evalrun.CollapseOptions{Options: collapse.Options{Method: m},
			Samples: o.CollapseSamples, Seed: 1, Batch: o.Batch})
		if err != nil {
			return nil, "", err
		}
		return rec, fmt.Sprintf("AUC %.4f, RankMe %.1f (N=%d, d=%d)", res.AUC, res.RankMe, res.N, res.D), nil
	case evalrun.KindKNN:
		rec, res, err := r.KNN(evalrun.KNNOptions{KNNOptions: eval.KNNOptions{MaxK: o.KNNMaxK},
			TrainSamples: o.KNNTrainSamples, Seed: 1, Batch: o.Batch})
		if err != nil {
			return nil, "", err
		}
		return rec, fmt.Sprintf("accuracy %.4f (best k %d), weighted %.4f", res.BestAccuracy, res.BestK, res.WeightedAccuracy), nil
	case evalrun.KindLoss:
		rec, res, err := r.Loss(evalrun.LossOptions{LossOptions: eval.LossOptions{Samples: o.LossSamples, Batch: o.Batch}})
		if err != nil {
			return nil, "", err
		}
		return rec, fmt.Sprintf("validation loss %.4f over %d images", res.Loss, res.Images), nil
	case evalrun.KindLinear:
		rec, res, err := r.Linear(eval.LinearOptions{Epochs: o.LinearEpochs, Batch: o.LinearBatch, LR: o.LinearLR,
			CachedFeatures: o.LinearCached, FeatureBatch: o.Batch, Log: log})
		if err != nil {
			return nil, "", err
		}
		return rec, fmt.Sprintf("accuracy %.4f (train %.4f), %d epochs", res.ValAccuracy, res.TrainAccuracy, res.Epochs), nil
	}
	return nil, "", fmt.Errorf("unknown evaluation %q", kind)
}

// Check validates what Parse cannot: every dataset the sweep names opens, and every
// run's data ordering fits its dataset (chunks, subset, switch point). It opens
// each distinct dataset once.
func Check(s *Sweep) error {
	sizes := map[string]int{}
	for _, p := range s.Points {
		c := p.Config
		n, ok := sizes[c.Data]
		if !ok {
			tr, _, err := data.Open(c.Data)
			if err != nil {
				return fmt.Errorf("run %s: %w", p.Name, err)
			}
			n = tr.N
			sizes[c.Data] = n
		}
		kind, err := order.ParseKind(c.Order)
		if err != nil {
			return fmt.Errorf("run %s: %w", p.Name, err)
		}
		if _, err := order.New(order.Config{Kind: kind, N: n, Steps: c.Steps, Batch: c.Batch, Chunks: c.Chunks,
			SwitchAt: c.SwitchAt, Subset: c.Subset, Seed: c.Seed}); err != nil {
			return fmt.Errorf("run %s: %w", p.Name, err)
		}
	}
	return nil
}
