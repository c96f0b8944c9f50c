package main

import (
	"fmt"
	"runtime"
	"time"

	"github.com/spf13/cobra"

	"github.com/siam-ssl/siam/data"
)

// newBenchData is `siam bench data`: the streaming input pipeline's rate.
func newBenchData() *cobra.Command {
	var spec, stream, profile string
	var size, workers, batch int
	var dur time.Duration
	cmd := &cobra.Command{
		Use:   "data",
		Short: "Input pipeline throughput: read + decode + two augmented views, images/s and per core",
		Long: `data times the training input pipeline on --data (an ImageFolder tree, streamed by
default, or WebDataset shards): files are read and decoded by the loader workers and two
views made with the training recipe at --size (RandomResizedCrop, flip, colour jitter,
grayscale, blur at >64 px, normalise). It prints one JSON line: images_per_s (wall),
images_per_s_per_core (images per CPU-second, meaningful on a shared machine) and
decode_images_per_s_per_core (read + decode alone, one goroutine).`,
		Example: `  siam bench data --data /data/imagenet --size 224
  siam bench data --data 'shards/train-{000000..000146}.tar' --size 224 --workers 16`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if spec == "" {
				return fmt.Errorf("--data is required")
			}
			if size < 1 || workers < 1 || batch < 1 || dur <= 0 {
				return fmt.Errorf("--size, --workers, --batch and --duration must be positive")
			}
			mode, err := data.ParseStreamMode(stream)
			if err != nil {
				return err
			}
			ds, _, err := data.OpenWith(spec, data.OpenOptions{ImageSize: size, Stream: mode, Workers: workers, Log: cmd.ErrOrStderr()})
			if err != nil {
				return err
			}
			r := data.RecipeFor(ds)
			r.Size = size
			return profiledJSON(cmd.OutOrStdout(), profile, func() (any, error) {
				res, err := data.BenchData(ds, r, batch, workers, dur)
				if err != nil {
					return nil, err
				}
				return map[string]any{"bench": "data", "engine": "siam",
					"data": spec, "dataset": ds.Name, "n": ds.N, "streamed": ds.Streamed(), "size": size,
					"recipe": r.Name, "workers": workers, "batch": batch, "gomaxprocs": runtime.GOMAXPROCS(0),
					"images": res.Images, "seconds": res.Seconds, "cpu_seconds": res.CPUSeconds,
					"images_per_s": res.ImagesPerS, "images_per_s_per_core": res.ImagesPerSPerCore,
					"decode_images_per_s_per_core": res.DecodePerSPerCore, "bad_images": ds.BadFiles()}, nil
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&spec, "data", "", "ImageFolder tree, shard pattern or any dataset spec of siam train")
	f.IntVar(&size, "size", 224, "view side")
	f.StringVar(&stream, "stream", "always", "ImageFolder trees: always (stream), auto or never")
	f.IntVar(&workers, "workers", runtime.NumCPU(), "loader workers")
	f.IntVar(&batch, "batch", 64, "images per batch")
	f.DurationVar(&dur, "duration", 5*time.Second, "timed duration")
	f.StringVar(&profile, "cpuprofile", "", "write a CPU profile (go tool pprof) to this file")
	return cmd
}
