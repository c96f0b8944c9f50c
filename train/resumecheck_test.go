package train

import (
	"context"
	"errors"
	"testing"

	"github.com/siam-ssl/siam/ssl"
)

// runInterrupted starts c in the run folder dir and cancels it once step
// stopAt has completed; the run must end with ErrInterrupted.
func runInterrupted(t *testing.T, c Config, dir string, stopAt int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, err := Run(ctx, c, RunOptions{Dir: dir, OnStep: func(step int, _ float64) {
		if step == stopAt {
			cancel()
		}
	}})
	if !errors.Is(err, ErrInterrupted) {
		t.Fatalf("want ErrInterrupted, got %v", err)
	}
}

// interruptAndResume interrupts c in dir after step stopAt (runInterrupted),
// resumes it from the run folder alone (no config) and returns the resumed
// run's summary.
func interruptAndResume(t *testing.T, c Config, dir string, stopAt int) *Summary {
	t.Helper()
	runInterrupted(t, c, dir, stopAt)
	res, err := Run(context.Background(), Config{}, RunOptions{Dir: dir, Resume: true})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// requireSameState fails unless every state tensor of resumed (ssl.State:
// weights, BN statistics and the method's extra state) has the name and every
// value of full's, in the same order: a resumed run must end where the
// uninterrupted one does.
func requireSameState(t *testing.T, full, resumed ssl.Method) {
	t.Helper()
	a, b := ssl.State(full), ssl.State(resumed)
	if len(a) != len(b) {
		t.Fatalf("%d state tensors, resumed %d", len(a), len(b))
	}
	for i := range a {
		if a[i].Name != b[i].Name || len(a[i].Data) != len(b[i].Data) {
			t.Fatalf("state tensor %d: uninterrupted %s (%d values), resumed %s (%d values)", i, a[i].Name, len(a[i].Data), b[i].Name, len(b[i].Data))
		}
		for j := range a[i].Data {
			if a[i].Data[j] != b[i].Data[j] {
				t.Fatalf("%s[%d]: uninterrupted %v, resumed %v", a[i].Name, j, a[i].Data[j], b[i].Data[j])
			}
		}
	}
}
