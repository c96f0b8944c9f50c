package train

import (
	"errors"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"strings"
	"time"

	"github.com/siam-ssl/siam/atomicfile"
)

// AlarmKey is the metrics.jsonl field holding a collapse alarm message.
const AlarmKey = "alarm"

// Alarm actions (Config.AlarmAction).
const (
	AlarmWarn = "warn" // log the alarm (progress, metrics.jsonl, report) and go on
	AlarmStop = "stop" // also checkpoint and end the run: Run returns ErrAlarmStop
)

// ErrAlarmStop is returned by Run (with its Summary) when a collapse alarm stopped
// the run under AlarmAction "stop": a checkpoint of the step that raised it has
// been written, and `siam train --resume` continues the run. It is a requested
// stop, not a failure (`siam train` exits 0 after saying so). An alarm at the last
// step just finishes the run, with the alarm recorded.
var ErrAlarmStop = errors.New("stopped by the collapse alarm")

// validateAlarm checks the alarm settings.
func (c Config) validateAlarm() error {
	switch c.AlarmAction {
	case "", AlarmWarn, AlarmStop:
	default:
		return fmt.Errorf("alarm action %q: want warn or stop", c.AlarmAction)
	}
	switch {
	case c.AlarmAUC != 0 && !(c.AlarmAUC >= 0.5 && c.AlarmAUC < 1):
		return fmt.Errorf("alarm AUC %v: want a threshold in [0.5, 1) (the AUC runs from 0.5, flat, to 1, rank one), or 0 for off", c.AlarmAUC)
	case c.AlarmRankMe != 0 && !(c.AlarmRankMe >= 1 && !math.IsInf(c.AlarmRankMe, 0)):
		return fmt.Errorf("alarm RankMe %v: want a threshold >= 1 (RankMe runs from 1, rank one, to d), or 0 for off", c.AlarmRankMe)
	case (c.AlarmAUC != 0 || c.AlarmRankMe != 0) && c.MonitorEvery == 0:
		return fmt.Errorf("a collapse alarm needs monitoring: set monitor-every (--monitor-every N)")
	}
	return nil
}

// AlarmMessage returns the collapse alarm a monitored step raises under c, e.g.
// "auc 0.9312 > 0.9" or "rankme 3.2 < 5; auc 0.95 > 0.9", or "" when none: the
// AUC above AlarmAUC (more collapse) or RankMe below AlarmRankMe (fewer effective
// dimensions). A NaN value raises nothing (it is reported as non-finite).
func (c Config) AlarmMessage(fields map[string]float64) string {
	var msgs []string
	if v, ok := fields["auc"]; ok && c.AlarmAUC != 0 && v > c.AlarmAUC {
		msgs = append(msgs, fmt.Sprintf("auc %.4g > %g", v, c.AlarmAUC))
	}
	if v, ok := fields["rankme"]; ok && c.AlarmRankMe != 0 && v < c.AlarmRankMe {
		msgs = append(msgs, fmt.Sprintf("rankme %.4g < %g", v, c.AlarmRankMe))
	}
	return strings.Join(msgs, "; ")
}

// raiseAlarm records a monitored step's alarm on its metrics line and says so on
// the log (above the progress bar, or as its own line), and reports whether the
// run must stop.
func raiseAlarm(cfg Config, line *Metrics, p *progress) (stop bool) {
	msg := cfg.AlarmMessage(line.Extra)
	if msg == "" {
		return false
	}
	line.Alarm = msg
	action := "warning only (alarm action warn)"
	if cfg.AlarmAction == AlarmStop {
		action = "stopping (alarm action stop)"
	}
	p.message(fmt.Sprintf("step %d: COLLAPSE ALARM: %s; %s", line.Step, msg, action))
	return cfg.AlarmAction == AlarmStop
}

// message prints one line to the log, clearing the progress bar first if any.
func (p *progress) message(s string) {
	if p.bar != nil {
		p.bar.Clear()
	}
	fmt.Fprintln(p.w, s)
}

// alarmStopped ends a run stopped by the alarm at line.Step (its checkpoint is
// written): the summary so far and ErrAlarmStop.
func alarmStopped(sum *Summary, p *progress, log io.Writer, line Metrics, last float64, t0 time.Time, start int) (*Summary, error) {
	p.done()
	fmt.Fprintf(log, "stopped at step %d of %d by the collapse alarm (%s); checkpoint in %s (continue with: siam train --resume %s, e.g. with --alarm-action warn)\n",
		line.Step, sum.Config.Steps, line.Alarm, sum.Dir, sum.Dir)
	sum.Step, sum.FinalLoss, sum.Alarm = line.Step, last, line.Alarm
	sum.Elapsed = time.Since(t0)
	sum.ImagesPerS = float64((line.Step-start)*sum.Config.Batch) / sum.Elapsed.Seconds()
	return sum, ErrAlarmStop
}

// applyResumeOverride applies o.ResumeOverride to a resumed run's config: only
// MonitorEvery and the alarm settings may change (anything else would break the
// exact resume), and config.yaml is rewritten when they do.
func applyResumeOverride(o RunOptions, cfg *Config) error {
	if o.ResumeOverride == nil {
		return nil
	}
	c := *cfg
	o.ResumeOverride(&c)
	allowed := *cfg
	allowed.MonitorEvery, allowed.AlarmAUC, allowed.AlarmRankMe, allowed.AlarmAction = c.MonitorEvery, c.AlarmAUC, c.AlarmRankMe, c.AlarmAction
	if allowed != c {
		return fmt.Errorf("resume %s: only monitor-every and the alarm settings can change on resume", o.Dir)
	}
	if c == *cfg {
		return nil
	}
	if err := c.Validate(); err != nil {
		return fmt.Errorf("resume %s: %w", o.Dir, err)
	}
	*cfg = c
	return atomicfile.WriteFile(filepath.Join(o.Dir, ConfigFile), c.YAML())
}
