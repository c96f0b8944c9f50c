package train

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/siam-ssl/siam/atomicfile"
	"github.com/siam-ssl/siam/data"
	_ "github.com/siam-ssl/siam/data/embedded" // Data "" trains on the embedded set
	"github.com/siam-ssl/siam/optim"
	"github.com/siam-ssl/siam/order"
	"github.com/siam-ssl/siam/runlock"
	"github.com/siam-ssl/siam/ssl"
	"github.com/siam-ssl/siam/tensor"
	"gopkg.in/yaml.v3"
)

// RunOptions says where a run lives and how it reports.
type RunOptions struct {
	Dir      string    // run folder: created for a new run, read for a resume
	Resume   bool      // continue the run in Dir with its own config
	Log      io.Writer // progress and messages (nil: discard)
	Terminal bool      // draw a progress bar instead of periodic lines
	// Device names where the run computes, for its header ("": cpu).
	Device  string
	Monitor Monitor // called every MonitorEvery steps (nil: no monitoring)
	// NewMonitor, when Monitor is nil, builds the monitor from the opened datasets
	// and the config (e.g. NewMonitor); it is called only when MonitorEvery > 0.
	NewMonitor MonitorFactory
	// OnStep, when set, is called after every completed step with the step count
	// and loss (a hook for dashboards, early stopping via the context, and tests).
	OnStep func(step int, loss float64)
	// ResumeOverride, with Resume, changes the run's saved config before it
	// continues; only the monitoring and alarm settings may change (they do not
	// touch training), and config.yaml is rewritten to record them.
	ResumeOverride func(*Config)
	// Locked says the caller already holds Dir's run lock (runlock, RUN/lock),
	// as sweep.RunPoint does; otherwise Run takes it for the whole run, so a
	// second process training the same folder fails naming this one's pid.
	Locked bool
}

// Monitor measures the model during training (collapse, k-NN); it returns the
// values to add to the step's metrics line and the singular values to keep.
type Monitor func(step int, m ssl.Method) (fields map[string]float64, sigma []float64, err error)

// Summary reports a finished (or already finished) run.
type Summary struct {
	Dir             string
	StartStep, Step int
	AlreadyDone     bool
	FinalLoss       float64
	ImagesPerS      float64
	Elapsed         time.Duration
	Config          Config
	Model           ssl.Method
	Train, Test     *data.Dataset
	Alarm           string // the collapse alarm that stopped the run (ErrAlarmStop), "" otherwise
}

// ErrInterrupted is returned when the context is cancelled (Ctrl-C); a checkpoint
// of the last completed step has been written first.
var ErrInterrupted = errors.New("interrupted")

// Metrics is one line of metrics.jsonl.
type Metrics struct {
	Step       int                `json:"step"`
	Loss       float64            `json:"loss"`
	LR         float64            `json:"lr"`
	Chunk      int                `json:"chunk"`
	ImagesPerS float64            `json:"images_per_s"`
	Time       string             `json:"time"`
	Extra      map[string]float64 `json:"-"`
	Alarm      string             `json:"-"` // collapse alarm message (AlarmKey), "" when none
}

// MarshalJSON flattens Extra (monitor values such as auc, knn_acc) into the line;
// NaN and ±Inf are written as null and named under NonFiniteKey (see marshalMetrics).
func (m Metrics) MarshalJSON() ([]byte, error) { return marshalMetrics(m) }

