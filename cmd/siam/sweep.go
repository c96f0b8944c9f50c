package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/siam-ssl/siam/atomicfile"
	"github.com/siam-ssl/siam/findings"
	"github.com/siam-ssl/siam/sweep"
	"github.com/siam-ssl/siam/train"
)

// newSweep is `siam sweep FILE.yaml --out DIR` with its status and run-one subcommands.
func newSweep() *cobra.Command {
	var out, shard string
	var parallel int
	var staleAfter time.Duration
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "sweep FILE.yaml --out DIR",
		Short: "Run a grid of training runs (orderings, sizes, methods, seeds), resumable and sharded over machines",
		Long: `sweep trains and evaluates every point of a grid, each in its own run folder under DIR:

  name: orderings-small                    # optional
  base: {data: fashion-mnist, width: 8, steps: 3000, batch: 256}   # siam train config keys
  grid: {order: [multi, single, hybrid], seed: [1, 2, 3]}          # axes: config keys
  eval: [collapse, knn, loss, linear]      # default: collapse, knn, loss
  eval_options: {linear_epochs: 30, linear_cached: true}

Runs are named from their axes (DIR/order=single,seed=2). After training, each listed
evaluation is appended to the run's results.jsonl (the records of siam collapse and
siam eval). Every config is checked before anything starts. DIR/sweep.yaml records the
file (and its SHA-256); another sweep file is refused for that folder.

Re-running the same command skips finished runs and resumes interrupted ones from their
checkpoints, bit-exactly. --shard I/N takes the runs whose index % N == I, so N machines
(a Slurm job array, a Kubernetes Indexed Job) share one folder; a per-run lock file
keeps two processes off one run. --parallel P trains P runs at once, each a child
process with GOMAXPROCS = cores / P. See docs/SWEEPS.md.`,
		Example: `  siam sweep experiments/orderings.yaml --out sweeps/orderings
  siam sweep experiments/orderings.yaml --out sweeps/orderings --parallel 4
  siam sweep experiments/orderings.yaml --out /shared/orderings --shard $SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT
  siam sweep status sweeps/orderings
  siam report sweeps/orderings --out orderings.html`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return errors.New("--out DIR is required")
			}
			sh := sweep.AllRuns
			if cmd.Flags().Changed("shard") {
				var err error
				if sh, err = sweep.ParseShard(shard); err != nil {
					return err
				}
			}
			if parallel < 1 {
				return fmt.Errorf("--parallel %d < 1", parallel)
			}
			b, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			s, err := sweep.Parse(b)
			if err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			if err := sweep.Check(s); err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			if dryRun {
				w := cmd.OutOrStdout()
				fmt.Fprintf(w, "%s: %d runs, evaluations %s; shard %s takes:\n", args[0], len(s.Points), strings.Join(s.Evals, ", "), sh)
				for _, p := range s.Points {
					if sh.Takes(p.Index) {
						fmt.Fprintf(w, "%4d  %s\n", p.Index, filepath.Join(out, p.Name))
					}
				}
				return nil
			}
			if err := sweep.Init(out, s, args[0]); err != nil {
				return err
			}
			exe, err := os.Executable()
			if err != nil {
				return fmt.Errorf("finding the siam binary for the run processes: %w", err)
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			res, err := sweep.Run(ctx, out, s, sweep.Options{Shard: sh, Parallel: parallel, StaleAfter: staleAfter,
				Log: cmd.ErrOrStderr(),
				Command: func(dir, name string) *exec.Cmd {
					return exec.Command(exe, "sweep", "run-one", dir, name, "--stale-after", staleAfter.String())
				}})
			if res != nil {
				fmt.Fprintf(cmd.OutOrStdout(), "sweep %s, shard %s: %d runs; %d finished now, %d were finished, %d failed, %d running elsewhere\n",
					out, sh, res.Runs, len(res.Finished), res.AlreadyFinished, len(res.Failed), len(res.Busy))
				fmt.Fprintf(cmd.OutOrStdout(), "status: siam sweep status %s   report: siam report %s\n", out, out)
			}
			if errors.Is(err, train.ErrInterrupted) {
				return &exitError{130, fmt.Errorf("interrupted; run the same command again to resume")}
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&out, "out", "", "sweep folder (created; or the folder of the same sweep, to continue it)")
	f.StringVar(&shard, "shard", "0/1", "take runs with index % N == I: I/N (0-based), or slurm ($SLURM_ARRAY_TASK_ID - $SLURM_ARRAY_TASK_MIN of $SLURM_ARRAY_TASK_COUNT)")
	f.IntVar(&parallel, "parallel", 1, "runs trained at once on this machine (each gets GOMAXPROCS/P cores)")
	f.DurationVar(&staleAfter, "stale-after", sweep.DefaultStaleAfter, "a lock without heartbeat for this long is abandoned")
	f.BoolVar(&dryRun, "dry-run", false, "check the file and list this shard's runs; create nothing")
	cmd.AddCommand(newSweepStatus(), newSweepFindings(), newSweepRunOne())
	return cmd
}

