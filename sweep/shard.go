package sweep

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Shard selects the runs one process takes: those with Index % Count == Index.
// The zero value takes nothing; use AllRuns for every run.
type Shard struct {
	Index, Count int
}

// AllRuns is the shard of a single process doing the whole sweep.
var AllRuns = Shard{0, 1}

// String renders the shard as I/N.
func (s Shard) String() string { return fmt.Sprintf("%d/%d", s.Index, s.Count) }

// Takes reports whether the shard runs point index i.
func (s Shard) Takes(i int) bool { return s.Count > 0 && i%s.Count == s.Index }

// ParseShard reads --shard: "I/N" with 0 <= I < N (0-based), or "slurm", which reads
// a Slurm job array's $SLURM_ARRAY_TASK_ID, $SLURM_ARRAY_TASK_MIN and
// $SLURM_ARRAY_TASK_COUNT (I = ID - MIN, N = COUNT; the array's step must be 1).
// The environment is read only for "slurm": a shard is always the user's explicit
// choice. Errors name the flag and what is wrong in one line.
func ParseShard(v string) (Shard, error) {
	if v == "slurm" {
		return slurmShard(os.Getenv)
	}
	bad := func(why string) (Shard, error) {
		return Shard{}, fmt.Errorf("--shard %q: %s", v, why)
	}
	is, ns, ok := strings.Cut(v, "/")
	if !ok {
		return bad("want I/N (0 <= I < N, e.g. 0/4) or slurm")
	}
	if is == "" || ns == "" {
		return bad("want I/N with both numbers (is the environment variable set?)")
	}
	i, err1 := strconv.Atoi(is)
	n, err2 := strconv.Atoi(ns)
	switch {
	case err1 != nil || err2 != nil:
		return bad("want I/N with two integers, e.g. 0/4")
	case n < 1:
		return bad(fmt.Sprintf("shard count %d must be at least 1", n))
	case i < 0 || i >= n:
		return bad(fmt.Sprintf("shard index %d outside 0..%d (shards are numbered from 0)", i, n-1))
	}
	return Shard{i, n}, nil
}

// slurmShard derives the shard of a Slurm array task from its environment.
func slurmShard(env func(string) string) (Shard, error) {
	get := func(k string) (int, error) {
		v := env(k)
		if v == "" {
			return 0, fmt.Errorf("--shard slurm: $%s is not set (run inside a Slurm job array, sbatch --array=0-N)", k)
		}
		n, err := strconv.Atoi(v)
		if err != nil {
			return 0, fmt.Errorf("--shard slurm: $%s=%q is not an integer", k, v)
		}
		return n, nil
	}
	id, err := get("SLURM_ARRAY_TASK_ID")
	if err != nil {
		return Shard{}, err
	}
	lo, err := get("SLURM_ARRAY_TASK_MIN")
	if err != nil {
		return Shard{}, err
	}
	count, err := get("SLURM_ARRAY_TASK_COUNT")
	if err != nil {
		return Shard{}, err
	}
	if st := env("SLURM_ARRAY_TASK_STEP"); st != "" && st != "1" {
		return Shard{}, fmt.Errorf("--shard slurm: array step %s: use a contiguous array (--array=0-%d)", st, count-1)
	}
	s := Shard{id - lo, count}
	if count < 1 || s.Index < 0 || s.Index >= count {
		return Shard{}, fmt.Errorf("--shard slurm: task %d of an array %d..%d with %d tasks is not contiguous (use --array=0-%d)", id, lo, lo+count-1, count, count-1)
	}
	return s, nil
}
