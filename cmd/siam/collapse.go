package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/siam-ssl/siam/collapse"
	"github.com/siam-ssl/siam/evalrun"
	"github.com/siam-ssl/siam/plots"
)

// collapseInput is one measured matrix of `siam collapse`.
type collapseInput struct {
	Name   string
	Path   string
	Source string // "checkpoint", "weights" or "embeddings"
	Run    *loadedRun
	Split  string
	Res    *collapse.Result
	Record map[string]any // the results.jsonl record of a checkpoint or weights input
}

// smallSigmaRel is the threshold, relative to sigma_1, below which a singular
// value counts as collapsed in the summary.
const smallSigmaRel = 1e-3

// parseCollapseMethod accepts the short CLI names and collapse.ParseMethod's.
func parseCollapseMethod(s string) (collapse.Method, error) {
	switch strings.ToLower(s) {
	case "cov":
		return collapse.MethodCovariance, nil
	case "cov64":
		return collapse.MethodCovariance64, nil
	case "cov32":
		return collapse.MethodCovariance32, nil
	}
	m, err := collapse.ParseMethod(s)
	if err != nil {
		return 0, fmt.Errorf("--method %q: want cov (float64, default), cov64 (same), cov32 (faster, float32 products) or svd", s)
	}
	return m, nil
}

