package train

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/siam-ssl/siam/internal/jsonltest"
	"github.com/siam-ssl/siam/tbevent/tbeventtest"
)

// TestTensorBoardMatchesMetrics trains with the monitor, simulates a crash after
// the last step but before its checkpoint (the checkpoint of step 2 is put back),
// resumes, and reads every event file under RUN_DIR/tb with the independent test
// decoder (CRCs checked, strict protobuf parse), applying TensorBoard's rule for a
// resumed run (a SessionLog START at step s drops earlier events at steps >= s).
// The scalars must be exactly metrics.jsonl's values (as float32) at exactly its
// steps, and the spectrum histograms exactly spectra.jsonl's.
func TestTensorBoardMatchesMetrics(t *testing.T) {
	c := monitorTestConfig()
	c.LogEvery, c.CheckpointEvery = 1, 2
	dir := filepath.Join(t.TempDir(), "run")
	ck := filepath.Join(dir, CheckpointFile)
	var step2 []byte
	if _, err := Run(context.Background(), c, RunOptions{Dir: dir, NewMonitor: NewMonitor, OnStep: func(step int, _ float64) {
		if step == 3 {
			step2, _ = os.ReadFile(ck) // written after step 2
		}
	}}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(ck, step2, 0o644); err != nil {
		t.Fatal(err)
	}
	sum, err := Run(context.Background(), Config{}, RunOptions{Dir: dir, Resume: true, NewMonitor: NewMonitor})
	if err != nil {
		t.Fatal(err)
	}
	if sum.StartStep != 2 {
		t.Fatalf("resumed from %d, want 2", sum.StartStep)
	}

	files, _ := filepath.Glob(filepath.Join(dir, TensorBoardDir, "events.out.tfevents.*"))
	slices.Sort(files)
	if len(files) != 2 {
		t.Fatalf("event files %v, want one per Run", files)
	}
	scalars := map[int64]map[string]float32{}
	histos := map[int64]map[string]tbeventtest.Histogram{}
	starts := 0
	for _, f := range files {
		evs, err := tbeventtest.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range evs {
			switch {
			case e.SessionStatus == 1: // START: TensorBoard purges steps >= e.Step
				starts++
				for s := range scalars {
					if s >= e.Step {
						delete(scalars, s)
					}
				}
				for s := range histos {
					if s >= e.Step {
						delete(histos, s)
					}
				}
			case len(e.Scalars) > 0:
				if scalars[e.Step] != nil {
					t.Fatalf("%s: step %d logged twice", f, e.Step)
				}
				scalars[e.Step] = e.Scalars
			case len(e.Histograms) > 0:
				if histos[e.Step] == nil {
					histos[e.Step] = map[string]tbeventtest.Histogram{}
				}
				for k, h := range e.Histograms {
					histos[e.Step][k] = h
				}
			}
		}
	}
	if starts != 1 {
		t.Errorf("%d SessionLog START events, want 1 (the resume)", starts)
	}

	lines := jsonltest.Read(t, filepath.Join(dir, MetricsFile))
	if len(lines) != c.Steps || len(scalars) != len(lines) {
		t.Fatalf("%d metrics lines, %d TensorBoard steps; want %d", len(lines), len(scalars), c.Steps)
	}
	for _, l := range lines {
		step := int64(l["step"].(float64))
		got := scalars[step]
		want := map[string]float32{}
		nf, _ := l[NonFiniteKey].(map[string]any)
		for k, v := range l {
			switch k {
			case "step", "time", NonFiniteKey, AlarmKey:
				continue
			}
			if v == nil {
				x, err := ParseNonFinite(nf[k].(string))
				if err != nil {
					t.Fatal(err)
				}
				want[TensorBoardTag(k)] = float32(x)
			} else {
				want[TensorBoardTag(k)] = float32(v.(float64))
			}
		}
		if len(got) != len(want) {
			t.Errorf("step %d: tags %v, want %v", step, keys(got), keys(want))
		}
		for k, w := range want {
			if g, ok := got[k]; !ok || math.Float32bits(g) != math.Float32bits(w) {
				t.Errorf("step %d: %s = %v, metrics.jsonl %v", step, k, g, w)
			}
		}
	}
	if _, ok := scalars[2][TensorBoardTag("auc")]; !ok {
		t.Error("monitored step 2 has no AUC scalar")
	}

	spectra := map[int64][]float64{}
	for _, l := range jsonltest.Read(t, filepath.Join(dir, SpectraFile)) {
		var s []float64
		for _, v := range l["singular_values"].([]any) {
			s = append(s, v.(float64))
		}
		spectra[int64(l["step"].(float64))] = s // the last line of a step wins
	}
	if len(histos) != 2 || len(spectra) != 2 {
		t.Fatalf("spectrum histograms at %d steps, spectra.jsonl at %d; want 2 (steps 2, 4)", len(histos), len(spectra))
	}
	for step, sigma := range spectra {
		h, ok := histos[step][TagSpectrum]
		if !ok || !slices.Equal(h.Bucket, SpectrumShares(sigma)) || len(h.BucketLimit) != len(sigma) {
			t.Errorf("step %d: spectrum histogram %v, want %v", step, h.Bucket, SpectrumShares(sigma))
		}
		lh, ok := histos[step][TagLogSigma]
		if !ok || lh.Num != float64(len(sigma)) || lh.Max != 0 {
			t.Errorf("step %d: log-sigma histogram %+v", step, lh)
		}
	}
}

func keys[V any](m map[string]V) []string {
	k := make([]string, 0, len(m))
	for s := range m {
		k = append(k, s)
	}
	slices.Sort(k)
	return k
}
