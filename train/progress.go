package train

import (
	"fmt"
	"io"
	"time"

	"github.com/schollz/progressbar/v3" // maintained terminal progress bar: rate, ETA, redraw throttling
)

// progress shows a bar on a terminal and plain periodic lines elsewhere (logs,
// CI), so piped output stays readable.
type progress struct {
	w         io.Writer
	bar       *progressbar.ProgressBar
	total     int
	every     int
	lastPrint time.Time
	start     time.Time
	startStep int
	batch     int
}

func newProgress(w io.Writer, terminal bool, start, total, batch int) *progress {
	p := &progress{w: w, total: total, start: time.Now(), startStep: start, batch: batch}
	if terminal {
		p.bar = progressbar.NewOptions(total,
			progressbar.OptionSetWriter(w),
			progressbar.OptionSetDescription("train"),
			progressbar.OptionShowCount(),
			progressbar.OptionSetWidth(30),
			progressbar.OptionThrottle(200*time.Millisecond),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionFullWidth(),
		)
		p.bar.Set(start)
	}
	return p
}

func (p *progress) update(step int, loss, lr float64) {
	if p.bar != nil {
		ips := float64((step-p.startStep)*p.batch) / time.Since(p.start).Seconds()
		p.bar.Describe(fmt.Sprintf("loss %.4f lr %.4f %4.0f img/s", loss, lr, ips))
		p.bar.Set(step)
	}
}

// line prints a plain line for logged steps when not on a terminal, at most every
// 5 seconds (and always for the last step).
func (p *progress) line(m Metrics) {
	if p.bar != nil {
		return
	}
	if time.Since(p.lastPrint) < 5*time.Second && m.Step != p.total {
		return
	}
	p.lastPrint = time.Now()
	eta := "?"
	if done := m.Step - p.startStep; done > 0 {
		rem := time.Duration(float64(time.Since(p.start)) / float64(done) * float64(p.total-m.Step))
		eta = rem.Round(time.Second).String()
	}
	extra := ""
	for k, v := range m.Extra {
		extra += fmt.Sprintf(" %s %.4f", k, v)
	}
	if m.Alarm != "" {
		extra += " COLLAPSE ALARM: " + m.Alarm
	}
	fmt.Fprintf(p.w, "step %d/%d loss %.4f lr %.5f chunk %d %.0f img/s eta %s%s\n",
		m.Step, p.total, m.Loss, m.LR, m.Chunk, m.ImagesPerS, eta, extra)
}

func (p *progress) done() {
	if p.bar != nil {
		p.bar.Finish()
		fmt.Fprintln(p.w)
	}
}
