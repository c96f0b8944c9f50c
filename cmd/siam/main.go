// Command siam trains non-contrastive Siamese models (SimSiam, BYOL, MoCo v3,
// NNSiam, distillation), measures the
// partial dimensional collapse of their representations, evaluates them and
// predicts their accuracy without labels. Run `siam --help` for the tour.
//
// The CLI is built with github.com/spf13/cobra, the de-facto standard for Go
// command trees (subcommands, flags, help, completion).
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/siam-ssl/siam/data"
)

func main() {
	if err := newRoot().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "siam:", err)
		var ee *exitError
		if errors.As(err, &ee) {
			os.Exit(ee.code)
		}
		os.Exit(1)
	}
}

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:   "siam",
		Short: "Train SimSiam, BYOL, MoCo v3, NNSiam and distillation; measure partial dimensional collapse, evaluate and predict accuracy",
		Long: `siam trains non-contrastive Siamese self-supervised models (SimSiam, BYOL, MoCo v3,
NNSiam, distillation; ResNets and ViTs) in pure Go,
measures partial dimensional collapse of their representations (singular-value
spectrum, AUC, RankMe), prevents it with continual and hybrid data orderings,
evaluates them (k-NN, linear probe) and predicts downstream accuracy without labels.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVar(&deviceFlag, "device", "auto", "where to compute: auto, cpu, cuda or cuda:N (auto uses the CPU unless a usable GPU backend is found)")
	var maxPixels int64
	root.PersistentFlags().Int64Var(&maxPixels, "max-image-pixels", data.MaxImagePixels, "largest width x height an image file may claim in its header; larger files are skipped as unreadable before decoding (decompression bombs)")
	root.PersistentPreRunE = func(cmd *cobra.Command, _ []string) error {
		if maxPixels <= 0 {
			return fmt.Errorf("--max-image-pixels must be positive, got %d", maxPixels)
		}
		data.SetMaxImagePixels(maxPixels)
		return resolveDevice(cmd, cmd.ErrOrStderr())
	}
	root.AddCommand(newDemo(), newTrain(), newCollapse(), newEmbed(), newEval(), newPredict(), newSweep(), newReport(), newBench(), newData(), newDevices())
	return root
}
