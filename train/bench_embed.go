package train

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sort"
	"time"

	"github.com/siam-ssl/siam/backend/cpu"
	"github.com/siam-ssl/siam/nn"
	"github.com/siam-ssl/siam/tensor"
)

// EmbedConfig is the model and input of the embedding benchmark: the backbone of
// BenchConfig's model (ResNet-18, CIFAR stem, base width Width) run forward in
// evaluation mode, as feature extraction for k-NN, collapse and the linear probe
// runs it; bench/torch_embed.py is the PyTorch peer (model.eval(), torch.no_grad()).
type EmbedConfig struct {
	Width, Size, Channels, Batch int
	Batches, Warmup              int // timed and untimed batches
}

// EmbedResult is one JSON line of `siam bench embed`.
type EmbedResult struct {
	Bench             string  `json:"bench"`
	Engine            string  `json:"engine"`
	Width             int     `json:"width"`
	Size              int     `json:"size"`
	Channels          int     `json:"channels"`
	Batch             int     `json:"batch"`
	Threads           int     `json:"threads"`
	FeatureDim        int     `json:"feature_dim"`
	BatchSMedian      float64 `json:"batch_s_median"`
	BatchSMin         float64 `json:"batch_s_min"`
	BatchSMax         float64 `json:"batch_s_max"`
	ImagesPerS        float64 `json:"images_per_s"`
	GFLOPs            float64 `json:"gflops"`
	PeakPct           float64 `json:"peak_pct"` // of the measured FMA peak x threads
	PeakGFLOPsPerCore float64 `json:"peak_gflops_per_core"`
	FLOPsPerImage     float64 `json:"flops_per_image"`
	FeatureMeanAbs    float64 `json:"feature_mean_abs"` // of the last batch: the work was done
	PeakRSSMiB        float64 `json:"peak_rss_mib"`
}

// BenchEmbed times evaluation-mode forward passes of the backbone over batches of
// random images and reports the median batch. The batch-norm layers use running
// statistics (set to random, non-trivial values) and the graph records no
// gradients, so the fused inference convolutions run, exactly as in
// eval.Features.
func BenchEmbed(c EmbedConfig) (EmbedResult, error) {
	if c.Width < 1 || c.Size < 4 || c.Channels < 1 || c.Batch < 1 || c.Batches < 1 || c.Warmup < 0 {
		return EmbedResult{}, fmt.Errorf("bench embed: need width>=1, size>=4, channels>=1, batch>=1, batches>=1, warmup>=0 (got %+v)", c)
	}
	var coll nn.Collection
	bb, err := nn.NewBackbone(&coll, "", nn.BackboneSpec{Arch: "resnet18", Width: c.Width, InChannels: c.Channels},
		rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		return EmbedResult{}, err
	}
	rng := rand.New(rand.NewPCG(1, 3))
	for _, bn := range coll.BNs {
		for i := range bn.RunningMean.Data {
			bn.RunningMean.Data[i] = float32(0.1 * rng.NormFloat64())
			bn.RunningVar.Data[i] = float32(0.5 + rng.Float64())
			if bn.Weight != nil {
				bn.Weight.Data[i] = float32(0.8 + 0.4*rng.Float64())
				bn.Bias.Data[i] = float32(0.1 * rng.NormFloat64())
			}
		}
	}
	coll.SetTraining(false)
	x := make([]float32, c.Batch*c.Channels*c.Size*c.Size)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	g := tensor.NewGraph()
	g.SetNoGrad(true)
	var meanAbs float64
	forward := func() error {
		g.Reset()
		f := bb.Forward(g, g.Input(x, c.Batch, c.Channels, c.Size, c.Size))
		if err := g.Err(); err != nil {
			return err
		}
		s := 0.0
		for _, v := range f.Data {
			s += math.Abs(float64(v))
		}
		meanAbs = s / float64(len(f.Data))
		return nil
	}
	for range c.Warmup {
		if err := forward(); err != nil {
			return EmbedResult{}, err
		}
	}
	times := make([]float64, c.Batches)
	for i := range times {
		t := time.Now()
		if err := forward(); err != nil {
			return EmbedResult{}, err
		}
		times[i] = time.Since(t).Seconds()
	}
	sort.Float64s(times)
	med := times[len(times)/2]
	flops := bb.FLOPs(c.Size, c.Size)
	threads := runtime.GOMAXPROCS(0)
	gf := flops * float64(c.Batch) / med / 1e9
	peak := cpu.PeakPerCore()
	return EmbedResult{
		Bench: "embed", Engine: "siam", Width: c.Width, Size: c.Size, Channels: c.Channels, Batch: c.Batch,
		Threads: threads, FeatureDim: bb.FeatureDim(),
		BatchSMedian: round(med, 5), BatchSMin: round(times[0], 5), BatchSMax: round(times[len(times)-1], 5),
		ImagesPerS: round(float64(c.Batch)/med, 1),
		GFLOPs:     round(gf, 1), PeakGFLOPsPerCore: round(peak, 1), PeakPct: round(100*gf/(peak*float64(threads)), 1),
		FLOPsPerImage: flops, FeatureMeanAbs: round(meanAbs, 6), PeakRSSMiB: round(PeakRSSMiB(), 1),
	}, nil
}
