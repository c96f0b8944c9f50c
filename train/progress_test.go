package train

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestProgressReadout: piped output prints every monitored line (no 5-second
// throttle for them) and carries the last monitored values on the lines after it;
// a terminal bar shows them in its description.
func TestProgressReadout(t *testing.T) {
	for _, tc := range []struct {
		name     string
		terminal bool
	}{{"piped", false}, {"terminal", true}} {
		t.Run(tc.name, func(t *testing.T) {
			var w bytes.Buffer
			p := newProgress(&w, tc.terminal, 0, 100, 8)
			mon := map[string]float64{"auc": 0.8123, "rankme": 25.14, "knn_acc": 0.382, "dim_std": 0.1}
			for step := 10; step <= 100; step += 10 {
				m := Metrics{Step: step, Loss: -0.5, LR: 0.05}
				if step%20 == 0 {
					m.Extra = mon
				}
				p.update(step, m.Loss, m.LR)
				p.line(m)
			}
			p.done()
			out := w.String()
			want := "| AUC 0.8123 RankMe 25.1 k-NN 38.2% @"
			if !strings.Contains(out, want) {
				t.Fatalf("no readout %q in:\n%s", want, out)
			}
			if !tc.terminal {
				for _, step := range []string{"step 20/100", "step 40/100", "step 60/100", "step 80/100", "step 100/100"} {
					if !strings.Contains(out, step+" ") {
						t.Errorf("monitored line %q missing:\n%s", step, out)
					}
				}
				if strings.Contains(out, "step 30/100") || strings.Contains(out, "dim_std") {
					t.Errorf("unmonitored lines within 5 s or internal fields printed:\n%s", out)
				}
			}
		})
	}
}

func TestGroupDigits(t *testing.T) {
	for n, want := range map[int]string{0: "0", 999: "999", 1000: "1,000", 11689512: "11,689,512"} {
		if got := groupDigits(n); got != want {
			t.Errorf("groupDigits(%d) = %q, want %q", n, got, want)
		}
	}
}

// TestRunHeader: a run's log starts with what it trains on, with what and how.
func TestRunHeader(t *testing.T) {
	c := tinyConfig()
	c.Steps, c.Order, c.Chunks = 10, "single", 5
	var log bytes.Buffer
	dir := t.TempDir() + "/run"
	if _, err := Run(context.Background(), c, RunOptions{Dir: dir, Log: &log, Device: "cpu"}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"data     embedded", "10000 train / 2000 test images, 28x28x1, 10 classes",
		"model    simsiam resnet18 width 4, cifar stem: ", "trainable parameters, 32-d features",
		"order    single, 5 chunks of 2000 images, 2 steps each", "schedule 10 steps = 0.016 epochs, batch 16, sgd lr 0.0625",
		"run      " + dir + ", seed 1, precision fp32, device cpu"} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("header lacks %q:\n%s", want, log.String())
		}
	}
}
