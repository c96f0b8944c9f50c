package sweep

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/siam-ssl/siam/train"
)

// State is where a run of a sweep stands.
type State string

// The states of a run.
const (
	// Finished: trained to its last step and every evaluation recorded.
	Finished State = "finished"
	// Running: a live process holds its lock.
	Running State = "running"
	// Waiting: not started, or interrupted (it resumes from its checkpoint).
	Waiting State = "waiting"
	// Failed: its last attempt failed; error.txt says why. The next sweep
	// invocation retries it.
	Failed State = "failed"
)

// RunStatus describes one run of a sweep folder.
type RunStatus struct {
	Point
	State State
	// Step is the last logged training step (metrics.jsonl), Steps the configured total.
	Step, Steps int
	// Missing lists the evaluations not yet recorded at the final step.
	Missing []string
	// Error is the first line of error.txt (failed runs).
	Error string
	// Lock is the holder of a running run's lock; StaleLock says why a lock found
	// on a non-running run is stale ("" when there is none).
	Lock      *LockInfo
	StaleLock string
}

// Dir returns the run's folder inside the sweep folder dir.
func (p Point) Dir(dir string) string { return filepath.Join(dir, p.Name) }

// RunState reads the state of point p from its folder under dir.
func RunState(dir string, s *Sweep, p Point, staleAfter time.Duration) RunStatus {
	if staleAfter <= 0 {
		staleAfter = DefaultStaleAfter
	}
	rd := p.Dir(dir)
	st := RunStatus{Point: p, Steps: p.Config.Steps, State: Waiting}
	st.Step = lastStep(filepath.Join(rd, train.MetricsFile))
	st.Missing = missingEvals(rd, s.Evals, p.Config.Steps)
	if info, err := ReadLock(filepath.Join(rd, LockFile)); err == nil {
		if stale, why := info.Stale(time.Now(), staleAfter); stale {
			st.StaleLock = why
		} else {
			st.State, st.Lock = Running, &info
			return st
		}
	}
	if _, err := os.Stat(filepath.Join(rd, DoneFile)); err == nil && len(st.Missing) == 0 {
		st.State = Finished
		return st
	}
	if b, err := os.ReadFile(filepath.Join(rd, ErrorFile)); err == nil {
		st.State = Failed
		st.Error, _, _ = strings.Cut(strings.TrimSpace(string(b)), "\n")
		if st.Error == "" {
			st.Error = "(empty " + ErrorFile + ")"
		}
	}
	return st
}

// Status reads the state of every run of the sweep in folder dir.
func Status(dir string, s *Sweep, staleAfter time.Duration) []RunStatus {
	out := make([]RunStatus, len(s.Points))
	for i, p := range s.Points {
		out[i] = RunState(dir, s, p, staleAfter)
	}
	return out
}

// lastStep returns the step of the last line of a metrics.jsonl (0 when absent).
func lastStep(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	lines := bytes.Split(bytes.TrimSpace(b), []byte("\n"))
	for i := len(lines) - 1; i >= 0; i-- {
		var l struct {
			Step int `json:"step"`
		}
		if json.Unmarshal(lines[i], &l) == nil {
			return l.Step
		}
	}
	return 0
}

// recordedEvals returns the kinds with a results.jsonl record at the given step.
func recordedEvals(runDir string, step int) map[string]bool {
	got := map[string]bool{}
	f, err := os.Open(filepath.Join(runDir, train.ResultsFile))
	if err != nil {
		return got
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 1<<16), 1<<28)
	for sc.Scan() {
		var r struct {
			Kind string `json:"kind"`
			Step *int   `json:"step"`
		}
		if json.Unmarshal(sc.Bytes(), &r) == nil && r.Step != nil && *r.Step == step {
			got[r.Kind] = true
		}
	}
	return got
}

// missingEvals lists the evaluations without a record at the final step.
func missingEvals(runDir string, evals []string, step int) []string {
	got := recordedEvals(runDir, step)
	var miss []string
	for _, k := range evals {
		if !got[k] {
			miss = append(miss, k)
		}
	}
	return miss
}

// done is the content of done.json: when, where and by which build a run was
// finished, so that a committed record says what produced it.
type done struct {
	Step    int       `json:"step"`
	Evals   []string  `json:"evals"`
	Host    string    `json:"host"`
	Time    time.Time `json:"time"`
	Seconds float64   `json:"seconds"` // wall time of the last attempt (training and evaluations)
	// Resumed is set when the last attempt continued an interrupted one, whose time
	// Seconds does not include.
	Resumed bool `json:"resumed,omitempty"`
	// CPU is the processor (hostinfo.CPU), Cores the GOMAXPROCS of the last attempt.
	CPU   string `json:"cpu,omitempty"`
	Cores int    `json:"cores,omitempty"`
	// Commit is the siam commit of the binary (hostinfo.Commit).
	Commit string `json:"commit,omitempty"`
}

// isFinished reports whether a run is finished (done.json and every evaluation).
func isFinished(runDir string, s *Sweep, p Point) bool {
	d, ok := readDone(runDir)
	if !ok || d.Step != p.Config.Steps {
		return false
	}
	return len(missingEvals(runDir, s.Evals, p.Config.Steps)) == 0
}

// Counts tallies states.
func Counts(sts []RunStatus) map[State]int {
	c := map[State]int{}
	for _, s := range sts {
		c[s.State]++
	}
	return c
}

// States lists the states in display order.
var States = []State{Finished, Running, Waiting, Failed}

// finalRecords returns the latest results.jsonl record of each kind at step.
func finalRecords(runDir string, step int) map[string]map[string]any {
	out := map[string]map[string]any{}
	f, err := os.Open(filepath.Join(runDir, train.ResultsFile))
	if err != nil {
		return out
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 1<<16), 1<<28)
	for sc.Scan() {
		var r map[string]any
		if json.Unmarshal(sc.Bytes(), &r) != nil {
			continue
		}
		k, _ := r["kind"].(string)
		if s, ok := r["step"].(float64); ok && int(s) == step && k != "" {
			out[k] = r
		}
	}
	return out
}
