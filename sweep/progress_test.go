package sweep

import (
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestProgress: counts by state, the compute left at the finished runs' mean cost
// (wall seconds × cores from done.json), and which finished runs git tracks.
func TestProgress(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	dir := t.TempDir()
	git := func(args ...string) {
		cmd := exec.Command("git", append([]string{"-C", dir, "-c", "user.email=t@t", "-c", "user.name=t"}, args...)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	git("init", "-q")
	for _, r := range []struct{ name, done string }{
		{"a", `{"step": 10, "seconds": 600, "cores": 1}`},
		{"b", `{"step": 10, "seconds": 300, "cores": 2}`},
	} {
		os.MkdirAll(filepath.Join(dir, r.name), 0o755)
		os.WriteFile(filepath.Join(dir, r.name, DoneFile), []byte(r.done), 0o644)
	}
	git("add", "a/"+DoneFile)
	git("commit", "-q", "-m", "record a")
	sts := []RunStatus{
		{Point: Point{Name: "a"}, State: Finished}, {Point: Point{Name: "b"}, State: Finished},
		{Point: Point{Name: "c"}, State: Waiting}, {Point: Point{Name: "d"}, State: Running}, {Point: Point{Name: "e"}, State: Failed},
	}
	p := ProgressOf(dir, sts)
	if p.Runs != 5 || p.Finished != 2 || p.Waiting != 1 || p.Running != 1 || p.Failed != 1 || p.Uncommitted != 1 {
		t.Fatalf("progress %+v", p)
	}
	// Mean cost 600 core-seconds; 3 runs left: 0.5 core-hours.
	if h, ok := p.CoreHoursLeft(); !ok || math.Abs(h-0.5) > 1e-12 {
		t.Fatalf("core-hours left %v %v", h, ok)
	}
	want := "5 runs: 2 finished (1 not committed), 1 running, 1 waiting, 1 failed; about 0.5 core-hours left"
	if p.String() != want {
		t.Fatalf("got %q\nwant %q", p.String(), want)
	}
	var total Progress
	total.Add(p)
	total.Add(ProgressOf(t.TempDir(), []RunStatus{{State: Waiting}}))
	if total.Runs != 6 || total.Uncommitted != -1 || !strings.Contains(total.String(), "6 runs: 2 finished, ") {
		t.Fatalf("total %+v %q", total, total.String())
	}
}
