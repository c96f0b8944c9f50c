package train

import (
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	cpubackend "github.com/siam-ssl/siam/backend/cpu"
	"github.com/siam-ssl/siam/internal/cputime"
	"github.com/siam-ssl/siam/nn"
	"github.com/siam-ssl/siam/optim"
	"github.com/siam-ssl/siam/ssl"
	"github.com/siam-ssl/siam/tensor"
)

// BenchConfig is the model and input of the step benchmark. With Method
// simsiam and Arch resnet18 it builds exactly the network of
// ../shared/bench/torch_simsiam.py (ResNet-18 CIFAR stem at Width, projector
// 32W, predictor hidden 8W); byol and mocov3 build the heads of
// bench/torch_methods.py (hidden 64W, output 4W, EMA target encoder). Every
// method trains with SGD lr 0.05 momentum 0.9 wd 5e-4 on all its trainable
// parameters; a method's after-step work (the EMA update of the target)
// counts in the step time.
type BenchConfig struct {
	Method, Arch                 string // "" means simsiam, resnet18
	Width, Size, Channels, Batch int
	Steps, Warmup                int
}

// BenchResult is one JSON line of `siam bench train`.
type BenchResult struct {
	Engine      string  `json:"engine"`
	Method      string  `json:"method"`
	Arch        string  `json:"arch"`
	Width       int     `json:"width"`
	Size        int     `json:"size"`
	Channels    int     `json:"channels"`
	Batch       int     `json:"batch"`
	Threads     int     `json:"threads"`
	StepSMedian float64 `json:"step_s_median"`
	// StepCPUSMedian is the median process CPU time of a step (all threads):
	// unlike the wall time it stays comparable between runs on a shared host.
	StepCPUSMedian    float64 `json:"step_cpu_s_median"`
	ImagesPerS        float64 `json:"images_per_s"`
	GFLOPs            float64 `json:"gflops"`
	PeakPct           float64 `json:"peak_pct"` // of the measured FMA peak, PeakGFLOPsPerCore x threads
	PeakGFLOPsPerCore float64 `json:"peak_gflops_per_core"`
	FLOPsPerStep      float64 `json:"flops_per_step"`
	Loss              float64 `json:"loss"`
	PeakRSSMiB        float64 `json:"peak_rss_mib"`
	ArenaMiB          float64 `json:"arena_mib"`
}

// BenchStep times training steps of c.Method on random input and reports the
// median.
func BenchStep(c BenchConfig) (BenchResult, error) {
	if c.Width < 1 || c.Size < 4 || c.Channels < 1 || c.Batch < 2 || c.Steps < 1 || c.Warmup < 0 {
		return BenchResult{}, fmt.Errorf("bench train: need width>=1, size>=4, channels>=1, batch>=2, steps>=1 (got %+v)", c)
	}
	if c.Method == "" {
		c.Method = "simsiam"
	}
	if c.Arch == "" {
		c.Arch = "resnet18"
	}
	m, err := ssl.New(c.Method, ssl.Config{Backbone: nn.BackboneSpec{Arch: c.Arch, Width: c.Width,
		InChannels: c.Channels, ImageSize: c.Size}}, 0)
	if err != nil {
		return BenchResult{}, fmt.Errorf("bench train: %w", err)
	}
	opt := optim.NewSGD([]optim.Group{{Params: m.Modules().Params, WeightDecay: 5e-4}}, 0.9)
	n := c.Batch * c.Channels * c.Size * c.Size
	rng := rand.New(rand.NewPCG(1, 2))
	x1, x2 := make([]float32, n), make([]float32, n)
	for i := range x1 {
		x1[i], x2[i] = float32(rng.NormFloat64()), float32(rng.NormFloat64())
	}
	g := tensor.NewGraph()
	var loss float64
	done, total := 0, c.Warmup+c.Steps
	step := func() error {
		g.Reset()
		a := g.Input(x1, c.Batch, c.Channels, c.Size, c.Size)
		var b *tensor.Tensor
		if m.Views() > 1 {
			b = g.Input(x2, c.Batch, c.Channels, c.Size, c.Size)
		}
		l := m.Loss(g, a, b)
		m.Modules().ZeroGrad()
		if err := g.Backward(l); err != nil {
			return err
		}
		opt.Step(0.05)
		done++
		m.AfterStep(done, total)
		loss = float64(l.Item())
		return nil
	}
	for i := 0; i < c.Warmup; i++ {
		if err := step(); err != nil {
			return BenchResult{}, err
		}
	}
	times, cpu := make([]float64, c.Steps), make([]float64, c.Steps)
	for i := range times {
		t, c0 := time.Now(), cputime.Now()
		if err := step(); err != nil {
			return BenchResult{}, err
		}
		times[i], cpu[i] = time.Since(t).Seconds(), (cputime.Now() - c0).Seconds()
	}
	sort.Float64s(times)
	sort.Float64s(cpu)
	med := times[len(times)/2]
	flops := m.FLOPs(c.Size, c.Size) * float64(c.Batch)
	threads := runtime.GOMAXPROCS(0)
	gf := flops / med / 1e9
	return BenchResult{
		Engine: "siam", Method: m.Name(), Arch: c.Arch, Width: c.Width, Size: c.Size, Channels: c.Channels, Batch: c.Batch, Threads: threads,
		StepSMedian: round(med, 4), StepCPUSMedian: round(cpu[len(cpu)/2], 4), ImagesPerS: round(float64(c.Batch)/med, 1),
		GFLOPs: round(gf, 1), PeakGFLOPsPerCore: round(cpubackend.PeakPerCore(), 1), PeakPct: round(100*gf/(cpubackend.PeakPerCore()*float64(threads)), 1),
		FLOPsPerStep: flops, Loss: round(loss, 5), PeakRSSMiB: round(PeakRSSMiB(), 1),
		ArenaMiB: round(float64(g.ArenaBytes())/(1<<20), 1),
	}, nil
}

func round(v float64, digits int) float64 {
	s := strconv.FormatFloat(v, 'f', digits, 64)
	r, _ := strconv.ParseFloat(s, 64)
	return r
}

// PeakRSSMiB reads the process's peak resident set (VmHWM) from /proc; 0 where
// /proc is not available.
func PeakRSSMiB() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			f := strings.Fields(line)
			if len(f) >= 2 {
				kb, _ := strconv.ParseFloat(f[1], 64)
				return kb / 1024
			}
		}
	}
	return 0
}
