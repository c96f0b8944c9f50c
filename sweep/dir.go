package sweep

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/siam-ssl/siam/atomicfile"
	"github.com/siam-ssl/siam/runlock"
)

// Files of a sweep folder and of its run folders (besides a run's own
// config.yaml, metrics.jsonl, checkpoint.safetensors and results.jsonl).
const (
	// RecordFile is DIR/sweep.yaml: the sweep file's copy, under a comment line
	// with its SHA-256; it pins the folder to that sweep.
	RecordFile = "sweep.yaml"
	// LockFile is RUN/lock while a process trains or evaluates the run.
	LockFile = runlock.FileName
	// ErrorFile is RUN/error.txt: the last failure, its first line the error.
	ErrorFile = "error.txt"
	// DoneFile is RUN/done.json, written when training and every evaluation are done.
	DoneFile = "done.json"
	// LogFile is RUN/sweep.log: the training log and messages of the run's processes.
	LogFile = "sweep.log"
)

// recordHeader starts DIR/sweep.yaml.
const recordHeader = "# siam sweep record: copy of %s (sha256 %s), made %s; do not edit.\n"

// IsDir reports whether dir is a sweep folder (holds sweep.yaml).
func IsDir(dir string) bool {
	st, err := os.Stat(filepath.Join(dir, RecordFile))
	return err == nil && st.Mode().IsRegular()
}

// Open reads the sweep a folder was made for.
func Open(dir string) (*Sweep, error) {
	p := filepath.Join(dir, RecordFile)
	b, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%s is not a sweep folder (no %s; start one with siam sweep FILE.yaml --out %s)", dir, RecordFile, dir)
	} else if err != nil {
		return nil, err
	}
	s, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	return s, nil
}

// Init makes dir the folder of sweep s (read from the file named source): it
// creates dir and dir/sweep.yaml, or, when dir already holds a sweep, checks that
// it is the same sweep (same runs, configs and evaluations; comments and layout
// may differ). A folder of another sweep, or a non-empty folder that is not a
// sweep folder, is an error and nothing is written. Shards starting together are
// safe: sweep.yaml is created exclusively, and the losers compare with it.
func Init(dir string, s *Sweep, source string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	rec := filepath.Join(dir, RecordFile)
	if !IsDir(dir) {
		entries, err := os.ReadDir(dir)
		if err != nil {
			return err
		}
		raced := false
		for _, e := range entries {
			// Another shard's record, made since IsDir looked, or its half-made
			// temporary file, is not foreign content.
			if e.Name() == RecordFile {
				raced = true
				continue
			}
			if !strings.HasPrefix(e.Name(), "."+RecordFile+".tmp-") {
				return fmt.Errorf("%s is not empty and is not a sweep folder (no %s); use a new --out folder", dir, RecordFile)
			}
		}
		if !raced {
			if err := createRecord(rec, s, source); err == nil || !errors.Is(err, os.ErrExist) {
				return err
			}
		}
		// Another shard created it first: compare below.
	}
	old, err := Open(dir)
	if err != nil {
		return err
	}
	if d := old.Diff(s); d != "" {
		return fmt.Errorf("%s holds another sweep (%s); %s differs (folder vs file): %s; use a new --out folder", dir, rec, source, d)
	}
	return nil
}

// createRecord writes dir/sweep.yaml exclusively: the header and the file's text.
func createRecord(rec string, s *Sweep, source string) error {
	sum := sha256.Sum256(s.Source)
	var b bytes.Buffer
	fmt.Fprintf(&b, recordHeader, filepath.Base(source), hex.EncodeToString(sum[:]), time.Now().UTC().Format(time.RFC3339))
	b.Write(s.Source)
	return atomicfile.CreateExclusive(rec, b.Bytes())
}
