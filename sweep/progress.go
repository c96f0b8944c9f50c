package sweep

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Progress counts a sweep's runs by state and estimates the compute left: what
// `siam sweep status` prints per sweep folder and over a whole study.
type Progress struct {
	Runs, Finished, Running, Waiting, Failed int
	// Uncommitted counts finished runs whose done.json git does not track (-1 when
	// the folder is not in a git work tree).
	Uncommitted int
	// CoreSeconds is the summed cost (wall seconds × cores, from done.json) of the
	// finished runs that recorded it, Costed how many did.
	CoreSeconds float64
	Costed      int
}

// ProgressOf tallies the statuses of the sweep in dir.
func ProgressOf(dir string, sts []RunStatus) Progress {
	p := Progress{Runs: len(sts)}
	tracked, inGit := trackedDone(dir)
	if !inGit {
		p.Uncommitted = -1
	}
	for _, st := range sts {
		switch st.State {
		case Finished:
			p.Finished++
			rel := filepath.ToSlash(filepath.Join(st.Name, DoneFile))
			if inGit && !tracked[rel] {
				p.Uncommitted++
			}
			if d, ok := readDone(st.Dir(dir)); ok && d.Seconds > 0 {
				p.CoreSeconds += d.Seconds * float64(max(1, d.Cores))
				p.Costed++
			}
		case Running:
			p.Running++
		case Waiting:
			p.Waiting++
		case Failed:
			p.Failed++
		}
	}
	return p
}

// Add sums q into p (Uncommitted stays -1 when either is unknown).
func (p *Progress) Add(q Progress) {
	unc := p.Uncommitted + q.Uncommitted
	if p.Runs > 0 && (p.Uncommitted < 0 || q.Uncommitted < 0) {
		unc = -1
	} else if p.Runs == 0 {
		unc = q.Uncommitted
	}
	p.Runs += q.Runs
	p.Finished += q.Finished
	p.Running += q.Running
	p.Waiting += q.Waiting
	p.Failed += q.Failed
	p.Uncommitted = unc
	p.CoreSeconds += q.CoreSeconds
	p.Costed += q.Costed
}

// CoreHoursLeft estimates the core-hours the unfinished runs need at the mean cost
// of the finished ones (NaN-free: 0 when nothing is finished or nothing is left;
// ok reports whether there was a cost to go by).
func (p Progress) CoreHoursLeft() (h float64, ok bool) {
	left := p.Runs - p.Finished
	if p.Costed == 0 {
		return 0, left == 0
	}
	return float64(left) * p.CoreSeconds / float64(p.Costed) / 3600, true
}

// String is the one-line summary: "12 runs: 5 finished (2 not committed), 1 running,
// 6 waiting, 0 failed; about 1.9 core-hours left".
func (p Progress) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d runs: %d finished", p.Runs, p.Finished)
	if p.Uncommitted > 0 {
		fmt.Fprintf(&b, " (%d not committed)", p.Uncommitted)
	}
	fmt.Fprintf(&b, ", %d running, %d waiting, %d failed", p.Running, p.Waiting, p.Failed)
	if h, ok := p.CoreHoursLeft(); ok && p.Runs > p.Finished {
		fmt.Fprintf(&b, "; about %.1f core-hours left", h)
	} else if p.Runs > p.Finished {
		b.WriteString("; compute left unknown until a run finishes")
	}
	return b.String()
}

// readDone reads a run's done.json.
func readDone(runDir string) (done, bool) {
	b, err := os.ReadFile(filepath.Join(runDir, DoneFile))
	if err != nil {
		return done{}, false
	}
	var d done
	if json.Unmarshal(b, &d) != nil {
		return done{}, false
	}
	return d, true
}

// trackedDone returns the RUN/done.json paths (relative to dir, slash-separated)
// that git tracks in dir; inGit is false when dir is not in a git work tree or git
// is not installed.
func trackedDone(dir string) (tracked map[string]bool, inGit bool) {
	cmd := exec.Command("git", "-C", dir, "ls-files", "--", "*/"+DoneFile)
	out, err := cmd.Output()
	if err != nil {
		return nil, false
	}
	tracked = map[string]bool{}
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if l != "" {
			tracked[l] = true
		}
	}
	return tracked, true
}
