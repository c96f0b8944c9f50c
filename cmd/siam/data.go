package main

import (
	"fmt"
	"runtime"

	"github.com/spf13/cobra"

	"github.com/siam-ssl/siam/data"
)

// newData is `siam data`: dataset tools.
func newData() *cobra.Command {
	d := &cobra.Command{
		Use:   "data",
		Short: "Dataset tools: pack an ImageFolder tree into WebDataset shards",
	}
	d.AddCommand(newDataPack())
	return d
}

// newDataPack is `siam data pack IMAGEFOLDER --out DIR`.
func newDataPack() *cobra.Command {
	var out, shardSize string
	var opt data.PackOptions
	cmd := &cobra.Command{
		Use:   "pack IMAGEFOLDER",
		Short: "Write an ImageFolder tree as WebDataset tar shards (KEY.jpg + KEY.cls), deterministically",
		Long: `pack writes IMAGEFOLDER (root/train/<class>/..., root/val/<class>/..., or root/<class>/...)
as WebDataset shards OUT/train-000000.tar, ... (and OUT/val-*.tar) plus OUT/classes.txt.
Samples are shuffled with --seed (0 keeps the folder order) so every shard mixes the
classes, and each shard is written atomically; the same input and flags give the same
bytes. --resize S shrinks images whose shorter side is longer than S and re-encodes
them as JPEG, so training decodes less. Unreadable images are warned about and left out.`,
		Example: `  siam data pack imagenet --out shards --shard-size 1GB --resize 256
  siam train --data 'shards/train-{000000..000146}.tar' --size 224 --out runs/in1k`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return fmt.Errorf("--out DIR is required")
			}
			n, err := data.ParseByteSize(shardSize)
			if err != nil {
				return fmt.Errorf("--shard-size: %w", err)
			}
			opt.ShardSize, opt.Log = n, cmd.ErrOrStderr()
			res, err := data.Pack(args[0], out, opt)
			if err != nil {
				return err
			}
			for _, r := range res {
				fmt.Fprintf(cmd.OutOrStdout(), "%s: %d images in %d shards (%.1f MB), %d unreadable skipped: --data '%s'\n",
					r.Split, r.Images, r.Shards, float64(r.Bytes)/1e6, r.Skipped, r.Pattern)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&out, "out", "", "output folder (created; must be empty)")
	f.StringVar(&shardSize, "shard-size", "1GB", "largest shard (e.g. 1GB, 500MB, 64MiB)")
	f.IntVar(&opt.Resize, "resize", 0, "shrink images to this shorter side and re-encode as JPEG (0: keep the original bytes)")
	f.IntVar(&opt.Quality, "quality", 90, "JPEG quality of resized images")
	f.Uint64Var(&opt.Seed, "seed", 1, "shuffle seed (0: keep the folder's order)")
	f.IntVar(&opt.Workers, "workers", runtime.NumCPU(), "resizing goroutines")
	return cmd
}