// Run trains SimSiam as cfg says (or, with Resume, as the run folder says),
// checkpointing atomically, and returns when the configured steps are done, the
// context is cancelled (ErrInterrupted, after a checkpoint) or the loss stops
// being finite (an error naming the step; the last good checkpoint is kept).
//
// Run owns the run folder while it works: it takes the folder's lock (unless
// o.Locked) and removes the stale temporary files a killed process left.
// A new run that fails before writing its config removes the folder it made.
func Run(ctx context.Context, cfg Config, o RunOptions) (sum *Summary, err error) {
	if o.Dir == "" {
		return nil, errors.New("train: no run folder (--out)")
	}
	if o.Locked {
		cleanTemporaries(o.Dir, o.Log)
		return run(ctx, cfg, o)
	}
	created := false
	if o.Resume {
		if _, err := os.Stat(o.Dir); err != nil {
			return nil, fmt.Errorf("resume: %w", err)
		}
	} else if _, err := os.Stat(o.Dir); errors.Is(err, os.ErrNotExist) {
		if err := os.MkdirAll(o.Dir, 0o755); err != nil {
			return nil, err
		}
		created = true
	}
	lock, err := runlock.Acquire(filepath.Join(o.Dir, runlock.FileName), 0)
	if err != nil {
		if created {
			os.Remove(o.Dir)
		}
		if errors.Is(err, runlock.ErrBusy) {
			return nil, fmt.Errorf("run folder %s is in use by another process: %w", o.Dir, err)
		}
		return nil, err
	}
	defer func() {
		lock.Release()
		if err != nil && created {
			if _, serr := os.Stat(filepath.Join(o.Dir, ConfigFile)); errors.Is(serr, os.ErrNotExist) {
				os.RemoveAll(o.Dir) // only what this failed start made
			}
		}
	}()
	cleanTemporaries(o.Dir, o.Log)
	return run(ctx, cfg, o)
}

// cleanTemporaries removes the temporary files (".NAME.tmp-*", atomicfile's)
// that a process killed mid-write left in a run folder; the caller holds the
// folder's lock, so no live writer owns them. Lock files are left alone.
func cleanTemporaries(dir string, log io.Writer) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		n := e.Name()
		if e.IsDir() || !strings.HasPrefix(n, ".") || !strings.Contains(n, ".tmp-") || strings.HasPrefix(n, "."+runlock.FileName) {
			continue
		}
		if os.Remove(filepath.Join(dir, n)) == nil && log != nil {
			fmt.Fprintf(log, "removed %s, a temporary file an interrupted process left\n", filepath.Join(dir, n))
		}
	}
}

