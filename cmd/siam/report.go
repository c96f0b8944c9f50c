package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/siam-ssl/siam/atomicfile"
	"github.com/siam-ssl/siam/report"
)

// newReport returns `siam report RUN_DIR... --out report.html`: one self-contained
// HTML page (inline SVG figures) from training run folders.
func newReport() *cobra.Command {
	var (
		out, title, accuracy string
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
printed.`,
		Example: `  siam report runs/r18-multi runs/r18-single runs/r18-hybrid --out orderings.html
  siam report runs/* --sections summary,predictor --accuracy knn`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
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
	return cmd
}

// printWarnings writes one "warning:" line per message about a run folder's files.
func printWarnings(w io.Writer, msgs []string) {
	for _, m := range msgs {
		fmt.Fprintln(w, "siam: warning:", m)
	}
}
