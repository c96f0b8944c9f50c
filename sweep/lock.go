package sweep

import (
	"os"
	"path/filepath"
	"time"

	"github.com/siam-ssl/siam/runlock"
)

// The per-run lock is package runlock's, shared with plain `siam train` runs so
// that a sweep and a train --resume never train one folder together.

// DefaultStaleAfter is how long a lock may go without a heartbeat before another
// host treats it as abandoned (runlock.DefaultStaleAfter).
const DefaultStaleAfter = runlock.DefaultStaleAfter

// ErrBusy means another live process holds a run's lock (runlock.ErrBusy).
var ErrBusy = runlock.ErrBusy

// LockInfo is the content of a run's lock file, and its last heartbeat.
type LockInfo = runlock.Info

// Lock is a held run lock; Release it when done.
type Lock = runlock.Lock

// ReadLock reads a lock file (os.ErrNotExist when there is none).
func ReadLock(path string) (LockInfo, error) { return runlock.Read(path) }

// Acquire takes the lock file at path (see runlock.Acquire).
func Acquire(path string, staleAfter time.Duration) (*Lock, error) {
	return runlock.Acquire(path, staleAfter)
}

func hostname() string { return runlock.Hostname() }

func procStart(pid int) uint64 { return runlock.ProcStart(pid) }

// removeLockOf removes dir's lock when a (dead) process pid on this host holds it:
// the scheduler cleans up after a child that was killed.
func removeLockOf(runDir string, pid int) {
	p := filepath.Join(runDir, LockFile)
	if info, err := ReadLock(p); err == nil && info.PID == pid && info.Host == hostname() {
		os.Remove(p)
	}
}
