package train

import (
	"fmt"
	"math"
	"path/filepath"
	"time"

	"github.com/siam-ssl/siam/tbevent"
)

// TensorBoardDir is the run-folder subfolder holding TensorBoard event files
// (`tensorboard --logdir runs/` shows every run beside PyTorch ones).
const TensorBoardDir = "tb"

// TensorBoard tags of the spectrum histograms written at each monitored step.
const (
	// TagSpectrum is sigma_i / sum(sigma) drawn against i = 1..d (an index
	// histogram, tbevent.IndexHistogram): the shape of the spectrum, Figure 6 of
	// the paper over training.
	TagSpectrum = "collapse/spectrum"
	// TagLogSigma is the distribution of log10(sigma_i / sigma_1) (floored at
	// LogSigmaFloor): collapse shows as mass moving to the left.
	TagLogSigma = "collapse/log10_sigma_rel"
	// LogSigmaFloor replaces log10 of a zero singular value.
	LogSigmaFloor = -16
)

// TensorBoardTag is the scalar tag of a metrics.jsonl field: "train/" before the
// fields of every line (loss, lr, images_per_s, chunk), "monitor/" before the
// monitor's (auc, rankme, knn_acc, ...).
func TensorBoardTag(key string) string {
	switch key {
	case "loss", "lr", "images_per_s", "chunk":
		return "train/" + key
	}
	return "monitor/" + key
}

// tboard writes a run's TensorBoard events: one new event file per Run call
// (TensorFlow's convention), under RUN_DIR/tb.
type tboard struct{ w *tbevent.Writer }

// openTensorBoard starts an event file in RUN_DIR/tb. A resumed run (start > 0)
// first writes a SessionLog START at step start+1, so TensorBoard drops the steps
// after the checkpoint that the earlier file holds and this run redoes, just as
// metrics.jsonl is truncated.
func openTensorBoard(dir string, start int, now time.Time) (*tboard, error) {
	w, err := tbevent.Create(filepath.Join(dir, TensorBoardDir), now)
	if err != nil {
		return nil, err
	}
	if start > 0 {
		if err := w.Start(int64(start+1), now, fmt.Sprintf("resumed from the checkpoint at step %d", start)); err != nil {
			w.Close()
			return nil, err
		}
	}
	return &tboard{w: w}, nil
}

// metrics writes the scalars of one metrics.jsonl line (NaN and Inf as they are).
func (t *tboard) metrics(m Metrics, now time.Time) error {
	v := map[string]float64{TensorBoardTag("loss"): m.Loss, TensorBoardTag("lr"): m.LR,
		TensorBoardTag("images_per_s"): m.ImagesPerS, TensorBoardTag("chunk"): float64(m.Chunk)}
	for k, x := range m.Extra {
		v[TensorBoardTag(k)] = x
	}
	return t.w.Scalars(int64(m.Step), now, v)
}

// spectrum writes the two spectrum histograms of a monitored step; a spectrum
// that is empty or not finite and >= 0 is skipped (the monitor has already
// failed the run for it, see Run).
func (t *tboard) spectrum(step int, sigma []float64, now time.Time) error {
	var sum float64
	for _, s := range sigma {
		if !(s >= 0) || math.IsInf(s, 0) {
			return nil
		}
		sum += s
	}
	if len(sigma) == 0 || sum == 0 {
		return nil
	}
	w, logs := SpectrumShares(sigma), make([]float64, len(sigma))
	for i, s := range sigma {
		logs[i] = math.Max(math.Log10(s/sigma[0]), LogSigmaFloor)
	}
	if err := t.w.Histogram(int64(step), now, TagSpectrum, tbevent.IndexHistogram(w)); err != nil {
		return err
	}
	return t.w.Histogram(int64(step), now, TagLogSigma, tbevent.NewHistogram(logs, 32))
}

// SpectrumShares returns sigma_i / sum(sigma), the weights of the TagSpectrum
// histogram.
func SpectrumShares(sigma []float64) []float64 {
	var sum float64
	for _, s := range sigma {
		sum += s
	}
	w := make([]float64, len(sigma))
	for i, s := range sigma {
		w[i] = s / sum
	}
	return w
}

// Close closes the event file.
func (t *tboard) Close() error { return t.w.Close() }
