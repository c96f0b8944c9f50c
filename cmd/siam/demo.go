package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/siam-ssl/siam/data/embedded"
	"github.com/siam-ssl/siam/evalrun"
	"github.com/siam-ssl/siam/order"
	"github.com/siam-ssl/siam/train"
)

// demoResult is one line of the demo's summary table.
type demoResult struct {
	order      string
	dir        string
	loss       float64
	auc        float64
	rankme     float64
	knn        float64
	bestK      int
	imagesPerS float64
}

func newDemo() *cobra.Command {
	var out string
	var steps, width, batch, chunks, switchAt int
	var orders string
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Train small SimSiam models on the embedded dataset (multi-pass vs hybrid) and compare collapse and k-NN",
		Long: `demo is the main job on the embedded Fashion-MNIST subset (10,000 train / 2,000 test
images, compiled into the binary): it trains a width-16 ResNet-18 SimSiam once per
data ordering with the same number of steps, then prints for each run the final
loss, the collapse AUC of its representations (higher = more collapse) and RankMe,
the k-NN accuracy (majority vote, best k), and the run folder.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				out = "siam-demo-" + time.Now().Format("20060102-150405")
			}
			if entries, err := os.ReadDir(out); err == nil && len(entries) > 0 {
				return fmt.Errorf("demo folder %s exists and is not empty", out)
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			// Every run's config and ordering is checked before the first one trains.
			set, _, err := embedded.Load()
			if err != nil {
				return err
			}
			var configs []train.Config
			for _, ord := range strings.Split(orders, ",") {
				c := train.DefaultConfig()
				c.Order, c.Steps, c.Width, c.Batch = strings.TrimSpace(ord), steps, width, batch
				c.Chunks, c.SwitchAt = chunks, switchAt
				c.CheckpointEvery, c.LogEvery = 0, 10
				if err := c.Validate(); err != nil {
					return err
				}
				kind, _ := order.ParseKind(c.Order)
				if _, err := order.New(order.Config{Kind: kind, N: set.N, Steps: c.Steps, Batch: c.Batch,
					Chunks: c.Chunks, SwitchAt: c.SwitchAt, Subset: c.Subset, Seed: c.Seed}); err != nil {
					return fmt.Errorf("%s: %w", c.Order, err)
				}
				configs = append(configs, c)
			}
			var results []demoResult
			for _, c := range configs {
				dir := filepath.Join(out, c.Order)
				fmt.Fprintf(os.Stderr, "== %s: %d steps, batch %d, width %d -> %s\n", c.Order, c.Steps, c.Batch, c.Width, dir)
				sum, err := train.Run(ctx, c, train.RunOptions{Dir: dir, Log: os.Stderr,
					Terminal: term.IsTerminal(int(os.Stderr.Fd()))})
				if errors.Is(err, train.ErrInterrupted) {
					return &exitError{130, err}
				}
				if err != nil {
					return err
				}
				r, err := demoMeasure(sum)
				if err != nil {
					return err
				}
				results = append(results, r)
			}
			fmt.Printf("\n%-8s %10s %8s %8s %10s %8s  %s\n", "order", "final loss", "AUC", "RankMe", "k-NN acc", "img/s", "run folder")
			for _, r := range results {
				fmt.Printf("%-8s %10.4f %8.4f %8.1f %9.2f%% %8.0f  %s\n", r.order, r.loss, r.auc, r.rankme, 100*r.knn, r.imagesPerS, r.dir)
			}
			fmt.Println("\nAUC is the area under the cumulative explained variance of the singular values of the")
			fmt.Println("backbone representations (0.5 = no collapse, 1 = rank one); k-NN uses the train set as")
			fmt.Println("memory and the test set as queries (cosine similarity, majority vote, best k in 1..128).")
			fmt.Println("Explore further: siam collapse --checkpoint DIR --plot fig; siam eval linear --checkpoint DIR; siam report DIR...")
			if steps == demoDefaultSteps && width == demoDefaultWidth && batch == demoDefaultBatch {
				fmt.Println(demoMeasured)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&out, "out", "", "folder for the runs (default siam-demo-<time>)")
	f.IntVar(&steps, "steps", demoDefaultSteps, "training steps per run")
	f.IntVar(&width, "width", demoDefaultWidth, "ResNet-18 base width")
	f.IntVar(&batch, "batch", demoDefaultBatch, "batch size")
	f.IntVar(&chunks, "chunks", 20, "chunks for single/cumulative/hybrid orderings")
	f.IntVar(&switchAt, "switch-at", 8, "hybrid: chunk after which training switches to multi-pass")
	f.StringVar(&orders, "orders", "multi,hybrid", "comma-separated orderings to compare")
	return cmd
}

// demoMeasure computes the collapse and k-NN figures of a finished run and
// records them in its results.jsonl (the records siam collapse and siam eval knn
// write).
func demoMeasure(sum *train.Summary) (demoResult, error) {
	r := demoResult{order: sum.Config.Order, dir: sum.Dir, loss: sum.FinalLoss, imagesPerS: sum.ImagesPerS}
	run, err := evalrun.FromSummary(sum)
	if err != nil {
		return r, err
	}
	rec, spec, err := run.Collapse(evalrun.CollapseOptions{Batch: 256})
	if err != nil {
		return r, err
	}
	r.auc, r.rankme = spec.AUC, spec.RankMe
	if err := appendResult(sum.Dir, rec); err != nil {
		return r, err
	}
	if sum.Test != nil {
		rec, k, err := run.KNN(evalrun.KNNOptions{Batch: 256})
		if err != nil {
			return r, err
		}
		r.knn, r.bestK = k.BestAccuracy, k.BestK
		if err := appendResult(sum.Dir, rec); err != nil {
			return r, err
		}
	}
	return r, nil
}

// The demo's default setting: about 5 minutes for its two runs on 2 cores.
const (
	demoDefaultSteps = 300
	demoDefaultWidth = 16
	demoDefaultBatch = 128
)

// demoMeasured is what the default setting was measured to show over several
// seeds (issue 9: the demo must say whether its runs show the paper's effect).
// Measured with siam train/collapse/eval knn at exactly the demo's settings.
const demoMeasured = `
What to expect at this setting (measured 2026-12-03 at exactly these settings, seeds 1-3,
mean ± sd):
  AUC   multi 0.752 ± 0.005   hybrid 0.762 ± 0.007   single 0.761 ± 0.011
  k-NN  multi 67.8 ± 2.4%     hybrid 67.4 ± 2.1%     single 66.9 ± 2.4%
At 300 steps on 10,000 images the orderings do NOT differ by more than the seed-to-seed
spread; if anything multi-pass collapses slightly less (2 of 3 seeds), the opposite of
the paper's direction. No setting that fits in about 5 minutes on 2 cores was found that
shows the paper's effect. It appears with longer training: on full Fashion-MNIST at
1,500 steps multi-pass reaches AUC 0.823 against 0.804 (single) and 0.807 (hybrid)
(docs/RESULTS.md); longer demos (--steps 1500, about 25 minutes on 2 cores) have not
been measured on the embedded set.`
