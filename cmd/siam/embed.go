package main

import (
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/siam-ssl/siam/collapse"
	"github.com/siam-ssl/siam/eval"
	"github.com/siam-ssl/siam/matrixio"
	"github.com/siam-ssl/siam/npy"
	"github.com/siam-ssl/siam/safetensors"
	"github.com/siam-ssl/siam/train"
)

// Tensor names of a `siam embed` .safetensors file.
const (
	embedFeatures = "features" // [N, d] float32
	embedLabels   = "labels"   // [N] int64
)

// embedding is one exported feature matrix with its labels and provenance.
type embedding struct {
	Feats  []float32
	N, Dim int
	Labels []int
	Meta   map[string]string // provenance: run, step, split, data, input spec...
}

// embedSplit computes the backbone features of a loaded model on one split (all
// images, or a seeded sample of `samples`): exactly what `siam collapse
// --checkpoint` measures with the same flags. The model comes from loadRun (or any
// other source that fills a loadedRun), so embed works for every model source the
// evaluation commands accept.
func embedSplit(r *loadedRun, split string, samples int, seed uint64, batch int) (*embedding, error) {
	ds := r.Train
	switch split {
	case "train":
	case "test":
		var err error
		if ds, err = r.needTest(); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("--split %q: want train or test", split)
	}
	var idx []int
	if samples > 0 && samples < ds.N {
		idx = eval.SampleIndices(ds.N, samples, seed)
	}
	feats, dim, labels, err := eval.FeaturesWith(r.representer(), ds, r.Recipe, idx, batch)
	if err != nil {
		return nil, err
	}
	e := &embedding{Feats: feats, N: len(labels), Dim: dim, Labels: labels, Meta: map[string]string{
		"source": "siam embed", "run": r.Dir, "step": strconv.Itoa(r.Step), "split": split,
		"data": dataName(r.Data), "feature_dim": strconv.Itoa(dim), "rows": strconv.Itoa(len(labels)),
		"arch": r.Config.Arch, "stem": r.Config.Stem,
	}}
	if idx != nil {
		e.Meta["samples"], e.Meta["seed"] = strconv.Itoa(samples), strconv.FormatUint(seed, 10)
	}
	maps.Copy(e.Meta, train.RecipeInputSpec(r.Recipe, ds.C, ds.H, ds.W).Meta())
	return e, nil
}

// labelsPath is where an .npy export keeps its labels: feats.npy -> feats.labels.npy.
func labelsPath(out string) string {
	return strings.TrimSuffix(out, filepath.Ext(out)) + ".labels.npy"
}

// write saves the embedding to out (atomically): .npy holds the N x d float32
// features and a sibling .labels.npy the int64 labels; .safetensors holds both
// ("features", "labels") and the provenance as metadata. It returns the paths.
func (e *embedding) write(out string) ([]string, error) {
	labels := make([]int64, len(e.Labels))
	for i, l := range e.Labels {
		labels[i] = int64(l)
	}
	switch strings.ToLower(filepath.Ext(out)) {
	case ".npy":
		lp := labelsPath(out)
		if err := npy.WriteFile(out, &npy.Array{Shape: []int{e.N, e.Dim}, F32: e.Feats}); err != nil {
			return nil, err
		}
		if err := npy.WriteFile(lp, &npy.Array{Shape: []int{e.N}, I64: labels}); err != nil {
			return nil, err
		}
		return []string{out, lp}, nil
	case ".safetensors":
		ts := []safetensors.Tensor{
			{Name: embedFeatures, DType: safetensors.F32, Shape: []int{e.N, e.Dim}, F32: e.Feats},
			{Name: embedLabels, DType: safetensors.I64, Shape: []int{e.N}, I64: labels},
		}
		if err := safetensors.WriteFile(out, ts, e.Meta); err != nil {
			return nil, err
		}
		return []string{out}, nil
	}
	return nil, fmt.Errorf("--out %s: want a .npy or .safetensors file", out)
}

