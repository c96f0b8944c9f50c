package main

import (
	"context"
	"errors"
	"fmt"
	"math"
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
	"github.com/siam-ssl/siam/findings"
	"github.com/siam-ssl/siam/order"
	"github.com/siam-ssl/siam/sweep"
	"github.com/siam-ssl/siam/train"
)

// demoResult is one line of the demo's summary table.
type demoResult struct {
	order      string
	seed       uint64
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
	var steps, width, batch, chunks, switchAt, seeds int
	var orders string
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Train small SimSiam models on the embedded dataset (multi-pass vs single pass, 2 seeds) and measure the collapse effect",
		Long: `demo is the main job on the embedded Fashion-MNIST subset (10,000 train / 2,000 test
images, compiled into the binary): it trains a width-8 ResNet-18 SimSiam per data
ordering and seed with the same number of steps, then prints for each run the final
loss, the collapse AUC of its representations (higher = more collapse), RankMe, the
k-NN accuracy (majority vote, best k) and the run folder, and finally the effect:
the AUC difference between the orderings with its standard error over the seeds,
and whether it exceeds twice that error.

Its default setting is the one the demo pilot (experiments/demo-pilot-orders.yaml,
3 seeds) found to show the paper's collapse effect most robustly at this budget
(about 5 minutes on 2 cores): multi pass ends more collapsed than single pass.`,
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
			if seeds < 1 {
				return fmt.Errorf("--seeds %d: want at least 1 (2 or more give the effect a spread)", seeds)
			}
			var configs []train.Config
			for _, ord := range strings.Split(orders, ",") {
				for seed := 1; seed <= seeds; seed++ {
					c := train.DefaultConfig()
					c.Order, c.Steps, c.Width, c.Batch, c.Seed = strings.TrimSpace(ord), steps, width, batch, uint64(seed)
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
			}
			var results []demoResult
			for _, c := range configs {
				dir := filepath.Join(out, fmt.Sprintf("%s-seed%d", c.Order, c.Seed))
				fmt.Fprintf(os.Stderr, "== %s, seed %d: %d steps, batch %d, width %d -> %s\n", c.Order, c.Seed, c.Steps, c.Batch, c.Width, dir)
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
				r.seed = c.Seed
				results = append(results, r)
			}
			fmt.Printf("\n%-8s %4s %10s %8s %8s %10s %8s  %s\n", "order", "seed", "final loss", "AUC", "RankMe", "k-NN acc", "img/s", "run folder")
			for _, r := range results {
				fmt.Printf("%-8s %4d %10.4f %8.4f %8.1f %9.2f%% %8.0f  %s\n", r.order, r.seed, r.loss, r.auc, r.rankme, 100*r.knn, r.imagesPerS, r.dir)
			}
			fmt.Print(demoEffect(results))
			fmt.Println("\nAUC is the area under the cumulative explained variance of the singular values of the")
			fmt.Println("backbone representations (0.5 = no collapse, 1 = rank one); k-NN uses the train set as")
			fmt.Println("memory and the test set as queries (cosine similarity, majority vote, best k in 1..128).")
			fmt.Println("Explore further: siam collapse --checkpoint DIR --plot fig; siam eval linear --checkpoint DIR; siam report DIR...")
			if steps == demoDefaultSteps && width == demoDefaultWidth && batch == demoDefaultBatch && chunks == demoDefaultChunks {
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
	f.IntVar(&chunks, "chunks", demoDefaultChunks, "chunks for single/cumulative/hybrid orderings")
	f.IntVar(&switchAt, "switch-at", 8, "hybrid: chunk after which training switches to multi-pass")
	f.StringVar(&orders, "orders", "multi,single", "comma-separated orderings to compare (the first is the reference of the effect)")
	f.IntVar(&seeds, "seeds", 2, "seeds per ordering (1..N); the effect's spread comes from them")
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

// demoEffect summarises the runs per ordering (mean ± sd over seeds) and, for
// every ordering after the first, the AUC and k-NN differences from the first
// with their standard errors, saying whether each exceeds twice its error (the
// rule of the study's verdicts, findings.Contrast).
func demoEffect(rs []demoResult) string {
	var orders []string
	by := map[string][]demoResult{}
	for _, r := range rs {
		if _, ok := by[r.order]; !ok {
			orders = append(orders, r.order)
		}
		by[r.order] = append(by[r.order], r)
	}
	stat := func(rs []demoResult, get func(demoResult) float64) sweep.Stat {
		xs := make([]float64, len(rs))
		for i, r := range rs {
			xs[i] = get(r)
		}
		return sweep.StatOf(xs)
	}
	auc := func(r demoResult) float64 { return r.auc }
	knn := func(r demoResult) float64 { return 100 * r.knn }
	var b strings.Builder
	b.WriteString("\nPer ordering, mean ± sd over seeds:\n")
	for _, o := range orders {
		a, k := stat(by[o], auc), stat(by[o], knn)
		fmt.Fprintf(&b, "  %-10s AUC %.4f ± %.4f   k-NN %.1f ± %.1f%%   (%d seeds)\n", o, a.Mean, a.SD, k.Mean, k.SD, len(by[o]))
	}
	if len(orders) < 2 {
		return b.String()
	}
	ref := orders[0]
	for _, o := range orders[1:] {
		for _, m := range []struct {
			name, unit string
			get        func(demoResult) float64
			prec       int
		}{{"AUC", "", auc, 4}, {"k-NN", " pts", knn, 1}} {
			c := findings.NewContrast(stat(by[ref], m.get), stat(by[o], m.get))
			verdict := "needs 2 or more seeds per ordering for a spread"
			switch {
			case math.IsNaN(c.SE):
			case c.Counts(math.Copysign(1, c.Diff)):
				verdict = fmt.Sprintf("larger than twice its standard error: a measured effect (%.1f standard errors)", math.Abs(c.Diff)/c.SE)
			default:
				verdict = "NOT larger than twice its standard error: within the seed-to-seed spread"
			}
			fmt.Fprintf(&b, "Effect: %s %s − %s = %+.*f ± %.*f%s — %s.\n", m.name, ref, o, m.prec, c.Diff, m.prec, c.SE, m.unit, verdict)
		}
	}
	return b.String()
}

// The demo's default setting (experiments/demo-pilot-orders.yaml): about 5 minutes
// for its four runs on 2 cores.
const (
	demoDefaultSteps  = 600
	demoDefaultWidth  = 8
	demoDefaultBatch  = 128
	demoDefaultChunks = 20
)

// demoMeasured is what the default setting was measured to show over three seeds
// (experiments/demo-pilot-orders.yaml, records in results/demo-pilot-orders), so a
// reader can tell whether the live effect above is typical.
const demoMeasured = `
What this setting showed in the demo pilot (results/demo-pilot-orders, seeds 1-3, siam sweep
at exactly these settings, mean ± sd):
  AUC   multi 0.804 ± 0.003   single 0.790 ± 0.004   difference +0.014 ± 0.003 (4.9 standard errors)
  k-NN  multi 60.2 ± 1.5%     single 61.8 ± 2.7%     difference -1.6 ± 1.8 pts (within the spread)
Multi-pass training collapses more than single pass — the paper's mechanism (Figure 6) —
robustly at this budget; the accuracy side of the finding does not separate at 600 steps.
The full study on CIFAR-10, with a verdict per finding: docs/RESULTS.md.`