// run is Run once the folder is owned.
func run(ctx context.Context, cfg Config, o RunOptions) (*Summary, error) {
	log := o.Log
	if log == nil {
		log = io.Discard
	}
	start := 0
	if o.Resume {
		b, err := os.ReadFile(filepath.Join(o.Dir, ConfigFile))
		if err != nil {
			return nil, fmt.Errorf("resume: %w", err)
		}
		if cfg, err = ParseConfigYAML(b, DefaultConfig()); err != nil {
			return nil, fmt.Errorf("resume %s: %w", o.Dir, err)
		}
		if err := applyResumeOverride(o, &cfg); err != nil {
			return nil, err
		}
	} else if entries, err := os.ReadDir(o.Dir); err == nil && len(ownFiles(entries)) > 0 {
		return nil, fmt.Errorf("run folder %s exists and is not empty (use --resume %s to continue it)", o.Dir, o.Dir)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	trainSet, testSet, err := OpenData(cfg, o.Dir, log)
	if err != nil {
		return nil, err
	}
	if o.Resume {
		if err := checkDataRecord(o.Dir, trainSet); err != nil {
			return nil, err
		}
	}
	recipe := AugmentRecipe(cfg, trainSet)
	inMeta := InputMeta(cfg, trainSet) // checkpoint metadata: how to feed the model
	if err := recipe.Validate(trainSet.C); err != nil {
		return nil, err
	}
	if cfg, err = resolveTeacher(cfg, trainSet, recipe); err != nil {
		return nil, err
	}
	kind, _ := order.ParseKind(cfg.Order)
	sampler, err := order.New(order.Config{Kind: kind, N: trainSet.N, Steps: cfg.Steps, Batch: cfg.Batch,
		Chunks: cfg.Chunks, SwitchAt: cfg.SwitchAt, Subset: cfg.Subset, Seed: cfg.Seed,
		Buffer: cfg.ShuffleBuffer, Blocks: samplerBlocks(cfg, trainSet)})
	if err != nil {
		return nil, err
	}
	m, err := BuildModel(cfg, InputOf(cfg, trainSet))
	if err != nil {
		return nil, err
	}
	if o.Monitor == nil && o.NewMonitor != nil && cfg.MonitorEvery > 0 {
		if o.Monitor, err = o.NewMonitor(trainSet, testSet, cfg); err != nil {
			return nil, err
		}
	}
	lr := optim.ScaledLR(cfg.LR, cfg.Batch)
	opt, err := NewOptimizer(cfg, m.ParamGroups(lr, cfg.WD, cfg.FixPredictorLR))
	if err != nil {
		return nil, err
	}
	sched := optim.Cosine{Base: lr, Total: cfg.Steps, Warmup: cfg.WarmupSteps}

	sum := &Summary{Dir: o.Dir, Config: cfg, Model: m, Train: trainSet, Test: testSet}
	if o.Resume {
		ck, err := LoadCheckpoint(o.Dir, m, opt)
		switch {
		case errors.Is(err, ErrNoCheckpoint):
			fmt.Fprintf(log, "resume: %s has no checkpoint; starting from step 0\n", o.Dir)
		case err != nil:
			return nil, err
		default:
			if d := configMismatch(cfg, ck.Config); len(d) > 0 {
				return nil, fmt.Errorf("resume %s: %s differs from the configuration stored in the checkpoint (%s); config.yaml was edited: restore it, or train a new run", o.Dir, ConfigFile, strings.Join(d, ", "))
			}
			start = ck.Step
			if !ck.Verified {
				fmt.Fprintf(log, "resume: %s has no tensor checksums (written by an older siam); its data is not verified\n", o.Dir)
			}
		}
		if start >= cfg.Steps {
			sum.StartStep, sum.Step, sum.AlreadyDone = start, start, true
			return sum, nil
		}
		if err := truncateMetrics(o.Dir, start, log); err != nil {
			return nil, err
		}
	} else {
		if err := os.MkdirAll(o.Dir, 0o755); err != nil {
			return nil, err
		}
		if err := atomicfile.WriteFile(filepath.Join(o.Dir, ConfigFile), cfg.YAML()); err != nil {
			return nil, err
		}
		if err := SaveCheckpoint(o.Dir, cfg, 0, m, opt, inMeta); err != nil {
			return nil, err
		}
		if err := writeDataRecord(o.Dir, trainSet); err != nil {
			return nil, err
		}
	}
	sum.StartStep = start

	mf, err := os.OpenFile(filepath.Join(o.Dir, MetricsFile), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer mf.Close()
	tb, err := openTensorBoard(o.Dir, start, time.Now())
	if err != nil {
		return nil, err
	}
	defer tb.Close()
	loader, err := data.NewLoader(data.LoaderConfig{Dataset: trainSet, Recipe: recipe, Sampler: sampler.Batch,
		Batch: cfg.Batch, Start: start, Steps: cfg.Steps, Seed: cfg.Seed, Workers: cfg.Workers})
	if err != nil {
		return nil, err
	}
	defer loader.Close()

	device := o.Device
	if device == "" {
		device = "cpu"
	}
	writeHeader(log, cfg, trainSet, testSet, m, o.Dir, start, device)
	prog := newProgress(log, o.Terminal, start, cfg.Steps, cfg.Batch)
	g := tensor.NewGraph()
	t0 := time.Now()
	winStart, winImages := time.Now(), 0
	var last float64
	for step := start; step < cfg.Steps; step++ {
		if ctx.Err() != nil {
			if err := SaveCheckpoint(o.Dir, cfg, step, m, opt, inMeta); err != nil {
				return nil, fmt.Errorf("interrupted at step %d, and the checkpoint failed: %w", step, err)
			}
			prog.done()
			fmt.Fprintf(log, "interrupted: checkpoint at step %d in %s (continue with: siam train --resume %s)\n", step, o.Dir, o.Dir)
			sum.Step = step
			return sum, ErrInterrupted
		}
		b, err := loader.Next()
		if err != nil {
			return nil, fmt.Errorf("step %d: %w", step+1, err)
		}
		g.Reset()
		x1 := g.Input(b.X1, b.N, b.C, b.H, b.W)
		var x2 *tensor.Tensor
		if m.Views() > 1 {
			x2 = g.Input(b.X2, b.N, b.C, b.H, b.W)
		}
		loss := m.Loss(g, x1, x2)
		if err := g.Err(); err != nil {
			return nil, fmt.Errorf("step %d: %w", step+1, err)
		}
		last = float64(loss.Item())
		if math.IsNaN(last) || math.IsInf(last, 0) {
			prog.done()
			return nil, fmt.Errorf("step %d: loss is %v; stopped, the last good checkpoint in %s is kept", step+1, last, o.Dir)
		}
		m.Modules().ZeroGrad()
		if err := g.Backward(loss); err != nil {
			return nil, fmt.Errorf("step %d: %w", step+1, err)
		}
		rate := sched.At(step)
		opt.Step(rate)
		m.AfterStep(step+1, cfg.Steps)
		winImages += b.N
		done := step + 1
		prog.update(done, last, rate)
		if o.OnStep != nil {
			o.OnStep(done, last)
		}
		line := Metrics{Step: done, Loss: last, LR: rate, Chunk: sampler.Chunk(step)}
		alarmStop := false
		logNow := done%cfg.LogEvery == 0 || done == cfg.Steps
		if o.Monitor != nil && cfg.MonitorEvery > 0 && (done%cfg.MonitorEvery == 0 || done == cfg.Steps) {
			m.SetTraining(false)
			fields, sigma, err := o.Monitor(done, m)
			m.SetTraining(true)
			if err != nil {
				return nil, fmt.Errorf("monitor at step %d: %w", done, err)
			}
			line.Extra = fields
			alarmStop = raiseAlarm(cfg, &line, prog)
			if err := AppendJSONL(filepath.Join(o.Dir, SpectraFile), map[string]any{"step": done, "singular_values": sigma}); err != nil {
				return nil, fmt.Errorf("monitor at step %d: %s: %w", done, SpectraFile, err)
			}
			if err := tb.spectrum(done, sigma, time.Now()); err != nil {
				return nil, err
			}
			logNow = true
		}
		if logNow {
			line.Extra = badImagesField(line.Extra, trainSet)
			now := time.Now()
			line.ImagesPerS = float64(winImages) / now.Sub(winStart).Seconds()
			line.Time = now.UTC().Format(time.RFC3339)
			winStart, winImages = now, 0
			enc, err := json.Marshal(line)
			if err != nil {
				return nil, fmt.Errorf("step %d: metrics line: %w", done, err)
			}
			if _, err := mf.Write(append(enc, '\n')); err != nil {
				return nil, err
			}
			if err := tb.metrics(line, now); err != nil {
				return nil, err
			}
			prog.line(line)
		}
		if (cfg.CheckpointEvery > 0 && done%cfg.CheckpointEvery == 0) || done == cfg.Steps || alarmStop {
			if err := SaveCheckpoint(o.Dir, cfg, done, m, opt, inMeta); err != nil {
				return nil, err
			}
		}
		if alarmStop && done < cfg.Steps {
			return alarmStopped(sum, prog, log, line, last, t0, start)
		}
	}
	prog.done()
	sum.Step = cfg.Steps
	sum.FinalLoss = last
	sum.Elapsed = time.Since(t0)
	sum.ImagesPerS = float64((cfg.Steps-start)*cfg.Batch) / sum.Elapsed.Seconds()
	return sum, nil
}

// resumeFree are the config keys that may differ between config.yaml and the
// checkpoint on resume: they never change what is trained (workers) or are
// the monitoring and alarm settings --resume may change.
var resumeFree = map[string]bool{"workers": true, "monitor_every": true, "alarm_auc": true, "alarm_rankme": true, "alarm_action": true}

// configMismatch names the keys (with both values) in which a and b differ,
// apart from resumeFree.
func configMismatch(a, b Config) []string {
	var ma, mb map[string]any
	yaml.Unmarshal(a.YAML(), &ma)
	yaml.Unmarshal(b.YAML(), &mb)
	var d []string
	for _, k := range slices.Sorted(maps.Keys(ma)) {
		if !resumeFree[k] && fmt.Sprint(ma[k]) != fmt.Sprint(mb[k]) {
			d = append(d, fmt.Sprintf("%s: %v in %s, %v in the checkpoint", k, ma[k], ConfigFile, mb[k]))
		}
	}
	return d
}

// ownFiles drops the run lock's own files from a folder listing.
func ownFiles(entries []os.DirEntry) []os.DirEntry {
	var out []os.DirEntry
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), runlock.FileName) && !strings.HasPrefix(e.Name(), "."+runlock.FileName) {
			out = append(out, e)
		}
	}
	return out
}

// AppendJSONL appends one JSON object as a line to path (metrics, spectra and
// results files), in a single write in append mode.
func AppendJSONL(path string, v any) error {
	enc, err := json.Marshal(v)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(append(enc, '\n')); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
