package sweep

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/siam-ssl/siam/internal/jsonltest"
	"github.com/siam-ssl/siam/nn"
	"github.com/siam-ssl/siam/train"
)

// checkFinishedRun checks that a run trained every step exactly once and holds
// exactly one record of each evaluation at the final step.
func checkFinishedRun(t *testing.T, s *Sweep, rd string, steps int) {
	t.Helper()
	var got []int
	for _, m := range jsonltest.Read(t, filepath.Join(rd, train.MetricsFile)) {
		got = append(got, int(m["step"].(float64)))
	}
	want := make([]int, steps)
	for i := range want {
		want[i] = i + 1
	}
	if !slices.Equal(got, want) {
		t.Errorf("%s: metrics steps %v, want 1..%d once each", rd, got, steps)
	}
	kinds := map[string]int{}
	for _, r := range jsonltest.Read(t, filepath.Join(rd, train.ResultsFile)) {
		if int(r["step"].(float64)) != steps {
			t.Errorf("%s: %s record at step %v", rd, r["kind"], r["step"])
		}
		kinds[r["kind"].(string)]++
	}
	for _, k := range s.Evals {
		if kinds[k] != 1 {
			t.Errorf("%s: %d %q records, want 1", rd, kinds[k], k)
		}
	}
	for _, f := range []string{DoneFile, train.CheckpointFile, train.ConfigFile} {
		if _, err := os.Stat(filepath.Join(rd, f)); err != nil {
			t.Errorf("%s: %v", rd, err)
		}
	}
	for _, f := range []string{LockFile, ErrorFile} {
		if _, err := os.Stat(filepath.Join(rd, f)); err == nil {
			t.Errorf("%s: %s left behind", rd, f)
		}
	}
}

// TestTwoShardsOneFolder runs the tiny sweep as two concurrent shards into one
// folder, shard 0 with two runs in parallel: every run is trained once and ends
// with collapse, k-NN and loss results; a second invocation starts nothing.
func TestTwoShardsOneFolder(t *testing.T) {
	s := tinySweep(t, "")
	dir := filepath.Join(t.TempDir(), "sweep")
	if err := Init(dir, s, "tiny.yaml"); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	children := 0
	var wg sync.WaitGroup
	results := make([]*Result, 2)
	errs := make([]error, 2)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = Run(context.Background(), dir, s, Options{Shard: Shard{i, 2}, Parallel: 2 - i,
				Command: childCommand(&children, &mu)})
		}()
	}
	wg.Wait()
	for i := range 2 {
		if errs[i] != nil {
			t.Fatalf("shard %d: %v", i, errs[i])
		}
		if r := results[i]; r.Runs != 2 || len(r.Finished) != 2 || len(r.Failed)+len(r.Busy) != 0 {
			t.Fatalf("shard %d: %+v", i, r)
		}
	}
	if children != 4 {
		t.Errorf("%d child processes for 4 runs", children)
	}
	seen := map[string]bool{}
	for _, r := range results {
		for _, n := range r.Finished {
			if seen[n] {
				t.Errorf("run %s taken by both shards", n)
			}
			seen[n] = true
		}
	}
	for _, p := range s.Points {
		checkFinishedRun(t, s, p.Dir(dir), 20)
	}
	sts := Status(dir, s, 0)
	if c := Counts(sts); c[Finished] != 4 {
		t.Fatalf("status counts %v, want 4 finished", c)
	}
	sum, err := Aggregate(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(sum.Groups) != 2 || sum.Predictor == nil {
		t.Fatalf("aggregate: %+v", sum)
	}
	for _, g := range sum.Groups {
		if g.KNN.N != 2 || g.AUC.N != 2 || g.ValLoss.N != 2 || g.FinalLoss.N != 2 || !(g.KNN.Mean > 0.1) || len(g.Sigma) != 32 {
			t.Errorf("group %s: %+v", g.Name, g)
		}
	}

	children = 0
	var log bytes.Buffer
	res, err := Run(context.Background(), dir, s, Options{Command: childCommand(&children, &mu), Log: &log})
	if err != nil {
		t.Fatal(err)
	}
	if children != 0 || res.AlreadyFinished != 4 || len(res.Finished) != 0 {
		t.Fatalf("second invocation started %d children: %+v\n%s", children, res, log.String())
	}
}

