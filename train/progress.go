package train

import (
	"fmt"
	"io"
	"strings"
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
	// monitor holds the last monitored values (auc, rankme, knn_acc...), shown
	// next to loss, lr and speed until the next reading replaces them.
	monitor map[string]float64
	monStep int
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
		p.bar.Describe(fmt.Sprintf("loss %.4f lr %.4f %4.0f img/s%s", loss, lr, ips, p.monitorText()))
		p.bar.Set(step)
	}
}

// observe keeps a logged line's monitored values for the readout.
func (p *progress) observe(m Metrics) {
	if len(m.Extra) == 0 {
		return
	}
	if _, ok := m.Extra["auc"]; !ok {
		return
	}
	p.monitor, p.monStep = m.Extra, m.Step
}

// monitorText is the live collapse readout: " | AUC 0.8123 RankMe 25.1 k-NN 38.2%
// @2000" for the last monitored step, "" before the first reading.
func (p *progress) monitorText() string {
	if p.monitor == nil {
		return ""
	}
	var b strings.Builder
	b.WriteString(" |")
	for _, f := range monitorFields {
		if v, ok := p.monitor[f.key]; ok {
			fmt.Fprintf(&b, " "+f.format, f.name, f.scale*v)
		}
	}
	fmt.Fprintf(&b, " @%d", p.monStep)
	return b.String()
}

// monitorFields are the monitored values the readout shows, in order.
var monitorFields = []struct {
	key, name, format string
	scale             float64
}{
	{"auc", "AUC", "%s %.4f", 1}, {"rankme", "RankMe", "%s %.1f", 1}, {"knn_acc", "k-NN", "%s %.1f%%", 100},
}

// line prints a plain line for logged steps when not on a terminal: every line
// with monitored values, the last step, and otherwise at most one every 5 seconds.
// Each line ends with the last monitored values (the live collapse readout).
func (p *progress) line(m Metrics) {
	p.observe(m)
	if p.bar != nil {
		if m.Alarm == "" && len(m.Extra) > 0 && p.monStep == m.Step {
			p.message(fmt.Sprintf("step %d/%d loss %.4f%s", m.Step, p.total, m.Loss, p.monitorText()))
		}
		return
	}
	monitored := p.monStep == m.Step && p.monitor != nil
	if !monitored && time.Since(p.lastPrint) < 5*time.Second && m.Step != p.total {
		return
	}
	p.lastPrint = time.Now()
	eta := "?"
	if done := m.Step - p.startStep; done > 0 {
		rem := time.Duration(float64(time.Since(p.start)) / float64(done) * float64(p.total-m.Step))
		eta = rem.Round(time.Second).String()
	}
	extra := p.monitorText()
	if n := m.Extra["bad_images"]; n > 0 {
		extra += fmt.Sprintf(" (%.0f unreadable images replaced)", n)
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
