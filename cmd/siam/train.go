package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/term"

	"github.com/siam-ssl/siam/nn"
	"github.com/siam-ssl/siam/ssl"
	"github.com/siam-ssl/siam/train"
)

// exitError carries a specific exit status (130 after Ctrl-C).
type exitError struct {
	code int
	err  error
}

// Error returns the wrapped error's message.
func (e *exitError) Error() string { return e.err.Error() }

// Unwrap exposes the wrapped error to errors.Is and errors.As.
func (e *exitError) Unwrap() error { return e.err }

// configFlags binds every train.Config field to a flag; apply copies the flags the
// user set onto a config, so flags override the YAML file which overrides defaults.
type configFlags struct {
	v     train.Config
	apply map[string]func(dst *train.Config)
}

func addConfigFlags(f *pflag.FlagSet) *configFlags {
	d := train.DefaultConfig()
	c := &configFlags{v: d, apply: map[string]func(*train.Config){}}
	str := func(name string, p *string, usage string, set func(*train.Config, string)) {
		f.StringVar(p, name, *p, usage)
		c.apply[name] = func(dst *train.Config) { set(dst, *p) }
	}
	integer := func(name string, p *int, usage string, set func(*train.Config, int)) {
		f.IntVar(p, name, *p, usage)
		c.apply[name] = func(dst *train.Config) { set(dst, *p) }
	}
	float := func(name string, p *float64, usage string, set func(*train.Config, float64)) {
		f.Float64Var(p, name, *p, usage)
		c.apply[name] = func(dst *train.Config) { set(dst, *p) }
	}
	v := &c.v
	str("data", &v.Data, `dataset: "" (embedded Fashion-MNIST subset), fashion-mnist, mnist, cifar10, cifar100 or a directory`, func(d *train.Config, x string) { d.Data = x })
	str("method", &v.Method, "self-supervised method: "+strings.Join(ssl.Names(), ", "), func(d *train.Config, x string) { d.Method = x })
	str("arch", &v.Arch, "backbone: "+strings.Join(nn.ArchNames(), ", "), func(d *train.Config, x string) { d.Arch = x })
	integer("width", &v.Width, "base width (64 = the standard network)", func(d *train.Config, x int) { d.Width = x })
	integer("width-mult", &v.WidthMult, "inner width multiplier (1x, 2x)", func(d *train.Config, x int) { d.WidthMult = x })
	integer("vit-depth", &v.ViTDepth, "ViT: transformer blocks (0: the preset's; vit-s and vit-tiny have 12)", func(d *train.Config, x int) { d.ViTDepth = x })
	integer("vit-dim", &v.ViTDim, "ViT: embedding width (0: the preset's; vit-s 384, vit-tiny 192)", func(d *train.Config, x int) { d.ViTDim = x })
	integer("vit-heads", &v.ViTHeads, "ViT: attention heads (0: the preset's; vit-s 6, vit-tiny 3)", func(d *train.Config, x int) { d.ViTHeads = x })
	integer("patch-size", &v.PatchSize, "ViT: patch side (0: 16 for inputs of 96 px and more, else 4)", func(d *train.Config, x int) { d.PatchSize = x })
	f.BoolVar(&v.FrozenPatch, "frozen-patch", v.FrozenPatch, "ViT: keep the random patch projection frozen (MoCo v3's stability trick)")
	c.apply["frozen-patch"] = func(d *train.Config) { d.FrozenPatch = c.v.FrozenPatch }
	str("stem", &v.Stem, "cifar (3x3, no max-pool) or imagenet (7x7/2 + max-pool)", func(d *train.Config, x string) { d.Stem = x })
	integer("proj-dim", &v.ProjDim, "projector width (0: 4x the feature size, at most 32*width); byol, mocov3: projector and predictor output (0: 4*width, 256 at width 64)", func(d *train.Config, x int) { d.ProjDim = x })
	integer("pred-hidden", &v.PredHidden, "predictor bottleneck (0: a quarter of the projector); byol, mocov3: hidden size of both heads (0: 64*width, 4096 at width 64)", func(d *train.Config, x int) { d.PredHidden = x })
	float("ema-momentum", &v.EMAMomentum, "byol, mocov3: base momentum of the target encoder, raised to 1 on a cosine (0 = 0.99)", func(d *train.Config, x float64) { d.EMAMomentum = x })
	float("temperature", &v.Temperature, "mocov3: InfoNCE temperature (0 = 1.0 for ResNets, 0.2 for ViTs)", func(d *train.Config, x float64) { d.Temperature = x })
	integer("queue", &v.Queue, "nnsiam: nearest-neighbour support queue size (0 = 25600)", func(d *train.Config, x int) { d.Queue = x })
	str("teacher", &v.Teacher, "distill: run folder of the frozen teacher", func(d *train.Config, x string) { d.Teacher = x })
	str("order", &v.Order, "data ordering: multi, single, cumulative, hybrid or subset", func(d *train.Config, x string) { d.Order = x })
	integer("chunks", &v.Chunks, "number of chunks C for single, cumulative and hybrid", func(d *train.Config, x int) { d.Chunks = x })
	integer("switch-at", &v.SwitchAt, "hybrid: chunk K after which training switches to multi-pass", func(d *train.Config, x int) { d.SwitchAt = x })
	float("subset", &v.Subset, "subset ordering: fraction of the training set in (0,1]", func(d *train.Config, x float64) { d.Subset = x })
	integer("steps", &v.Steps, "total gradient steps (the same for every ordering)", func(d *train.Config, x int) { d.Steps = x })
	integer("batch", &v.Batch, "images per step", func(d *train.Config, x int) { d.Batch = x })
	float("lr", &v.LR, "base learning rate, scaled by batch/256", func(d *train.Config, x float64) { d.LR = x })
	float("wd", &v.WD, "weight decay", func(d *train.Config, x float64) { d.WD = x })
	str("optimizer", &v.Optimizer, "auto (SGD; AdamW for a ViT), sgd, lars or adamw", func(d *train.Config, x string) { d.Optimizer = x })
	float("momentum", &v.Momentum, "SGD/LARS momentum", func(d *train.Config, x float64) { d.Momentum = x })
	integer("warmup-steps", &v.WarmupSteps, "linear learning-rate warm-up steps", func(d *train.Config, x int) { d.WarmupSteps = x })
	f.Uint64Var(&v.Seed, "seed", v.Seed, "seed of initialisation, ordering and augmentation")
	c.apply["seed"] = func(d *train.Config) { d.Seed = c.v.Seed }
	integer("checkpoint-every", &v.CheckpointEvery, "steps between checkpoints (0: only at the end)", func(d *train.Config, x int) { d.CheckpointEvery = x })
	integer("log-every", &v.LogEvery, "steps between metrics.jsonl lines", func(d *train.Config, x int) { d.LogEvery = x })
	integer("monitor-every", &v.MonitorEvery, "steps between collapse (AUC) and k-NN measurements (0: off)", func(d *train.Config, x int) { d.MonitorEvery = x })
	integer("monitor-samples", &v.MonitorSamples, "training images used for the monitored AUC", func(d *train.Config, x int) { d.MonitorSamples = x })
	integer("workers", &v.Workers, "augmentation workers", func(d *train.Config, x int) { d.Workers = x })
	str("augment", &v.Augment, "augmentation recipe: auto, gray28 or color32", func(d *train.Config, x string) { d.Augment = x })
	float("alarm-auc", &v.AlarmAUC, "collapse alarm when the monitored AUC exceeds this (0.5..1; 0: off; needs --monitor-every)", func(d *train.Config, x float64) { d.AlarmAUC = x })
	float("alarm-rankme", &v.AlarmRankMe, "collapse alarm when the monitored RankMe falls below this (0: off; needs --monitor-every)", func(d *train.Config, x float64) { d.AlarmRankMe = x })
	str("alarm-action", &v.AlarmAction, "on a collapse alarm: warn (log it in the progress, metrics.jsonl and the report) or stop (also checkpoint and end the run, exit status 0)", func(d *train.Config, x string) { d.AlarmAction = x })
	integer("size", &v.Size, "view side for any image dataset (0: the dataset's own; ImageFolder trees and shards: 32; 224 for ImageNet)", func(d *train.Config, x int) { d.Size = x })
	str("stream", &v.Stream, "ImageFolder trees: auto (stream when decoding all would exceed 512 MiB), always or never", func(d *train.Config, x string) { d.Stream = x })
	integer("shuffle-buffer", &v.ShuffleBuffer, "order multi: read shards in sequence through a shuffle buffer of this many samples (0: random access)", func(d *train.Config, x int) { d.ShuffleBuffer = x })
	return c
}