func newSweepStatus() *cobra.Command {
	var asJSON bool
	var staleAfter time.Duration
	cmd := &cobra.Command{
		Use:   "status DIR...",
		Short: "Finished / running / waiting / failed runs of sweep folders, with each failure's error and the compute left",
		Long: `status prints, for each sweep folder, one line of counts (finished runs, how many of
them are not committed to git yet, running, waiting, failed, and the core-hours the
waiting runs need at the mean cost of the finished ones), then one line per run.
A study's sweep folders are results/NAME (scripts/study.sh): their finished runs
are committed records, so a fresh clone shows them finished.`,
		Example: `  siam sweep status sweeps/orderings
  siam sweep status results/*`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var total sweep.Progress
			for i, dir := range args {
				s, err := sweep.Open(dir)
				if err != nil {
					return err
				}
				sts := sweep.Status(dir, s, staleAfter)
				if asJSON {
					if err := printStatusJSON(cmd.OutOrStdout(), dir, sts); err != nil {
						return err
					}
					continue
				}
				if i > 0 {
					fmt.Fprintln(cmd.OutOrStdout())
				}
				pr := sweep.ProgressOf(dir, sts)
				total.Add(pr)
				printStatus(cmd.OutOrStdout(), dir, s, sts, pr)
			}
			if !asJSON && len(args) > 1 {
				fmt.Fprintf(cmd.OutOrStdout(), "\nall %d sweeps: %s\n", len(args), total)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "one JSON object per run (with its sweep folder)")
	cmd.Flags().DurationVar(&staleAfter, "stale-after", sweep.DefaultStaleAfter, "a lock from another host without heartbeat for this long counts as abandoned")
	return cmd
}

// newSweepFindings is `siam sweep findings DIR`: the verdict table of the paper's
// findings from a study's sweep folders.
func newSweepFindings() *cobra.Command {
	var md, js, fig string
	cmd := &cobra.Command{
		Use:   "findings DIR",
		Short: "The verdict per finding of the paper, from a study's sweep folders (DIR/c10-1-subsets, ...)",
		Long: `findings reads the study's sweep folders under DIR (results/ in this repository:
` + strings.Join([]string{findings.SubsetsSweep, findings.WidthDepthSweep, findings.OrderingsSweep, findings.MethodsSweep}, ", ") + `)
and prints one row per finding of the paper: the paper's number, our setting, the
measured contrast (mean ± sd over seeds), the verdict and its figure. The rule:
` + findings.Rules,
		Example: `  siam sweep findings results
  siam sweep findings results --markdown docs/results/findings.md --json docs/results/findings.json --figure docs/results/findings/predictor.svg`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := findings.Load(args[0])
			if err != nil {
				return err
			}
			rows := st.Rows()
			var b strings.Builder
			if err := findings.WriteMarkdown(&b, rows); err != nil {
				return err
			}
			if md != "" {
				if err := atomicfile.WriteFile(md, []byte(b.String())); err != nil {
					return err
				}
			} else {
				fmt.Fprint(cmd.OutOrStdout(), b.String())
			}
			if js != "" {
				if err := findings.WriteJSON(js, rows); err != nil {
					return err
				}
			}
			if fig != "" {
				if _, err := st.WritePredictorFigure(fig); err != nil {
					return err
				}
			}
			for _, r := range rows {
				fmt.Fprintf(cmd.ErrOrStderr(), "finding %d: %s (n = %d)\n", r.ID, r.Verdict, r.Seeds)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&md, "markdown", "", "write the table to this file instead of standard output")
	cmd.Flags().StringVar(&js, "json", "", "also write the rows as JSON to this file")
	cmd.Flags().StringVar(&fig, "figure", "", "also draw finding 6's pooled predictor (SVG or PNG by extension) to this file")
	return cmd
}

func printStatus(w io.Writer, dir string, s *sweep.Sweep, sts []sweep.RunStatus, pr sweep.Progress) {
	name := s.Name
	if name == "" {
		name = filepath.Base(filepath.Clean(dir))
	}
	fmt.Fprintf(w, "sweep %s (%s): %s\n", name, dir, pr)
	width := len("run")
	for _, st := range sts {
		width = max(width, len(st.Name))
	}
	fmt.Fprintf(w, "%4s  %-*s  %-8s  %11s  %s\n", "#", width, "run", "state", "step", "detail")
	for _, st := range sts {
		var detail string
		switch st.State {
		case sweep.Running:
			detail = st.Lock.String()
			if st.Step >= st.Steps && len(st.Missing) > 0 {
				detail = "evaluating (" + strings.Join(st.Missing, ", ") + " to do); " + detail
			}
		case sweep.Failed:
			detail = st.Error
		case sweep.Waiting:
			if st.Step > 0 {
				detail = "interrupted; resumes from its checkpoint"
			}
			if st.Step >= st.Steps && len(st.Missing) > 0 {
				detail = "trained; evaluations to do: " + strings.Join(st.Missing, ", ")
			}
		case sweep.Finished:
			detail = sweep.ResultLine(st.Dir(dir), st.Steps)
		}
		if st.StaleLock != "" {
			detail += " (stale lock: " + st.StaleLock + ")"
		}
		fmt.Fprintf(w, "%4d  %-*s  %-8s  %11s  %s\n", st.Index, width, st.Name, st.State, fmt.Sprintf("%d/%d", st.Step, st.Steps), strings.TrimSpace(detail))
	}
}

func printStatusJSON(w io.Writer, dir string, sts []sweep.RunStatus) error {
	for _, st := range sts {
		o := map[string]any{"sweep": dir, "index": st.Index, "run": st.Name, "state": st.State, "step": st.Step, "steps": st.Steps}
		if st.Error != "" {
			o["error"] = st.Error
		}
		if st.Lock != nil {
			o["pid"], o["host"], o["started"] = st.Lock.PID, st.Lock.Host, st.Lock.Started
		}
		if len(st.Missing) > 0 {
			o["missing_evals"] = st.Missing
		}
		if st.StaleLock != "" {
			o["stale_lock"] = st.StaleLock
		}
		b, err := json.Marshal(o)
		if err != nil {
			return err
		}
		if _, err := fmt.Fprintf(w, "%s\n", b); err != nil {
			return err
		}
	}
	return nil
}

// newSweepRunOne is the hidden child command each run of `siam sweep` executes.
func newSweepRunOne() *cobra.Command {
	var staleAfter time.Duration
	cmd := &cobra.Command{
		Use:    "run-one DIR RUN",
		Short:  "Train and evaluate one run of a sweep folder (the child process of siam sweep)",
		Hidden: true,
		Args:   cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			code := sweep.RunChild(ctx, args[0], args[1], sweep.RunOptions{StaleAfter: staleAfter}, os.Stderr)
			stop()
			os.Exit(code)
			return nil
		},
	}
	cmd.Flags().DurationVar(&staleAfter, "stale-after", sweep.DefaultStaleAfter, "lock heartbeat timeout")
	return cmd
}