// checkpointTensors reads a run's checkpoint (model and optimizer state).
func checkpointTensors(t *testing.T, rd string) map[string][]float32 {
	t.Helper()
	ts, _, err := nn.LoadTensors(filepath.Join(rd, train.CheckpointFile))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]float32{}
	for k, v := range ts {
		out[k] = v.Data
	}
	return out
}

// sameRun checks bit-identical final state and evaluation results.
func sameRun(t *testing.T, got, want string) {
	t.Helper()
	a, b := checkpointTensors(t, got), checkpointTensors(t, want)
	if len(a) != len(b) {
		t.Fatalf("%d tensors vs %d", len(a), len(b))
	}
	for k, va := range a {
		if !slices.Equal(va, b[k]) {
			t.Fatalf("tensor %s differs after the resumed run", k)
		}
	}
	ra, rb := finalRecords(got, 20), finalRecords(want, 20)
	for _, k := range []string{"knn", "collapse", "loss"} {
		for _, f := range []string{"accuracy", "auc", "val_loss"} {
			if ra[k][f] != rb[k][f] {
				t.Errorf("%s %s: %v after resume, %v uninterrupted", k, f, ra[k][f], rb[k][f])
			}
		}
	}
	la, lb := jsonltest.Read(t, filepath.Join(got, train.MetricsFile)), jsonltest.Read(t, filepath.Join(want, train.MetricsFile))
	if len(la) != len(lb) {
		t.Fatalf("%d metrics lines vs %d", len(la), len(lb))
	}
	for i := range la {
		if la[i]["loss"] != lb[i]["loss"] {
			t.Fatalf("step %v: loss %v after resume, %v uninterrupted", la[i]["step"], la[i]["loss"], lb[i]["loss"])
		}
	}
}

// TestKilledRunResumesBitExact SIGKILLs a run's process after step 13 (last
// checkpoint: step 10): the run is marked failed with the reason, its lock is
// cleaned up, and the next invocation resumes it to the same weights, losses and
// results as an uninterrupted run.
func TestKilledRunResumesBitExact(t *testing.T) {
	s := tinySweep(t, "")
	s = onlyPoints(t, s, "order=single,seed=2")
	dir := filepath.Join(t.TempDir(), "sweep")
	if err := Init(dir, s, "tiny.yaml"); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	n := 0
	res, err := Run(context.Background(), dir, s, Options{Command: childCommand(&n, &mu, "SIAM_SWEEP_TEST_KILL_AT=13")})
	if err == nil || len(res.Failed) != 1 {
		t.Fatalf("killed run: err %v, result %+v", err, res)
	}
	p := s.Points[0]
	st := RunState(dir, s, p, 0)
	if st.State != Failed || !strings.Contains(st.Error, "killed by signal") || st.Step != 12 { // killed inside step 13, before its metrics line
		t.Fatalf("status after the kill: %+v", st)
	}
	if _, err := os.Stat(filepath.Join(p.Dir(dir), LockFile)); err == nil {
		t.Fatal("the killed child's lock was left behind")
	}
	if res, err = Run(context.Background(), dir, s, Options{Command: childCommand(&n, &mu)}); err != nil || len(res.Finished) != 1 {
		t.Fatalf("resume: %v %+v", err, res)
	}
	checkFinishedRun(t, s, p.Dir(dir), 20)
	ref := referenceRun(t, s, p)
	sameRun(t, p.Dir(dir), ref)
}