// resolve builds the config: defaults, then the YAML file, then the flags set.
func (c *configFlags) resolve(f *pflag.FlagSet, yamlPath string) (train.Config, error) {
	cfg := train.DefaultConfig()
	explicit := map[string]bool{}
	if yamlPath != "" {
		b, err := os.ReadFile(yamlPath)
		if err != nil {
			return cfg, err
		}
		if cfg, err = train.ParseConfigYAML(b, cfg); err != nil {
			return cfg, fmt.Errorf("%s: %w", yamlPath, err)
		}
		explicit = train.ConfigKeys(b)
	}
	f.Visit(func(fl *pflag.Flag) {
		if set, ok := c.apply[fl.Name]; ok {
			set(&cfg)
			explicit[strings.ReplaceAll(fl.Name, "-", "_")] = true
		}
	})
	cfg = train.WithArchDefaults(cfg, explicit)
	return cfg, cfg.Validate()
}

func newTrain() *cobra.Command {
	var out, resume, config string
	var flags *configFlags
	cmd := &cobra.Command{
		Use:   "train",
		Short: "Train a method (--method simsiam, byol, mocov3, ...) with a data ordering (multi, single, cumulative, hybrid, subset)",
		Example: `  siam train --out runs/multi --steps 2000
  siam train --out runs/byol --method byol --steps 2000
  siam train --out runs/hybrid --order hybrid --chunks 100 --switch-at 40 --data fashion-mnist
  siam train --config exp.yaml --out runs/exp --monitor-every 200
  siam train --out runs/watch --monitor-every 100 --alarm-auc 0.9 --alarm-action stop
  siam train --data /data/imagenet --size 224 --stem imagenet --width 64 --out runs/in1k
  siam train --data 'shards/train-{000000..000146}.tar' --size 224 --shuffle-buffer 5000 --out runs/wds
  siam train --resume runs/hybrid
  siam train --resume runs/watch --alarm-action warn`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts := train.RunOptions{Log: os.Stderr, Terminal: term.IsTerminal(int(os.Stderr.Fd()))}
			var cfg train.Config
			if resume != "" {
				var bad []string
				var override []func(*train.Config)
				cmd.Flags().Visit(func(fl *pflag.Flag) {
					switch fl.Name {
					case "resume":
					case "monitor-every", "alarm-auc", "alarm-rankme", "alarm-action": // do not touch training
						override = append(override, flags.apply[fl.Name])
					default:
						bad = append(bad, "--"+fl.Name)
					}
				})
				if len(bad) > 0 {
					return fmt.Errorf("--resume continues a run with its own config.yaml (only --monitor-every and the --alarm-* flags may change); drop %v", bad)
				}
				opts.Dir, opts.Resume = resume, true
				opts.ResumeOverride = func(c *train.Config) {
					for _, f := range override {
						f(c)
					}
				}
			} else {
				if out == "" {
					return errors.New("--out RUN_DIR is required (or --resume RUN_DIR)")
				}
				var err error
				if cfg, err = flags.resolve(cmd.Flags(), config); err != nil {
					return err
				}
				opts.Dir = out
			}
			opts.NewMonitor = defaultMonitor()
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			sum, err := train.Run(ctx, cfg, opts)
			if errors.Is(err, train.ErrInterrupted) {
				return &exitError{130, err}
			}
			if errors.Is(err, train.ErrAlarmStop) { // a requested stop: exit status 0
				fmt.Printf("stopped %s at step %d of %d by the collapse alarm (%s); checkpoint written, continue with: siam train --resume %s\n",
					sum.Dir, sum.Step, sum.Config.Steps, sum.Alarm, sum.Dir)
				return nil
			}
			if err != nil {
				return err
			}
			if sum.AlreadyDone {
				fmt.Printf("run %s already finished (%d of %d steps); nothing to do\n", sum.Dir, sum.Step, sum.Config.Steps)
				return nil
			}
			fmt.Printf("trained %s: steps %d..%d, final loss %.4f, %.0f img/s, %s\n",
				sum.Dir, sum.StartStep, sum.Step, sum.FinalLoss, sum.ImagesPerS, sum.Elapsed.Round(1e9))
			return nil
		},
	}
	f := cmd.Flags()
	flags = addConfigFlags(f)
	f.StringVar(&out, "out", "", "run folder to create (config.yaml, metrics.jsonl, checkpoint.safetensors)")
	f.StringVar(&resume, "resume", "", "continue the run in this folder to its configured step count")
	f.StringVar(&config, "config", "", "YAML config file (flags override it)")
	return cmd
}
