package train

import (
	"bytes"
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/siam-ssl/siam/internal/jsonltest"
	"github.com/siam-ssl/siam/ssl"
)

func TestAlarmMessage(t *testing.T) {
	tests := []struct {
		name      string
		auc, rank float64
		fields    map[string]float64
		want      string
	}{
		{"off", 0, 0, map[string]float64{"auc": 0.99, "rankme": 1}, ""},
		{"auc below", 0.9, 0, map[string]float64{"auc": 0.85}, ""},
		{"auc above", 0.9, 0, map[string]float64{"auc": 0.9312}, "auc 0.9312 > 0.9"},
		{"rankme below", 0, 5, map[string]float64{"auc": 0.99, "rankme": 3.2}, "rankme 3.2 < 5"},
		{"both", 0.9, 5, map[string]float64{"auc": 0.95, "rankme": 3.2}, "auc 0.95 > 0.9; rankme 3.2 < 5"},
		{"NaN raises nothing", 0.9, 5, map[string]float64{"auc": math.NaN(), "rankme": math.NaN()}, ""},
		{"no monitor value", 0.9, 5, map[string]float64{"knn_acc": 0.3}, ""},
	}
	for _, tc := range tests {
		c := DefaultConfig()
		c.AlarmAUC, c.AlarmRankMe = tc.auc, tc.rank
		if got := c.AlarmMessage(tc.fields); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestAlarmValidate(t *testing.T) {
	tests := []struct {
		name string
		f    func(*Config)
		want string
	}{
		{"auc above 1", func(c *Config) { c.AlarmAUC = 1.5 }, "alarm AUC"},
		{"auc NaN", func(c *Config) { c.AlarmAUC = math.NaN() }, "alarm AUC"},
		{"auc below 0.5", func(c *Config) { c.AlarmAUC = 0.3 }, "alarm AUC"},
		{"rankme below 1", func(c *Config) { c.AlarmRankMe = 0.5 }, "alarm RankMe"},
		{"rankme Inf", func(c *Config) { c.AlarmRankMe = math.Inf(1) }, "alarm RankMe"},
		{"action", func(c *Config) { c.AlarmAction = "panic" }, "alarm action"},
		{"no monitor", func(c *Config) { c.AlarmAUC, c.MonitorEvery = 0.9, 0 }, "monitor-every"},
	}
	for _, tc := range tests {
		c := DefaultConfig()
		c.MonitorEvery = 10
		tc.f(&c)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error mentioning %q", tc.name, err, tc.want)
		}
	}
	c := DefaultConfig()
	c.MonitorEvery, c.AlarmAUC, c.AlarmRankMe, c.AlarmAction = 5, 0.9, 4, AlarmStop
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
}

// fakeMonitor reports the AUC of aucAt(step) and a fixed spectrum.
func fakeMonitor(aucAt func(int) float64) Monitor {
	return func(step int, _ ssl.Method) (map[string]float64, []float64, error) {
		return map[string]float64{"auc": aucAt(step), "rankme": 2}, []float64{3, 1}, nil
	}
}

func TestAlarmWarnAndStop(t *testing.T) {
	c := tinyConfig()
	c.Steps, c.LogEvery, c.MonitorEvery, c.CheckpointEvery = 8, 1, 2, 0
	c.AlarmAUC = 0.9
	collapsing := fakeMonitor(func(step int) float64 { return 0.6 + 0.1*float64(step) }) // 0.8, 1.0, 1.2...

	t.Run("warn", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "run")
		var log bytes.Buffer
		sum, err := Run(context.Background(), c, RunOptions{Dir: dir, Monitor: collapsing, Log: &log})
		if err != nil || sum.Step != c.Steps {
			t.Fatalf("warn must not stop: %v, %+v", err, sum)
		}
		if !strings.Contains(log.String(), "step 4: COLLAPSE ALARM: auc 1 > 0.9") {
			t.Errorf("log lacks the alarm:\n%s", log.String())
		}
		lines := jsonltest.Read(t, filepath.Join(dir, MetricsFile))
		for _, l := range lines {
			step := int(l["step"].(float64))
			alarm, has := l[AlarmKey]
			if want := step >= 4 && step%2 == 0; has != want {
				t.Errorf("step %d: alarm %v, want one: %v", step, alarm, want)
			}
		}
		if a := lines[3][AlarmKey]; a != "auc 1 > 0.9" {
			t.Errorf("step 4 alarm %q", a)
		}
	})

	t.Run("stop, then resume with warn", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "run")
		s := c
		s.AlarmAction = AlarmStop
		var log bytes.Buffer
		sum, err := Run(context.Background(), s, RunOptions{Dir: dir, Monitor: collapsing, Log: &log})
		if !errors.Is(err, ErrAlarmStop) || sum == nil || sum.Step != 4 || sum.Alarm != "auc 1 > 0.9" {
			t.Fatalf("want ErrAlarmStop at step 4, got %v, %+v", err, sum)
		}
		if !strings.Contains(log.String(), "stopped at step 4 of 8 by the collapse alarm") {
			t.Errorf("log:\n%s", log.String())
		}
		if _, ck, err := ReadCheckpointMeta(dir); err != nil || ck.Step != 4 {
			t.Fatalf("checkpoint: %v, step %d; want step 4", err, ck.Step)
		}
		if n := len(jsonltest.Read(t, filepath.Join(dir, MetricsFile))); n != 4 {
			t.Errorf("%d metrics lines, want 4", n)
		}
		// Resuming under the same config stops again at the next monitored step.
		if again, err := Run(context.Background(), Config{}, RunOptions{Dir: dir, Resume: true, Monitor: collapsing}); !errors.Is(err, ErrAlarmStop) || again.Step != 6 {
			t.Fatalf("resume with stop: %v", err)
		}
		// Switching the action to warn on resume finishes the run and records it.
		res, err := Run(context.Background(), Config{}, RunOptions{Dir: dir, Resume: true, Monitor: collapsing,
			ResumeOverride: func(c *Config) { c.AlarmAction = AlarmWarn }})
		if err != nil || res.Step != 8 {
			t.Fatalf("resume with warn: %v, %+v", err, res)
		}
		b, _ := os.ReadFile(filepath.Join(dir, ConfigFile))
		if !strings.Contains(string(b), "alarm_action: warn") {
			t.Errorf("config.yaml does not record the new action:\n%s", b)
		}
		// Anything else cannot change on resume.
		_, err = Run(context.Background(), Config{}, RunOptions{Dir: dir, Resume: true, ResumeOverride: func(c *Config) { c.LR *= 2 }})
		if err == nil || !strings.Contains(err.Error(), "only monitor-every and the alarm settings") {
			t.Errorf("changing lr on resume: %v", err)
		}
	})
}
