package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"

	"github.com/spf13/cobra"

	"github.com/siam-ssl/siam/atomicfile"
	"github.com/siam-ssl/siam/predict"
	"github.com/siam-ssl/siam/report"
)

func newPredict() *cobra.Command {
	p := &cobra.Command{
		Use:   "predict",
		Short: "Predict downstream accuracy without labels from validation loss and collapse AUC (paper Section 3.5)",
	}
	p.AddCommand(newPredictFit(), newPredictRank())
	return p
}

// runObservations reads every run folder's loss, AUC and accuracy; a run missing
// one of them is an error naming the command that produces it.
func runObservations(dirs []string, accuracy string) ([]predict.Observation, error) {
	var obs []predict.Observation
	var runs []report.RunMetrics
	for _, d := range dirs {
		m, err := report.LoadRunMetrics(d)
		if err != nil {
			return nil, err
		}
		printWarnings(os.Stderr, m.Warnings)
		runs = append(runs, m)
	}
	if accuracy == "" { // one kind for every run: linear if all have it, else k-NN
		accuracy = "linear"
		for _, m := range runs {
			if math.IsNaN(m.Linear) {
				accuracy = "knn"
			}
		}
	}
	for i, m := range runs {
		d := dirs[i]
		if math.IsNaN(m.ValLoss) {
			return nil, fmt.Errorf("%s: no validation loss (run siam eval loss --checkpoint %s)", d, d)
		}
		if math.IsNaN(m.AUC) {
			return nil, fmt.Errorf("%s: no collapse AUC (run siam collapse --checkpoint %s)", d, d)
		}
		acc, err := m.Accuracy(accuracy)
		if err != nil {
			return nil, err
		}
		obs = append(obs, predict.Observation{Name: d, ValLoss: m.ValLoss, AUC: m.AUC, Accuracy: 100 * acc})
	}
	return obs, nil
}

func newPredictFit() *cobra.Command {
	var out, accuracy string
	cmd := &cobra.Command{
		Use:   "fit RUN_DIR...",
		Short: "Fit accuracy ~ a*val_loss + b*AUC + c over evaluated runs; print R^2, leave-one-out error and single-feature fits",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			w := cmd.OutOrStdout()
			obs, err := runObservations(args, accuracy)
			if err != nil {
				return err
			}
			rep, err := predict.FitAll(obs)
			if err != nil {
				return err
			}
			j := rep.Joint
			fmt.Fprintf(w, "accuracy (%%) = %.3f * val_loss %+.3f * AUC %+.3f   over %d runs\n", j.LossCoef, j.AUCCoef, j.Intercept, j.NumModels)
			fmt.Fprintf(w, "R^2 joint %.3f (adjusted %.3f, RMSE %.2f points)\n", j.R2, j.AdjustedR2, j.RMSE)
			if mae, _, err := predict.LeaveOneOut(obs, predict.Joint); err == nil {
				fmt.Fprintf(w, "leave-one-out mean absolute error %.2f points\n", mae)
			} else {
				fmt.Fprintf(w, "leave-one-out: %v\n", err)
			}
			fmt.Fprintf(w, "R^2 loss alone %.3f, AUC alone %.3f (the paper: only jointly predictive)\n", rep.LossOnly.R2, rep.AUCOnly.R2)
			for i, o := range obs {
				fmt.Fprintf(w, "  %-30s loss %8.4f AUC %.4f accuracy %6.2f predicted %6.2f\n", o.Name, o.ValLoss, o.AUC, o.Accuracy, j.Predicted[i])
			}
			if out != "" {
				b, _ := json.MarshalIndent(j.Model, "", "  ")
				if err := atomicfile.WriteFile(out, append(b, '\n')); err != nil {
					return err
				}
				fmt.Fprintln(w, "model saved to", out)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "save the fitted model as JSON (for siam predict rank)")
	cmd.Flags().StringVar(&accuracy, "accuracy", "", "accuracy to predict: linear or knn (default: linear if every run has a probe result, else knn)")
	return cmd
}

func newPredictRank() *cobra.Command {
	var model string
	cmd := &cobra.Command{
		Use:   "rank --model M.json RUN_DIR...",
		Short: "Rank runs by predicted accuracy, without labels (needs val loss and AUC per run)",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			w := cmd.OutOrStdout()
			if model == "" {
				return errors.New("--model M.json is required (make one with siam predict fit --out)")
			}
			b, err := os.ReadFile(model)
			if err != nil {
				return err
			}
			m, err := predict.LoadModel(b)
			if err != nil {
				return fmt.Errorf("%s: %w", model, err)
			}
			var cands []predict.Candidate
			for _, d := range args {
				rm, err := report.LoadRunMetrics(d)
				if err != nil {
					return err
				}
				printWarnings(cmd.ErrOrStderr(), rm.Warnings)
				if math.IsNaN(rm.ValLoss) || math.IsNaN(rm.AUC) {
					return fmt.Errorf("%s: needs a validation loss and an AUC (siam eval loss / siam collapse --checkpoint %s)", d, d)
				}
				cands = append(cands, predict.Candidate{Name: d, ValLoss: rm.ValLoss, AUC: rm.AUC})
			}
			ranked, err := predict.Rank(m, cands)
			if err != nil {
				return err
			}
			for _, r := range ranked {
				fmt.Fprintf(w, "%2d  %-30s predicted %6.2f%%  (loss %.4f, AUC %.4f)\n", r.Rank, r.Name, r.Predicted, r.ValLoss, r.AUC)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&model, "model", "", "model JSON written by siam predict fit --out")
	return cmd
}