// newEmbed is `siam embed`: export backbone features (and labels) for any other tool.
func newEmbed() *cobra.Command {
	var ef evalFlags
	var split, out string
	var samples int
	var seed uint64
	cmd := &cobra.Command{
		Use:   "embed",
		Short: "Export backbone features and labels of a split (.npy or .safetensors) for other tools",
		Long: `Computes the backbone representation (evaluation mode, no augmentation, the run's own
normalisation) of every image of a split, or of a seeded --samples sample, and writes
  FILE.npy          N x d float32 features, plus FILE.labels.npy (N int64 labels)
  FILE.safetensors  tensors "features" [N, d] float32 and "labels" [N] int64, with
                    the run, step, split, dataset and input normalisation as metadata
Rows are in dataset order (sampled rows in sample order). 'siam collapse --embeddings'
on the file gives the same numbers as 'siam collapse --checkpoint' with the same
--split/--samples/--seed.`,
		Example: `  siam embed --checkpoint runs/multi --split test --out feats.npy
  siam embed --weights checkpoint_0099.pth.tar --data cifar10 --out feats.npy
  siam embed --checkpoint runs/multi --out feats.safetensors --samples 5000
  python -c "import numpy as np; x = np.load('feats.npy'); y = np.load('feats.labels.npy')"`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return errors.New("--out FILE.npy or FILE.safetensors is required")
			}
			if ext := strings.ToLower(filepath.Ext(out)); ext != ".npy" && ext != ".safetensors" {
				return fmt.Errorf("--out %s: want a .npy or .safetensors file", out)
			}
			if samples < 0 {
				return fmt.Errorf("--samples %d < 0", samples)
			}
			r, err := ef.load(cmd)
			if err != nil {
				return err
			}
			e, err := embedSplit(r, split, samples, seed, ef.batch)
			if err != nil {
				return err
			}
			paths, err := e.write(out)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s %s %s: %d x %d features -> %s\n",
				r.title(), dataName(r.Data), split, e.N, e.Dim, strings.Join(paths, ", "))
			return nil
		},
	}
	ef.add(cmd, 0, forwardBatch)
	f := cmd.Flags()
	f.StringVar(&split, "split", "train", "split to export: train or test")
	f.StringVar(&out, "out", "", "output file: .npy (labels beside it in .labels.npy) or .safetensors")
	f.IntVar(&samples, "samples", 0, "export a seeded sample of this many images (0 = the whole split)")
	f.Uint64Var(&seed, "seed", 1, "seed of --samples")
	ef.w.add(cmd, false)
	return cmd
}

// loadEmbeddings reads an embeddings file for `siam collapse --embeddings`. Float32
// .npy files and float32 .safetensors tensors stay float32 (as the features were
// computed), so the spectrum is exactly that of `--checkpoint`; a .safetensors file
// from `siam embed` needs no --tensor (its "features" tensor is used). Other
// files go through matrixio (float64).
func loadEmbeddings(path, tensorName string) (rows, cols int, x32 []float32, x64 []float64, err error) {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".npy":
		a, err := npy.ReadFile(path)
		if err != nil {
			return 0, 0, nil, nil, err
		}
		if rows, cols, x64, err = matrixio.FromNPY(a); err != nil { // shape and finiteness checks
			return 0, 0, nil, nil, fmt.Errorf("%s: %w", path, err)
		}
		if a.F32 != nil {
			return rows, cols, a.F32, nil, nil
		}
		return rows, cols, nil, x64, nil
	case ".safetensors":
		f, err := safetensors.ReadFile(path)
		if err != nil {
			return 0, 0, nil, nil, err
		}
		if tensorName == "" && f.Metadata["source"] == "siam embed" {
			tensorName = embedFeatures
		}
		if rows, cols, x64, err = matrixio.FromSafetensors(f, tensorName); err != nil {
			return 0, 0, nil, nil, fmt.Errorf("%s: %w", path, err)
		}
		if tensorName == "" {
			tensorName = f.Names()[0]
		}
		if in, ok := f.Info(tensorName); ok && in.DType == safetensors.F32 {
			t, err := f.Get(tensorName)
			if err != nil {
				return 0, 0, nil, nil, err
			}
			return rows, cols, t.F32, nil, nil
		}
		return rows, cols, nil, x64, nil
	}
	rows, cols, x64, err = matrixio.Load(path, matrixio.Options{TensorName: tensorName})
	return rows, cols, nil, x64, err
}

// spectrumOfFile measures an embeddings file (see loadEmbeddings).
func spectrumOfFile(path, tensorName string, opts collapse.Options) (*collapse.Result, error) {
	rows, cols, x32, x64, err := loadEmbeddings(path, tensorName)
	if err != nil {
		return nil, err
	}
	var res *collapse.Result
	if x32 != nil {
		res, err = collapse.Spectrum(x32, rows, cols, opts)
	} else {
		res, err = collapse.Spectrum(x64, rows, cols, opts)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return res, nil
}
