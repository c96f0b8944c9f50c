package sweep

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/siam-ssl/siam/train"
)

// Exit statuses of a run's child process (`siam sweep run-one`).
const (
	// ExitFailed: the run failed; its error.txt says why.
	ExitFailed = 1
	// ExitBusy: another live process holds the run's lock.
	ExitBusy = 75
	// ExitInterrupted: interrupted (SIGINT/SIGTERM) after a checkpoint.
	ExitInterrupted = 130
)

// Options configure Run.
type Options struct {
	// Shard selects this process's runs (zero value: AllRuns).
	Shard Shard
	// Parallel is the number of runs trained at once (0: 1). Each child process gets
	// GOMAXPROCS = this process's GOMAXPROCS / Parallel (at least 1).
	Parallel int
	// Command, when set, makes each run a child process: it returns the command that
	// runs `siam sweep run-one DIR NAME` (RunChild). The child's GOMAXPROCS is set
	// in its environment, its output goes to the run's sweep.log, and on Linux it
	// receives SIGTERM (checkpoint and exit) if this process dies. A crash or kill of
	// one run then fails only that run. nil runs every run in this process, which
	// needs Parallel 1.
	Command func(dir, name string) *exec.Cmd
	// Log receives one line per event: started, finished, failed, skipped.
	Log io.Writer
	// Run configures in-process runs (Command nil); its Log defaults to each run's sweep.log.
	Run RunOptions
	// StaleAfter is the lock heartbeat timeout (0: DefaultStaleAfter).
	StaleAfter time.Duration
	// KillAfter is how long a child may take to checkpoint after SIGTERM before it
	// is killed (0: 2 minutes).
	KillAfter time.Duration
}

// Result summarises one invocation of Run over a shard.
type Result struct {
	// Runs is the number of runs in this shard.
	Runs int
	// AlreadyFinished counts runs that were finished before this invocation.
	AlreadyFinished int
	// Finished, Failed and Busy name the runs this invocation finished, saw fail,
	// and skipped because another process holds them.
	Finished, Failed, Busy []string
	// Interrupted is set when the context was cancelled.
	Interrupted bool
}

