package main

import (
	"io"
	"os"
	"runtime/pprof"
	"strings"

	"github.com/spf13/cobra"

	"github.com/siam-ssl/siam/nn"
	"github.com/siam-ssl/siam/ssl"
	"github.com/siam-ssl/siam/train"
)

func newBench() *cobra.Command {
	b := &cobra.Command{
		Use:   "bench",
		Short: "Benchmarks that print one JSON line each (compare with PyTorch via bench/compare.sh)",
	}
	b.AddCommand(newBenchTrain(), newBenchEmbed(), newBenchGEMM(), newBenchAugment(), newBenchCollapse(), newBenchKNN(), newBenchData())
	return b
}

func newBenchTrain() *cobra.Command {
	var c train.BenchConfig
	var profile string
	cmd := &cobra.Command{
		Use:   "train",
		Short: "Time training steps of a method (simsiam, byol, mocov3, ...) on random input, as bench/torch_methods.py does in PyTorch",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return profiledJSON(cmd.OutOrStdout(), profile, func() (any, error) { return train.BenchStep(c) })
		},
	}
	f := cmd.Flags()
	f.StringVar(&c.Method, "method", "simsiam", "self-supervised method: "+strings.Join(ssl.Names(), ", "))
	f.StringVar(&c.Arch, "arch", "resnet18", "backbone: "+strings.Join(nn.ArchNames(), ", "))
	f.IntVar(&c.Width, "width", 16, "ResNet base width W (channels W, 2W, 4W, 8W)")
	f.IntVar(&c.Size, "size", 32, "input height and width")
	f.IntVar(&c.Channels, "channels", 3, "input channels")
	f.IntVar(&c.Batch, "batch", 128, "batch size (images; each has two views)")
	f.IntVar(&c.Steps, "steps", 10, "timed steps (median reported)")
	f.IntVar(&c.Warmup, "warmup", 3, "untimed warm-up steps")
	f.StringVar(&profile, "cpuprofile", "", "write a CPU profile (go tool pprof) to this file")
	return cmd
}

// startCPUProfile writes a CPU profile to path (nothing when path is empty)
// until the returned stop is called, for the --cpuprofile of the bench commands.
func startCPUProfile(path string) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}

// profiledJSON runs one benchmark under --cpuprofile (when profile is set) and
// prints its result as one JSON line: the body of every siam bench subcommand.
func profiledJSON(w io.Writer, profile string, run func() (any, error)) error {
	stop, err := startCPUProfile(profile)
	if err != nil {
		return err
	}
	defer stop()
	r, err := run()
	if err != nil {
		return err
	}
	return writeJSONLine(w, r)
}

// newBenchEmbed is `siam bench embed`: evaluation-mode forward throughput of the
// backbone, the feature pass of k-NN, collapse and the linear probe.
func newBenchEmbed() *cobra.Command {
	var c train.EmbedConfig
	var profile string
	cmd := &cobra.Command{
		Use:   "embed",
		Short: "Time eval-mode backbone forward passes (feature extraction) of the torch_simsiam.py ResNet-18 on random input",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return profiledJSON(cmd.OutOrStdout(), profile, func() (any, error) { return train.BenchEmbed(c) })
		},
	}
	f := cmd.Flags()
	f.IntVar(&c.Width, "width", 16, "ResNet-18 base width W (channels W, 2W, 4W, 8W)")
	f.IntVar(&c.Size, "size", 32, "input height and width")
	f.IntVar(&c.Channels, "channels", 3, "input channels")
	f.IntVar(&c.Batch, "batch", 256, "images per forward pass")
	f.IntVar(&c.Batches, "batches", 10, "timed batches (median reported)")
	f.IntVar(&c.Warmup, "warmup", 3, "untimed warm-up batches")
	f.StringVar(&profile, "cpuprofile", "", "write a CPU profile (go tool pprof) to this file")
	return cmd
}
