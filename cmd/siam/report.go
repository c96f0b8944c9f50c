package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/siam-ssl/siam/atomicfile"
	"github.com/siam-ssl/siam/report"
	"github.com/siam-ssl/siam/sweep"
)

// newReport returns `siam report RUN_DIR... --out report.html`: one self-contained
// HTML page (inline SVG figures) from training run folders.
func newReport() *cobra.Command {
	var (
		out, title, accuracy string
		markdown             string
		sections             []string
		maxSpectra           int
	)
	cmd := &cobra.Command{
		Use:   "report RUN_DIR...",
		Short: "Write one self-contained HTML report (figures, summary, accuracy predictor) for run folders",
		Long: `report reads run folders written by 'siam train' (config.yaml, metrics.jsonl,
spectra.jsonl) and the results appended by 'siam eval' and 'siam collapse'
(results.jsonl), and writes one HTML page with inline SVG figures and no external
assets:

  per run     config, loss / AUC / k-NN accuracy against step, spectra and
              explained variance at the monitored steps (paper Figure 6)
  across runs final spectra and explained variance (Figure 3), training curves
              on shared axes (Figure 8), a summary table and, with at least 4
              evaluated runs, the label-free predictor
              accuracy ~ a*val_loss + b*AUC + c with a predicted-vs-actual
              scatter (Figure 4)

By default every section the data allow is included and the rest is noted;
--sections makes the listed sections required (a run lacking their data is an
error naming the folder and file). The page is written atomically; its path is
printed.

Given one sweep folder (siam sweep), report aggregates it instead: one row per grid
point with the mean ± sd over the seed axis of k-NN and linear accuracy, AUC, RankMe,
validation and training loss (printed, and written as HTML), figures of each metric
against the first axis with error bars, the loss curves, the mean spectra, and the
label-free predictor over all runs with R² and leave-one-out error. --markdown
NAME.md writes the same as markdown with NAME/*.svg figures and a NAME.json summary
(small files to commit; no checkpoints).`,
		Example: `  siam report runs/r18-multi runs/r18-single runs/r18-hybrid --out orderings.html
  siam report sweeps/orderings --out orderings.html --markdown docs/results/orderings.md
  siam report runs/* --sections summary,predictor --accuracy knn`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 && sweep.IsDir(args[0]) {
				for _, name := range []string{"sections", "accuracy", "max-spectra", "title"} {
					if cmd.Flags().Changed(name) {
						return fmt.Errorf("--%s applies to run folders; %s is a sweep folder (its report has a fixed layout)", name, args[0])
					}
				}
				return sweepReport(cmd, args[0], out, markdown)
			}
			for _, a := range args {
				if sweep.IsDir(a) {
					return fmt.Errorf("%s is a sweep folder: report it alone (siam report %s), or list its run folders", a, a)
				}
			}
			if markdown != "" {
				return fmt.Errorf("--markdown needs a sweep folder (one holding %s)", sweep.RecordFile)
			}
			opts := report.Options{Title: title, Accuracy: accuracy, MaxSpectra: maxSpectra,
				Warn: func(s string) { printWarnings(cmd.ErrOrStderr(), []string{s}) }}
			for _, s := range sections {
				opts.Sections = append(opts.Sections, report.Section(s))
			}
			html, err := report.Build(args, opts)
			if err != nil {
				return err
			}
			if err := atomicfile.WriteFile(out, html); err != nil {
				return fmt.Errorf("writing report: %w", err)
			}
			_, err = fmt.Fprintln(cmd.OutOrStdout(), out)
			return err
		},
	}
	f := cmd.Flags()
	f.StringVarP(&out, "out", "o", "report.html", "HTML file to write")
	f.StringVar(&title, "title", "", `page title (default "siam report")`)
	f.StringVar(&accuracy, "accuracy", "", "accuracy the predictor fits: linear or knn (default: linear when at least 4 runs have it, else knn)")
	f.StringSliceVar(&sections, "sections", nil, "required sections, comma-separated: loss, monitor, spectra, compare, summary, predictor (default: all the data allow)")
	f.IntVar(&maxSpectra, "max-spectra", 8, "monitored steps drawn per run in the spectra figures")
	f.StringVar(&markdown, "markdown", "", "sweep folder only: also write a markdown report NAME.md, its figures NAME/*.svg and NAME.json")
	return cmd
}

// sweepReport aggregates a sweep folder: a table on stdout, the HTML page (unless
// only --markdown was asked for) and the markdown report.
func sweepReport(cmd *cobra.Command, dir, out, markdown string) error {
	sum, err := sweep.Aggregate(dir)
	if err != nil {
		return err
	}
	if err := sum.WriteText(cmd.OutOrStdout()); err != nil {
		return err
	}
	if markdown != "" {
		files, err := sum.WriteMarkdown(markdown)
		if err != nil {
			return err
		}
		fmt.Fprintf(cmd.OutOrStdout(), "wrote %s\n", strings.Join(files, ", "))
	}
	if markdown == "" || cmd.Flags().Changed("out") {
		html, err := sum.HTML()
		if err != nil {
			return err
		}
		if err := atomicfile.WriteFile(out, html); err != nil {
			return fmt.Errorf("writing report: %w", err)
		}
		fmt.Fprintf(cmd.OutOrStdout(), "wrote %s\n", out)
	}
	return nil
}

// printWarnings writes one "warning:" line per message about a run folder's files.
func printWarnings(w io.Writer, msgs []string) {
	for _, m := range msgs {
		fmt.Fprintln(w, "siam: warning:", m)
	}
}