// Run trains and evaluates the runs of this shard of sweep s in folder dir (made
// by Init), Parallel at a time, skipping finished runs and resuming interrupted
// ones. It returns train.ErrInterrupted when ctx is cancelled (every running run
// checkpoints first) and an error naming the failed runs when some failed; the
// other runs still run.
func Run(ctx context.Context, dir string, s *Sweep, o Options) (*Result, error) {
	if o.Shard == (Shard{}) {
		o.Shard = AllRuns
	}
	if o.Shard.Count < 1 || o.Shard.Index < 0 || o.Shard.Index >= o.Shard.Count {
		return nil, fmt.Errorf("sweep: bad shard %s", o.Shard)
	}
	if o.Parallel == 0 {
		o.Parallel = 1
	}
	if o.Parallel < 1 {
		return nil, fmt.Errorf("--parallel %d < 1", o.Parallel)
	}
	if o.Command == nil && o.Parallel > 1 {
		return nil, errors.New("sweep: parallel runs need child processes (Options.Command)")
	}
	if o.StaleAfter <= 0 {
		o.StaleAfter = DefaultStaleAfter
	}
	if o.KillAfter <= 0 {
		o.KillAfter = 2 * time.Minute
	}
	log := o.Log
	if log == nil {
		log = io.Discard
	}
	res := &Result{}
	var todo []Point
	for _, p := range s.Points {
		if !o.Shard.Takes(p.Index) {
			continue
		}
		res.Runs++
		if isFinished(p.Dir(dir), s, p) {
			res.AlreadyFinished++
			continue
		}
		todo = append(todo, p)
	}
	fmt.Fprintf(log, "sweep %s, shard %s: %d runs, %d already finished, %d to do (%d at a time)\n",
		dir, o.Shard, res.Runs, res.AlreadyFinished, len(todo), o.Parallel)
	procs := max(1, runtime.GOMAXPROCS(0)/o.Parallel)
	var mu sync.Mutex
	started := 0
	jobs := make(chan Point)
	var wg sync.WaitGroup
	for range o.Parallel {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for p := range jobs {
				mu.Lock()
				started++
				tag := fmt.Sprintf("[%d/%d] %s", started, len(todo), p.Name)
				mu.Unlock()
				var already bool
				var err error
				t0 := time.Now()
				if o.Command != nil {
					already, err = runChild(ctx, dir, p, o, procs, log, tag)
					if err == nil && !isFinished(p.Dir(dir), s, p) {
						err = fmt.Errorf("the run process exited without error but the run is not finished (see %s)", filepath.Join(p.Dir(dir), LogFile))
					}
				} else {
					already, err = runInProcess(ctx, dir, s, p, o)
				}
				mu.Lock()
				switch {
				case err == nil && already:
					res.AlreadyFinished++
					fmt.Fprintf(log, "%s: already finished\n", tag)
				case err == nil:
					res.Finished = append(res.Finished, p.Name)
					fmt.Fprintf(log, "%s: finished in %s%s\n", tag, time.Since(t0).Round(time.Second), colonPrefix(ResultLine(p.Dir(dir), p.Config.Steps)))
				case errors.Is(err, ErrBusy):
					res.Busy = append(res.Busy, p.Name)
					fmt.Fprintf(log, "%s: skipped, %v\n", tag, err)
				case errors.Is(err, train.ErrInterrupted):
					res.Interrupted = true
					fmt.Fprintf(log, "%s: interrupted; it resumes from its checkpoint next time\n", tag)
				default:
					res.Failed = append(res.Failed, p.Name)
					fmt.Fprintf(log, "%s: failed: %v\n", tag, err)
				}
				mu.Unlock()
			}
		}()
	}
	for _, p := range todo {
		if ctx.Err() != nil {
			break
		}
		if st := RunState(dir, s, p, o.StaleAfter); st.State == Running {
			mu.Lock()
			res.Busy = append(res.Busy, p.Name)
			fmt.Fprintf(log, "%s: skipped, running elsewhere (%s)\n", p.Name, st.Lock)
			mu.Unlock()
			continue
		}
		select {
		case jobs <- p:
		case <-ctx.Done():
		}
	}
	close(jobs)
	wg.Wait()
	if ctx.Err() != nil {
		res.Interrupted = true
	}
	switch {
	case res.Interrupted:
		return res, train.ErrInterrupted
	case len(res.Failed) > 0:
		return res, fmt.Errorf("%d of %d runs failed (%s); see siam sweep status %s", len(res.Failed), res.Runs, strings.Join(res.Failed, ", "), dir)
	}
	return res, nil
}

// runInProcess runs p in this process, its log appended to the run's sweep.log
// unless Options.Run.Log is set.
func runInProcess(ctx context.Context, dir string, s *Sweep, p Point, o Options) (bool, error) {
	ro := o.Run
	ro.StaleAfter = o.StaleAfter
	if ro.Log == nil {
		if err := os.MkdirAll(p.Dir(dir), 0o755); err != nil {
			return false, err
		}
		f, err := os.OpenFile(filepath.Join(p.Dir(dir), LogFile), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return false, err
		}
		defer f.Close()
		ro.Log = f
	}
	return RunPoint(ctx, dir, s, p, ro)
}

// tailBuffer keeps the last bytes written to it (a child's stderr, for errors
// that a crashing child could not write to error.txt itself).
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
}

func (t *tailBuffer) Write(b []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, b...)
	if len(t.buf) > 8192 {
		t.buf = append([]byte(nil), t.buf[len(t.buf)-8192:]...)
	}
	return len(b), nil
}

func (t *tailBuffer) lastLines(n int) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	lines := strings.Split(strings.TrimSpace(string(t.buf)), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}

