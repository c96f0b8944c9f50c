package train

import (
	"fmt"
	"io"
	"strings"

	"github.com/siam-ssl/siam/data"
	"github.com/siam-ssl/siam/ssl"
)

// writeHeader prints what a run is about to do, before its first step: the data
// (origin, size, image shape), the model (backbone, width, parameters, feature
// dimension, method), the ordering, the schedule (steps as epochs, batch, lr), the
// device, seed and run folder, and what the collapse alarms mean for this model.
// A reader of a log (or a colleague looking over a shoulder) can tell runs apart
// from their first lines.
func writeHeader(w io.Writer, cfg Config, trainSet, testSet *data.Dataset, m ssl.Method, dir string, start int, device string) {
	test := "no test split"
	if testSet != nil {
		test = fmt.Sprintf("%d test", testSet.N)
	}
	fmt.Fprintf(w, "data     %s: %d train / %s images, %dx%dx%d, %d classes\n", trainSet.Name, trainSet.N, test, trainSet.H, trainSet.W, trainSet.C, trainSet.Classes)
	arch := cfg.Arch
	if !IsViT(arch) {
		arch = fmt.Sprintf("%s width %d", arch, cfg.Width)
		if cfg.WidthMult > 1 {
			arch += fmt.Sprintf(" (%dx inner)", cfg.WidthMult)
		}
		arch += ", " + cfg.Stem + " stem"
	}
	fmt.Fprintf(w, "model    %s %s: %s trainable parameters, %d-d features\n", m.Name(), arch, groupDigits(m.Modules().NumParams()), m.Backbone().FeatureDim())
	ord := cfg.Order
	switch cfg.Order {
	case "single", "cumulative":
		ord += fmt.Sprintf(", %d chunks of %d images, %d steps each", cfg.Chunks, trainSet.N/max(1, cfg.Chunks), cfg.Steps/max(1, cfg.Chunks))
	case "hybrid":
		ord += fmt.Sprintf(", %d chunks, single pass up to chunk %d (step %d), then multi-pass", cfg.Chunks, cfg.SwitchAt, cfg.SwitchAt*(cfg.Steps/max(1, cfg.Chunks)))
	case "subset":
		ord += fmt.Sprintf(" %.4g%% (%d images)", 100*cfg.Subset, int(cfg.Subset*float64(trainSet.N)))
	}
	fmt.Fprintf(w, "order    %s\n", ord)
	epochs := float64(cfg.Steps*cfg.Batch) / float64(trainSet.N)
	warm := ""
	if cfg.WarmupSteps > 0 {
		warm = fmt.Sprintf(", %d warm-up steps", cfg.WarmupSteps)
	}
	fmt.Fprintf(w, "schedule %d steps = %.3g epochs, batch %d, %s lr %.4g (base %g x batch/256) cosine%s, wd %g\n",
		cfg.Steps, epochs, cfg.Batch, cfg.OptimizerName(), cfg.LR*float64(cfg.Batch)/256, cfg.LR, warm, cfg.WD)
	resume := ""
	if start > 0 {
		resume = fmt.Sprintf(", resuming at step %d", start)
	}
	fmt.Fprintf(w, "run      %s, seed %d, precision fp32, device %s%s\n", dir, cfg.Seed, device, resume)
	if cfg.MonitorEvery > 0 {
		fmt.Fprintf(w, "monitor  every %d steps: AUC and RankMe of %d training images, weighted k-NN; %s\n", cfg.MonitorEvery, cfg.MonitorSamples, alarmMeaning(cfg, m.Backbone().FeatureDim()))
	}
}

// alarmMeaning says what the alarm thresholds mean for a d-dimensional feature.
func alarmMeaning(cfg Config, d int) string {
	var parts []string
	if cfg.AlarmAUC != 0 {
		parts = append(parts, fmt.Sprintf("alarm when AUC > %g (0.5 = all %d singular values equal, 1 = rank one)", cfg.AlarmAUC, d))
	}
	if cfg.AlarmRankMe != 0 {
		parts = append(parts, fmt.Sprintf("alarm when RankMe < %g of at most %d effective dimensions", cfg.AlarmRankMe, d))
	}
	if len(parts) == 0 {
		return "no alarm set"
	}
	return strings.Join(parts, "; ") + " (action " + cfg.AlarmAction + ")"
}

// groupDigits writes 11689512 as "11,689,512".
func groupDigits(n int) string {
	s := fmt.Sprint(n)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}
