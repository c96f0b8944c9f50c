package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"slices"
	"time"

	"github.com/spf13/cobra"

	"github.com/siam-ssl/siam/backend/cpu"
	"github.com/siam-ssl/siam/collapse"
	"github.com/siam-ssl/siam/data"
	"github.com/siam-ssl/siam/eval"
)

// writeJSONLine prints v as one JSON line on w.
func writeJSONLine(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

// newBenchGEMM is `siam bench gemm`: float32 GEMM throughput of the kernels.
func newBenchGEMM() *cobra.Command {
	var threads []int
	var minTime time.Duration
	cmd := &cobra.Command{
		Use:   "gemm",
		Short: "GEMM GFLOP/s and % of FMA peak over the default shapes (square and ResNet im2col)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if minTime <= 0 {
				return fmt.Errorf("--min-time %v must be > 0", minTime)
			}
			type row struct {
				Name    string  `json:"name"`
				M       int     `json:"m"`
				N       int     `json:"n"`
				K       int     `json:"k"`
				Threads int     `json:"threads"`
				Seconds float64 `json:"seconds"`
				GFLOPS  float64 `json:"gflops"`
				PctPeak float64 `json:"pct_peak"`
			}
			var rows []row
			impl := ""
			for _, t := range threads {
				if t < 1 {
					return fmt.Errorf("--threads %d < 1", t)
				}
				for _, r := range cpu.BenchGEMM(cpu.DefaultGEMMShapes(), t, minTime) {
					impl = r.Impl
					rows = append(rows, row{r.Shape.Name, r.Shape.M, r.Shape.N, r.Shape.K, r.Threads, r.Seconds, r.GFLOPS, r.PctPeak})
				}
			}
			return writeJSONLine(cmd.OutOrStdout(), map[string]any{"bench": "gemm", "engine": "siam", "impl": impl,
				"peak_gflops_per_core": cpu.PeakPerCore(), "peak_source": "measured FMA loop (kernels.MeasureFMAPeak)", "results": rows})
		},
	}
	f := cmd.Flags()
	f.IntSliceVar(&threads, "threads", defaultThreads(), "thread counts to measure (comma-separated)")
	f.DurationVar(&minTime, "min-time", 500*time.Millisecond, "timed duration per shape and thread count")
	return cmd
}

// defaultThreads is 1 and every core (deduplicated).
func defaultThreads() []int {
	t := []int{1, runtime.NumCPU()}
	return slices.Compact(t)
}

// newBenchAugment is `siam bench augment`: SimSiam view pairs per second.
func newBenchAugment() *cobra.Command {
	var workers, batch int
	var dur time.Duration
	cmd := &cobra.Command{
		Use:   "augment",
		Short: "Augmentation throughput (view pairs/s): embedded 28x28x1 set and synthetic 32x32x3 images",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if workers < 1 || batch < 1 || dur <= 0 {
				return fmt.Errorf("--workers, --batch and --duration must be positive")
			}
			gray, _, err := data.Open("")
			if err != nil {
				return err
			}
			grayRate, err := data.BenchAugment(gray, data.RecipeFor(gray), batch, workers, dur)
			if err != nil {
				return err
			}
			color := syntheticColor(2048, 32, 1)
			colorRate, err := data.BenchAugment(color, data.SimSiamColor32(), batch, workers, dur)
			if err != nil {
				return err
			}
			return writeJSONLine(cmd.OutOrStdout(), map[string]any{"bench": "augment", "engine": "siam",
				"workers": workers, "batch": batch,
				"gray28_pairs_per_s": grayRate, "color32_pairs_per_s": colorRate})
		},
	}
	f := cmd.Flags()
	f.IntVar(&workers, "workers", runtime.NumCPU(), "augmentation goroutines")
	f.IntVar(&batch, "batch", 256, "images per batch")
	f.DurationVar(&dur, "duration", 2*time.Second, "timed duration per dataset")
	return cmd
}

// syntheticColor is n random size x size RGB images (uniform pixels), 10 classes.
func syntheticColor(n, size int, seed uint64) *data.Dataset {
	rng := rand.New(rand.NewPCG(seed, 3))
	px := 3 * size * size
	ds := &data.Dataset{Name: "synthetic-color", N: n, C: 3, H: size, W: size, Classes: 10,
		Pixels: make([]uint8, n*px), Labels: make([]int, n)}
	for i := range ds.Pixels {
		ds.Pixels[i] = uint8(rng.Uint32())
	}
	for i := range ds.Labels {
		ds.Labels[i] = i % 10
	}
	return ds
}

// newBenchCollapse is `siam bench collapse`: centre + spectrum + AUC time.
func newBenchCollapse() *cobra.Command {
	var n, d, runs int
	var seed uint64
	var method string
	cmd := &cobra.Command{
		Use:   "collapse",
		Short: "Time the collapse metric (centre + covariance + eigenvalues + AUC) on random features",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if n < 2 || d < 1 || runs < 1 {
				return fmt.Errorf("need --n >= 2, --d >= 1, --runs >= 1")
			}
			m, err := parseCollapseMethod(method)
			if err != nil {
				return err
			}
			med, all, res, err := collapse.BenchSpectrumWith(n, d, runs, seed, collapse.Options{Method: m})
			if err != nil {
				return err
			}
			return writeJSONLine(cmd.OutOrStdout(), map[string]any{"bench": "collapse", "engine": "siam",
				"n": n, "d": d, "runs": runs, "threads": runtime.GOMAXPROCS(0), "method": res.Method,
				"seconds": med, "all_seconds": all, "auc": res.AUC, "rankme": res.RankMe})
		},
	}
	f := cmd.Flags()
	f.IntVar(&n, "n", 50000, "rows (samples)")
	f.IntVar(&d, "d", 512, "columns (feature dimension)")
	f.IntVar(&runs, "runs", 5, "timed runs (median reported)")
	f.Uint64Var(&seed, "seed", 1, "seed of the random features")
	f.StringVar(&method, "method", "cov", "spectrum route: cov (float64, default), cov32 or svd")
	return cmd
}

// newBenchKNN is `siam bench knn`: similarities + top-k time.
func newBenchKNN() *cobra.Command {
	var queries, keys, dim, k, runs int
	var seed uint64
	cmd := &cobra.Command{
		Use:   "knn",
		Short: "Time the k-NN search (similarity GEMM + top-k) on random unit vectors",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if queries < 1 || keys < 1 || dim < 1 || k < 1 || runs < 1 {
				return fmt.Errorf("--queries, --keys, --dim, --k and --runs must be >= 1")
			}
			med, all, err := eval.BenchKNN(queries, keys, dim, k, runs, seed)
			if err != nil {
				return err
			}
			return writeJSONLine(cmd.OutOrStdout(), map[string]any{"bench": "knn", "engine": "siam",
				"queries": queries, "keys": keys, "dim": dim, "k": k, "runs": runs,
				"threads": runtime.GOMAXPROCS(0), "seconds": med, "all_seconds": all})
		},
	}
	f := cmd.Flags()
	f.IntVar(&queries, "queries", 10000, "query vectors")
	f.IntVar(&keys, "keys", 50000, "key (memory) vectors")
	f.IntVar(&dim, "dim", 512, "dimension")
	f.IntVar(&k, "k", 200, "neighbours per query")
	f.IntVar(&runs, "runs", 3, "timed runs (median reported)")
	f.Uint64Var(&seed, "seed", 1, "seed of the random vectors")
	return cmd
}