// runChild runs p in a child process with GOMAXPROCS procs.
func runChild(ctx context.Context, dir string, p Point, o Options, procs int, log io.Writer, tag string) (bool, error) {
	rd := p.Dir(dir)
	if err := os.MkdirAll(rd, 0o755); err != nil {
		return false, err
	}
	lf, err := os.OpenFile(filepath.Join(rd, LogFile), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return false, err
	}
	defer lf.Close()
	cmd := o.Command(dir, p.Name)
	env := cmd.Env
	if env == nil {
		env = os.Environ()
	}
	cmd.Env = append(env, fmt.Sprintf("GOMAXPROCS=%d", procs))
	var tail tailBuffer
	cmd.Stdout, cmd.Stderr = lf, io.MultiWriter(lf, &tail)
	setParentDeathSignal(cmd)
	fmt.Fprintf(lf, "== %s: %s (GOMAXPROCS %d)\n", time.Now().Format(time.RFC3339), strings.Join(cmd.Args, " "), procs)
	if err := cmd.Start(); err != nil {
		return false, fmt.Errorf("starting %s: %w", cmd.Path, err)
	}
	pid := cmd.Process.Pid
	fmt.Fprintf(log, "%s: started (pid %d, GOMAXPROCS %d, log %s)\n", tag, pid, procs, filepath.Join(rd, LogFile))
	waited := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-time.After(o.KillAfter):
				cmd.Process.Kill()
			case <-waited:
			}
		case <-waited:
		}
	}()
	werr := cmd.Wait()
	close(waited)
	if werr == nil {
		return false, nil
	}
	var ee *exec.ExitError
	if !errors.As(werr, &ee) {
		return false, werr
	}
	if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		// Killed before it could clean up: release its lock and record why.
		removeLockOf(rd, pid)
		if ctx.Err() != nil {
			return false, train.ErrInterrupted
		}
		msg := fmt.Sprintf("killed by signal %v (out of memory, or killed by hand); it resumes from its last checkpoint on the next invocation", ws.Signal())
		writeError(rd, msg)
		return false, errors.New(msg)
	}
	switch ee.ExitCode() {
	case ExitBusy:
		return false, fmt.Errorf("%w: %s", ErrBusy, tail.lastLines(1))
	case ExitInterrupted:
		return false, train.ErrInterrupted
	}
	if b, err := os.ReadFile(filepath.Join(rd, ErrorFile)); err == nil {
		line, _, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
		return false, fmt.Errorf("%s (%s)", line, filepath.Join(rd, ErrorFile))
	}
	msg := fmt.Sprintf("exit status %d: %s", ee.ExitCode(), tail.lastLines(3))
	writeError(rd, msg)
	return false, errors.New(msg)
}

// RunChild is the body of the child process `siam sweep run-one DIR NAME`: it
// runs the named run of the sweep recorded in dir (RunPoint), appending its log
// to the run's sweep.log unless o.Log is set, and returns the exit status: 0
// (finished), ExitBusy, ExitInterrupted or ExitFailed. Errors go to stderr too.
func RunChild(ctx context.Context, dir, name string, o RunOptions, stderr io.Writer) int {
	s, err := Open(dir)
	if err != nil {
		fmt.Fprintln(stderr, "siam sweep run-one:", err)
		return ExitFailed
	}
	p, ok := s.Point(name)
	if !ok {
		fmt.Fprintf(stderr, "siam sweep run-one: sweep %s has no run %q\n", dir, name)
		return ExitFailed
	}
	if o.Log == nil {
		o.Log = stderr
	}
	_, err = RunPoint(ctx, dir, s, p, o)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, ErrBusy):
		fmt.Fprintln(stderr, err)
		return ExitBusy
	case errors.Is(err, train.ErrInterrupted):
		return ExitInterrupted
	}
	fmt.Fprintln(stderr, "siam sweep run-one:", err)
	return ExitFailed
}

// ResultLine is "k-NN 71.2%, AUC 0.812, ..." from a run's records at step.
func ResultLine(runDir string, step int) string {
	recs := finalRecords(runDir, step)
	var parts []string
	if v, ok := recs["knn"]["accuracy"].(float64); ok {
		parts = append(parts, fmt.Sprintf("k-NN %.1f%%", 100*v))
	}
	if v, ok := recs["linear"]["accuracy"].(float64); ok {
		parts = append(parts, fmt.Sprintf("linear %.1f%%", 100*v))
	}
	if v, ok := recs["collapse"]["auc"].(float64); ok {
		parts = append(parts, fmt.Sprintf("AUC %.3f", v))
	}
	if v, ok := recs["loss"]["val_loss"].(float64); ok {
		parts = append(parts, fmt.Sprintf("val loss %.3f", v))
	}
	return strings.Join(parts, ", ")
}

func colonPrefix(s string) string {
	if s == "" {
		return ""
	}
	return ": " + s
}