// newCollapse is `siam collapse`: the singular-value spectrum and collapse metrics
// of representations from run folders or embedding files.
func newCollapse() *cobra.Command {
	var checkpoints, embeddings []string
	var dataSpec, split, tensorName, method, plotPrefix string
	var samples, batch int
	var seed uint64
	var normRows, asJSON bool
	var wf weightsFlags
	cmd := &cobra.Command{
		Use:   "collapse",
		Short: "Measure partial dimensional collapse: singular values, AUC, RankMe",
		Long: `Computes the singular values of the column-centred N x d representation matrix and the
collapse metrics of SPEC §5: the cumulative explained variance (Eq. 1, built from sigma,
not sigma squared), its AUC (Eq. 2; 0.5 flat .. 1 rank one, higher = more collapse),
RankMe, the effective rank and the mean per-dimension std of the L2-normalised rows
(about 1/sqrt(d) when healthy, 0 when collapsed).

Inputs (several at once are measured in turn and drawn on one figure):
  --checkpoint RUN_DIR   backbone features (eval mode, no augmentation) of the run's
                         dataset (or --data), whole training split or a --samples
                         sample; the result is also appended to RUN_DIR/results.jsonl
  --weights FILE         the same for a ResNet trained elsewhere: a PyTorch checkpoint
                         (torch.save: .pth, .pth.tar, .pt; read without Python, never
                         executed) or .safetensors; architecture, stem and width are read
                         off the weights unless --arch/--stem/--width are given; the
                         result goes to --out (default FILE without extension + .siam/)
  --embeddings FILE      a matrix, rows = samples: .npy (float32/float64, C order),
                         .safetensors (--tensor NAME) or .csv/.tsv`,
		Example: `  siam collapse --checkpoint runs/multi --checkpoint runs/single --plot fig3
  siam collapse --weights checkpoint_0099.pth.tar --data cifar10 --samples 10000
  siam collapse --embeddings feats.npy --json
  siam collapse --embeddings model.safetensors --tensor features --method svd`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if wf.resolve(cmd); len(checkpoints)+len(embeddings)+len(wf.files) == 0 {
				return errors.New("nothing to measure: give --checkpoint RUN_DIR, --weights FILE or --embeddings FILE")
			}
			if len(wf.files) > 1 && wf.out != "" {
				return errors.New("--out names one folder: give one --weights file with it")
			}
			m, err := parseCollapseMethod(method)
			if err != nil {
				return err
			}
			if split != "train" && split != "test" {
				return fmt.Errorf("--split %q: want train or test", split)
			}
			if samples < 0 || batch < 0 {
				return errors.New("--samples and --batch must be >= 0")
			}
			opts := collapse.Options{NormalizeRows: normRows, Method: m}
			// Measure everything first: a bad input fails before any file is written.
			var ins []*collapseInput
			for _, dir := range checkpoints {
				in, err := collapseCheckpoint(dir, dataSpec, cmd.Flags().Changed("data"), split, samples, seed, batch, opts)
				if err != nil {
					return err
				}
				ins = append(ins, in)
			}
			for _, file := range wf.files {
				r, err := loadWeights(&wf, file, dataSpec)
				if err != nil {
					return err
				}
				in, err := collapseRun(r, split, samples, seed, batch, opts)
				if err != nil {
					return err
				}
				in.Name, in.Path, in.Source = filepath.Base(file), file, "weights"
				ins = append(ins, in)
			}
			for _, path := range embeddings {
				res, err := spectrumOfFile(path, tensorName, opts)
				if err != nil {
					return err
				}
				ins = append(ins, &collapseInput{Name: filepath.Base(path), Path: path, Source: "embeddings", Res: res})
			}
			uniqueNames(ins)
			if plotPrefix != "" {
				series := make([]plots.Series, len(ins))
				for i, in := range ins {
					series[i] = plots.Series{Name: in.Name, Y: in.Res.Singular}
				}
				paths, err := plots.CollapseFigures(plotPrefix, series)
				if err != nil {
					return fmt.Errorf("--plot: %w", err)
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "wrote %s\n", strings.Join(paths, ", "))
			}
			for _, in := range ins {
				if in.Run == nil {
					continue
				}
				rec := in.Record
				if err := appendResult(in.Run.Dir, rec); err != nil {
					return err
				}
			}
			out := cmd.OutOrStdout()
			for _, in := range ins {
				if asJSON {
					if err := printCollapseJSON(out, in); err != nil {
						return err
					}
				} else {
					printCollapseText(out, in)
				}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringSliceVar(&checkpoints, "checkpoint", nil, "run folder(s) to measure (repeat or comma-separate)")
	f.StringSliceVar(&embeddings, "embeddings", nil, "matrix file(s): .npy, .safetensors, .csv, .tsv (repeat or comma-separate)")
	f.StringVar(&tensorName, "tensor", "", "tensor name inside .safetensors files (may be omitted when a file holds one tensor)")
	f.StringVar(&dataSpec, "data", "", "dataset for --checkpoint and --weights (default: each run's own dataset; the embedded one for --weights)")
	f.StringVar(&split, "split", "train", "split whose representations are measured: train or test")
	f.IntVar(&samples, "samples", 0, "measure a seeded sample of this many images (0 = the whole split)")
	f.Uint64Var(&seed, "seed", 1, "seed of --samples")
	f.IntVar(&batch, "batch", 0, "images per forward pass (0 = 128)")
	f.BoolVar(&normRows, "normalize-rows", false, "L2-normalise every row before centring (off in the paper)")
	f.StringVar(&method, "method", "cov", "cov (float64 covariance + eigensolver, default), cov32 (float32 products: faster, tail at a 1e-4*sigma1 noise floor) or svd (gonum SVD, slow)")
	f.BoolVar(&asJSON, "json", false, "print one JSON object per input instead of text")
	wf.add(cmd, true)
	f.StringVar(&plotPrefix, "plot", "", "write PREFIX-spectrum.{svg,png} and PREFIX-explained.{svg,png} with every input")
	return cmd
}

// collapseCheckpoint measures the representations of a run's model.
func collapseCheckpoint(dir, dataSpec string, dataSet bool, split string, samples int, seed uint64, batch int, opts collapse.Options) (*collapseInput, error) {
	r, err := loadRun(dir, dataSpec, dataSet)
	if err != nil {
		return nil, err
	}
	in, err := collapseRun(r, split, samples, seed, batch, opts)
	if err != nil {
		return nil, err
	}
	in.Name, in.Path = filepath.Base(filepath.Clean(dir)), dir
	return in, nil
}

// collapseRun measures the representations of a loaded model on its data.
func collapseRun(r *loadedRun, split string, samples int, seed uint64, batch int, opts collapse.Options) (*collapseInput, error) {
	rec, res, err := r.Collapse(evalrun.CollapseOptions{Options: opts, Split: split, Samples: samples, Seed: seed, Batch: batch})
	if err != nil {
		return nil, err
	}
	return &collapseInput{Source: "checkpoint", Run: r, Split: split, Res: res, Record: rec}, nil
}

// uniqueNames suffixes repeated names (#2, #3, ...) so legends and JSON tell them apart.
func uniqueNames(ins []*collapseInput) {
	seen := map[string]int{}
	for _, in := range ins {
		seen[in.Name]++
		if k := seen[in.Name]; k > 1 {
			in.Name = fmt.Sprintf("%s#%d", in.Name, k)
		}
	}
}

// smallCount counts singular values below smallSigmaRel * sigma_1.
func smallCount(sigma []float64) int {
	if len(sigma) == 0 {
		return 0
	}
	n := 0
	for _, s := range sigma {
		if s < smallSigmaRel*sigma[0] {
			n++
		}
	}
	return n
}

func printCollapseJSON(w io.Writer, in *collapseInput) error {
	r := in.Res
	o := map[string]any{"name": in.Name, "source": in.Source, "path": in.Path, "n": r.N, "d": r.D,
		"method": r.Method, "normalized_rows": r.NormalizedRows, "auc": r.AUC, "rankme": r.RankMe,
		"effective_rank": r.EffectiveRank, "participation_ratio": r.ParticipationRatio,
		"mean_dim_std": r.MeanDimStd, "small_singular_values": smallCount(r.Singular),
		"singular_values": r.Singular, "explained_variance": r.Explained}
	if in.Run != nil {
		o["step"], o["data"], o["split"] = in.Run.Step, dataName(in.Run.Data), in.Split
		if in.Run.Weights != nil {
			in.Run.Weights.annotate(o)
		}
	}
	b, err := json.Marshal(o)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

func printCollapseText(w io.Writer, in *collapseInput) {
	r := in.Res
	head := fmt.Sprintf("%s: %s", in.Name, in.Path)
	if in.Run != nil {
		head = fmt.Sprintf("%s: step %d, %s %s", in.Name, in.Run.Step, dataName(in.Run.Data), in.Split)
		if w := in.Run.Weights; w != nil {
			head = fmt.Sprintf("%s: %s, %s %s at %dx%d", in.Name, w.Model.Describe(), dataName(in.Run.Data), in.Split, w.Size, w.Size)
		}
	}
	norm := ""
	if r.NormalizedRows {
		norm = ", rows L2-normalised"
	}
	fmt.Fprintf(w, "%s (N=%d, d=%d, %s%s)\n", head, r.N, r.D, r.Method, norm)
	fmt.Fprintf(w, "  AUC %.4f   RankMe %.2f   effective rank %.2f   participation ratio %.2f\n",
		r.AUC, r.RankMe, r.EffectiveRank, r.ParticipationRatio)
	fmt.Fprintf(w, "  mean per-dim std of L2-normalised rows %.4f (1/sqrt(d) = %.4f healthy, 0 collapsed)\n",
		r.MeanDimStd, 1/math.Sqrt(float64(r.D)))
	fmt.Fprintf(w, "  sigma: %s\n", sigmaSummary(r.Singular, 5, 3))
	fmt.Fprintf(w, "  %d of %d singular values below %g*sigma_1\n", smallCount(r.Singular), r.D, smallSigmaRel)
}

// sigmaSummary prints the first `first` and last `last` singular values.
func sigmaSummary(s []float64, first, last int) string {
	f := func(v []float64) string {
		parts := make([]string, len(v))
		for i, x := range v {
			parts[i] = fmt.Sprintf("%.4g", x)
		}
		return strings.Join(parts, " ")
	}
	if len(s) <= first+last {
		return f(s)
	}
	return fmt.Sprintf("%s ... %s (sigma_%d..sigma_%d)", f(s[:first]), f(s[len(s)-last:]), len(s)-last+1, len(s))
}
