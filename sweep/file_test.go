package sweep

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/siam-ssl/siam/atomicfile"
)

func TestParseExpandsGrid(t *testing.T) {
	s, err := Parse([]byte(`# orderings
name: orders
base:
  width: 8
  steps: 300
grid:
  order: [multi, single, hybrid]
  seed: [1, 2]
eval: [loss, knn]
eval_options: {linear_epochs: 5, collapse_method: cov32}
`))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for i, p := range s.Points {
		if p.Index != i {
			t.Errorf("point %d has index %d", i, p.Index)
		}
		names = append(names, p.Name)
	}
	want := []string{"order=multi,seed=1", "order=multi,seed=2", "order=single,seed=1", "order=single,seed=2", "order=hybrid,seed=1", "order=hybrid,seed=2"}
	if !slices.Equal(names, want) {
		t.Fatalf("names %v, want %v", names, want)
	}
	p := s.Points[3]
	if p.Config.Order != "single" || p.Config.Seed != 2 || p.Config.Width != 8 || p.Config.Steps != 300 || p.Config.Batch != 128 {
		t.Errorf("point 3 config %+v", p.Config)
	}
	if !slices.Equal(s.Evals, []string{"knn", "loss"}) {
		t.Errorf("evals %v: want the canonical order knn, loss", s.Evals)
	}
	if s.EvalOptions.LinearEpochs != 5 || s.Name != "orders" || s.Value(p, "order") != "single" || s.Value(p, "width") != "" {
		t.Errorf("options %+v name %q", s.EvalOptions, s.Name)
	}
	// Defaults and a single axis.
	s, err = Parse([]byte("grid: {subset: [0.1, 1]}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(s.Evals, DefaultEvals) || len(s.Points) != 2 || s.Points[0].Name != "subset=0.1" || s.Points[1].Config.Subset != 1 {
		t.Errorf("defaults: %+v", s)
	}
	// A data path becomes a safe folder name.
	s, err = Parse([]byte("grid: {data: [/data/a b, embedded]}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if s.Points[0].Name != "data=_data_a_b" || s.Points[0].Config.Data != "/data/a b" {
		t.Errorf("path axis: %+v", s.Points[0])
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, src, msg string
	}{
		{"empty file", "", "empty file"},
		{"not a mapping", "- a\n", "line 1: want a mapping"},
		{"unknown top key", "base: {}\ngird: {seed: [1]}\n", `line 2: unknown key "gird"`},
		{"unknown config key", "base:\n  width: 4\n  widht: 8\ngrid: {seed: [1]}\n", `line 3: base: unknown config key "widht"`},
		{"bad base value", "base: {width: wide}\ngrid: {seed: [1]}\n", `key "width": bad value "wide"`},
		{"base not a mapping", "base: [1]\ngrid: {seed: [1]}\n", "base must be a mapping"},
		{"no grid", "base: {width: 4}\n", "no grid"},
		{"empty grid", "grid: {}\n", "grid is empty"},
		{"grid not a mapping", "grid: [seed]\n", "grid must be a mapping"},
		{"unknown axis", "grid:\n  seed: [1]\n  colour: [red]\n", `line 3: grid axis "colour" is not a config key`},
		{"axis in base", "base: {seed: 1}\ngrid: {seed: [1, 2]}\n", `"seed" is both in base and a grid axis`},
		{"axis without values", "grid: {seed: []}\n", `grid axis "seed" has no values`},
		{"axis not a list", "grid: {seed: 3}\n", `grid axis "seed": want a list`},
		{"bad axis value", "grid:\n  width: [4, x]\n", `line 2: key "width": bad value "x"`},
		{"nested axis value", "grid: {width: [[4]]}\n", `want a single value`},
		{"duplicate axis value", "grid: {order: [multi, multi]}\n", "give the same run name"},
		{"colliding names", "grid: {data: [a/b, a_b]}\n", "give the same run name"},
		{"invalid point", "grid: {width: [4, 0]}\n", "run width=0: width 0 out of range"},
		{"invalid order", "grid: {order: [multi, sideways]}\n", "run order=sideways"},
		{"unknown eval", "grid: {seed: [1]}\neval: [knn, accuracy]\n", `unknown evaluation "accuracy"`},
		{"eval twice", "grid: {seed: [1]}\neval: [knn, knn]\n", `"knn" listed twice`},
		{"eval not a list", "grid: {seed: [1]}\neval: knn\n", "eval must be a list"},
		{"unknown eval option", "grid: {seed: [1]}\neval_options: {epochs: 3}\n", `eval_options: unknown key "epochs"`},
		{"negative eval option", "grid: {seed: [1]}\neval_options: {linear_epochs: -3}\n", "linear_epochs -3 < 0"},
		{"bad collapse method", "grid: {seed: [1]}\neval_options: {collapse_method: qr}\n", "collapse_method"},
		{"key twice", "grid: {seed: [1]}\ngrid: {seed: [2]}\n", `key "grid" given twice`},
		{"name not a string", "name: [a]\ngrid: {seed: [1]}\n", "name must be a string"},
		{"YAML syntax", "grid: {seed: [1\n", "sweep:"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.src))
			if err == nil {
				t.Fatalf("no error for %q", tc.src)
			}
			if !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("error %q does not mention %q", err, tc.msg)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error spans lines: %q", err)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("base: {width: 8, steps: 300}\ngrid: {order: [multi, single], seed: [1, 2]}\neval: [knn]\n"))
	f.Add([]byte("grid: {subset: [0.01, 0.1, 1]}\neval_options: {linear_epochs: 3}\n"))
	f.Add([]byte("name: x\ngrid: {data: [a/b, ..]}\n"))
	f.Add([]byte("grid: {}\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := Parse(b)
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("multi-line error %q", err)
			}
			return
		}
		names := map[string]bool{}
		for _, p := range s.Points {
			if p.Name == "" || p.Name == "." || p.Name == ".." || strings.ContainsAny(p.Name, "/\\\x00") || names[p.Name] {
				t.Fatalf("bad or repeated run name %q", p.Name)
			}
			names[p.Name] = true
			if err := p.Config.Validate(); err != nil {
				t.Fatalf("point %s passed with an invalid config: %v", p.Name, err)
			}
		}
		if again, err := Parse(b); err != nil || again.Hash() != s.Hash() {
			t.Fatalf("parse is not deterministic: %v", err)
		}
	})
}