// TestInterruptedInProcessResumes cancels an in-process run's context after
// step 7: it checkpoints, is not marked failed, and resumes to the uninterrupted
// result.
func TestInterruptedInProcessResumes(t *testing.T) {
	s := onlyPoints(t, tinySweep(t, ""), "order=multi,seed=1")
	dir := filepath.Join(t.TempDir(), "sweep")
	if err := Init(dir, s, "tiny.yaml"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, err := Run(ctx, dir, s, Options{Run: RunOptions{OnStep: func(step int, _ float64) {
		if step == 7 {
			cancel()
		}
	}}})
	if !errors.Is(err, train.ErrInterrupted) {
		t.Fatalf("want ErrInterrupted, got %v", err)
	}
	p := s.Points[0]
	if st := RunState(dir, s, p, 0); st.State != Waiting || st.Step != 7 {
		t.Fatalf("after the interrupt: %+v", st)
	}
	if _, err := Run(context.Background(), dir, s, Options{}); err != nil {
		t.Fatal(err)
	}
	checkFinishedRun(t, s, p.Dir(dir), 20)
	sameRun(t, p.Dir(dir), referenceRun(t, s, p))
}

// onlyPoints keeps the named points of a sweep (re-indexed), as a one-axis file would.
func onlyPoints(t *testing.T, s *Sweep, names ...string) *Sweep {
	t.Helper()
	var keep []Point
	for _, p := range s.Points {
		if slices.Contains(names, p.Name) {
			p.Index = len(keep)
			keep = append(keep, p)
		}
	}
	if len(keep) != len(names) {
		t.Fatalf("points %v not in the sweep", names)
	}
	s.Points = keep
	return s
}

// referenceRun trains and evaluates p uninterrupted, in process, in a fresh folder.
func referenceRun(t *testing.T, s *Sweep, p Point) string {
	t.Helper()
	dir := t.TempDir()
	if _, err := RunPoint(context.Background(), dir, s, p, RunOptions{}); err != nil {
		t.Fatal(err)
	}
	return p.Dir(dir)
}

// TestBusyAndFailedRuns: a run locked by a live process is skipped (not failed,
// not touched); a run that fails is recorded in error.txt and reported, and the
// other runs still finish.
func TestBusyAndFailedRuns(t *testing.T) {
	s := onlyPoints(t, tinySweep(t, ""), "order=multi,seed=1", "order=multi,seed=2", "order=single,seed=1")
	dir := filepath.Join(t.TempDir(), "sweep")
	if err := Init(dir, s, "tiny.yaml"); err != nil {
		t.Fatal(err)
	}
	busy, bad := s.Points[0], s.Points[1]
	if err := os.MkdirAll(busy.Dir(dir), 0o755); err != nil {
		t.Fatal(err)
	}
	lock, err := Acquire(filepath.Join(busy.Dir(dir), LockFile), 0)
	if err != nil {
		t.Fatal(err)
	}
	// A config.yaml that is not the sweep's: the run must fail, not train over it.
	c := bad.Config
	c.Steps = 99
	if err := os.MkdirAll(bad.Dir(dir), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bad.Dir(dir), train.ConfigFile), c.YAML(), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := Run(context.Background(), dir, s, Options{})
	if err == nil || !strings.Contains(err.Error(), "1 of 3 runs failed") {
		t.Fatalf("want one failure, got %v", err)
	}
	if !slices.Equal(res.Busy, []string{busy.Name}) || !slices.Equal(res.Failed, []string{bad.Name}) || len(res.Finished) != 1 {
		t.Fatalf("result %+v", res)
	}
	sts := Status(dir, s, 0)
	if sts[0].State != Running || sts[0].Lock == nil || sts[1].State != Failed || !strings.Contains(sts[1].Error, "steps 99 vs 20") || sts[2].State != Finished {
		t.Fatalf("status %+v", sts)
	}
	if entries, _ := os.ReadDir(busy.Dir(dir)); len(entries) != 1 {
		t.Fatalf("busy run folder touched: %v", entries)
	}
	lock.Release()
	if st := RunState(dir, s, busy, 0); st.State != Waiting {
		t.Fatalf("after release: %+v", st)
	}
}