func TestParseShard(t *testing.T) {
	good := map[string]Shard{"0/1": {0, 1}, "1/2": {1, 2}, "3/4": {3, 4}}
	for in, want := range good {
		got, err := ParseShard(in)
		if err != nil || got != want {
			t.Errorf("ParseShard(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	bad := map[string]string{"3/2": "outside 0..1", "2/2": "outside 0..1", "0/0": "at least 1", "-1/2": "outside 0..1",
		"junk": "want I/N", "/": "both numbers", "1/": "both numbers", "/4": "both numbers", "a/b": "two integers", "1/2/3": "two integers", "": "want I/N"}
	for in, msg := range bad {
		_, err := ParseShard(in)
		if err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("ParseShard(%q): error %v, want one mentioning %q", in, err, msg)
		}
	}
	slurm := func(env map[string]string) func(string) string { return func(k string) string { return env[k] } }
	s, err := slurmShard(slurm(map[string]string{"SLURM_ARRAY_TASK_ID": "5", "SLURM_ARRAY_TASK_MIN": "3", "SLURM_ARRAY_TASK_COUNT": "4"}))
	if err != nil || s != (Shard{2, 4}) {
		t.Errorf("slurm shard %v, %v", s, err)
	}
	for _, env := range []map[string]string{
		{"SLURM_ARRAY_TASK_MIN": "0", "SLURM_ARRAY_TASK_COUNT": "4"},
		{"SLURM_ARRAY_TASK_ID": "x", "SLURM_ARRAY_TASK_MIN": "0", "SLURM_ARRAY_TASK_COUNT": "4"},
		{"SLURM_ARRAY_TASK_ID": "4", "SLURM_ARRAY_TASK_MIN": "0", "SLURM_ARRAY_TASK_COUNT": "4", "SLURM_ARRAY_TASK_STEP": "2"},
		{"SLURM_ARRAY_TASK_ID": "9", "SLURM_ARRAY_TASK_MIN": "0", "SLURM_ARRAY_TASK_COUNT": "4"},
	} {
		if _, err := slurmShard(slurm(env)); err == nil {
			t.Errorf("slurm env %v accepted", env)
		}
	}
	// Shards partition the runs.
	for n := 1; n <= 5; n++ {
		for i := range 17 {
			takers := 0
			for k := range n {
				if (Shard{k, n}).Takes(i) {
					takers++
				}
			}
			if takers != 1 {
				t.Fatalf("run %d taken by %d of %d shards", i, takers, n)
			}
		}
	}
}

// TestInitPinsFolder: a folder records its sweep once; the same sweep (comments
// and layout aside) continues, another sweep or a foreign folder is refused and
// nothing is written.
func TestInitPinsFolder(t *testing.T) {
	src := "base: {width: 4, steps: 20}\ngrid: {seed: [1, 2]}\n"
	s, err := Parse([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "sw")
	if err := Init(dir, s, "a.yaml"); err != nil {
		t.Fatal(err)
	}
	rec, _ := os.ReadFile(filepath.Join(dir, RecordFile))
	if !strings.HasPrefix(string(rec), "# siam sweep record: copy of a.yaml (sha256 ") || !strings.HasSuffix(string(rec), src) {
		t.Fatalf("record:\n%s", rec)
	}
	same, _ := Parse([]byte("# same sweep, new layout\ngrid:\n  seed: [1, 2]\nbase:\n  steps: 20\n  width: 4\n"))
	if err := Init(dir, same, "b.yaml"); err != nil {
		t.Fatalf("same sweep refused: %v", err)
	}
	other, _ := Parse([]byte("base: {width: 4, steps: 30}\ngrid: {seed: [1, 2]}\n"))
	err = Init(dir, other, "c.yaml")
	if err == nil || !strings.Contains(err.Error(), "holds another sweep") || !strings.Contains(err.Error(), "steps 20 vs 30") {
		t.Fatalf("other sweep: %v", err)
	}
	fewer, _ := Parse([]byte("base: {width: 4, steps: 20}\ngrid: {seed: [1]}\n"))
	if err := Init(dir, fewer, "d.yaml"); err == nil || !strings.Contains(err.Error(), "2 runs vs 1") {
		t.Fatalf("fewer runs: %v", err)
	}
	if after, _ := os.ReadFile(filepath.Join(dir, RecordFile)); string(after) != string(rec) {
		t.Fatal("sweep.yaml changed")
	}
	// Shards starting at once on an empty folder: every one succeeds, one record.
	race := filepath.Join(t.TempDir(), "race")
	errs := make(chan error, 8)
	for range 8 {
		go func() { errs <- Init(race, s, "a.yaml") }()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Fatalf("concurrent Init: %v", err)
		}
	}
	if entries, _ := os.ReadDir(race); len(entries) != 1 {
		t.Fatalf("concurrent Init left %v", entries)
	}
	foreign := t.TempDir()
	os.WriteFile(filepath.Join(foreign, "notes.txt"), []byte("x"), 0o644)
	if err := Init(foreign, s, "a.yaml"); err == nil || !strings.Contains(err.Error(), "not a sweep folder") {
		t.Fatalf("foreign folder: %v", err)
	}
	if IsDir(foreign) {
		t.Fatal("foreign folder became a sweep folder")
	}
	if _, err := Open(foreign); err == nil || !strings.Contains(err.Error(), "not a sweep folder") {
		t.Fatalf("Open(foreign): %v", err)
	}
}

func TestLock(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, LockFile)
	l, err := Acquire(p, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Acquire(p, 0); !errors.Is(err, ErrBusy) || !strings.Contains(err.Error(), "pid") {
		t.Fatalf("second acquire: %v", err)
	}
	info, err := ReadLock(p)
	if err != nil || info.PID != os.Getpid() || info.Host != hostname() {
		t.Fatalf("lock info %+v, %v", info, err)
	}
	l.Release()
	if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("release left the lock")
	}

	// A lock of a process that no longer exists on this host is stale.
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Skip("no `true` to make a dead pid:", err)
	}
	write := func(pid int, host string, age time.Duration, procStart ...uint64) {
		os.Remove(p)
		ps := ""
		if len(procStart) > 0 {
			ps = `,"proc_start":` + strconv.FormatUint(procStart[0], 10)
		}
		b := []byte(`{"pid":` + strconv.Itoa(pid) + `,"host":"` + host + `","started":"2026-01-02T03:04:05Z"` + ps + `}`)
		if err := atomicfile.CreateExclusive(p, b); err != nil {
			t.Fatal(err)
		}
		old := time.Now().Add(-age)
		os.Chtimes(p, old, old)
	}
	write(cmd.Process.Pid, hostname(), 0)
	l, err = Acquire(p, time.Minute)
	if err != nil {
		t.Fatalf("stale local lock not taken: %v", err)
	}
	l.Release()
	// A live pid on this host holds it: busy, unless the pid now belongs to a
	// process started at another time (a reused pid) or its heartbeat stopped.
	me := procStart(os.Getpid())
	write(os.Getpid(), hostname(), 0, me)
	if _, err := Acquire(p, time.Minute); !errors.Is(err, ErrBusy) {
		t.Fatalf("live local lock: %v", err)
	}
	if me != 0 {
		write(os.Getpid(), hostname(), 0, me+1)
		if l, err = Acquire(p, time.Minute); err != nil {
			t.Fatalf("lock of a reused pid not taken: %v", err)
		}
		l.Release()
	}
	write(os.Getpid(), hostname(), 2*time.Minute, me)
	if l, err = Acquire(p, time.Minute); err != nil {
		t.Fatalf("local lock without heartbeat not taken: %v", err)
	}
	l.Release()
	// Another host's lock: live while its heartbeat is fresh, stale after.
	write(1, "elsewhere", 10*time.Second)
	if _, err := Acquire(p, time.Minute); !errors.Is(err, ErrBusy) {
		t.Fatalf("fresh foreign lock: %v", err)
	}
	write(1, "elsewhere", 2*time.Minute)
	if l, err = Acquire(p, time.Minute); err != nil {
		t.Fatalf("stale foreign lock not taken: %v", err)
	}
	// A lock broken and retaken by someone else is not removed by Release.
	os.Remove(p)
	write(1, "elsewhere", 0)
	l.Release()
	if _, err := os.Stat(p); err != nil {
		t.Fatal("Release removed another process's lock")
	}
	// A breaker in progress (a fresh .break file) keeps others out.
	write(1, "elsewhere", 2*time.Minute)
	if err := atomicfile.CreateExclusive(p+".break", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := Acquire(p, time.Minute); !errors.Is(err, ErrBusy) {
		t.Fatalf("lock being broken: %v", err)
	}
}

func FuzzParseShard(f *testing.F) {
	for _, s := range []string{"0/1", "3/4", "3/2", "0/0", "-1/2", "/", "junk", "1/2/3", "99999999999999999999/1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		s, err := ParseShard(v)
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("multi-line error %q", err)
			}
			return
		}
		if s.Count < 1 || s.Index < 0 || s.Index >= s.Count {
			t.Fatalf("ParseShard(%q) = %v", v, s)
		}
	})
}
