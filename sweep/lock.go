package sweep

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/siam-ssl/siam/atomicfile"
)

// DefaultStaleAfter is how long a lock may go without a heartbeat before another
// host treats it as abandoned. Holders refresh it every DefaultStaleAfter/10.
const DefaultStaleAfter = 10 * time.Minute

// ErrBusy means another live process holds a run's lock.
var ErrBusy = errors.New("run is locked by another process")

// LockInfo is the content of a run's lock file, and its last heartbeat.
type LockInfo struct {
	PID     int       `json:"pid"`
	Host    string    `json:"host"`
	Started time.Time `json:"started"`
	// Heartbeat is the lock file's modification time, refreshed while held.
	Heartbeat time.Time `json:"-"`
}

// String names the holder: "pid 123 on node7 since 13:04:05".
func (l LockInfo) String() string {
	return fmt.Sprintf("pid %d on %s since %s", l.PID, l.Host, l.Started.Local().Format("2006-01-02 15:04:05"))
}

// Stale reports whether the lock's holder is gone, and why: on this host, when
// its process no longer exists; on another host, when the heartbeat is older than
// staleAfter.
func (l LockInfo) Stale(now time.Time, staleAfter time.Duration) (bool, string) {
	if l.Host == hostname() {
		if !processAlive(l.PID) {
			return true, fmt.Sprintf("process %d no longer exists on this host", l.PID)
		}
		return false, ""
	}
	if age := now.Sub(l.Heartbeat); age > staleAfter {
		return true, fmt.Sprintf("no heartbeat from %s for %s (over %s)", l.Host, age.Round(time.Second), staleAfter)
	}
	return false, ""
}

// processAlive reports whether a process with this pid exists on this host.
func processAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

var (
	hostOnce sync.Once
	hostName string
)

func hostname() string {
	hostOnce.Do(func() {
		h, err := os.Hostname()
		if err != nil || h == "" {
			h = "unknown-host"
		}
		hostName = h
	})
	return hostName
}

// ReadLock reads a lock file (os.ErrNotExist when there is none).
func ReadLock(path string) (LockInfo, error) {
	var l LockInfo
	st, err := os.Stat(path)
	if err != nil {
		return l, err
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return l, err
	}
	if err := json.Unmarshal(b, &l); err != nil {
		return l, fmt.Errorf("%s: malformed lock file: %w", path, err)
	}
	l.Heartbeat = st.ModTime()
	return l, nil
}

// Lock is a held run lock; Release it when done.
type Lock struct {
	path    string
	content []byte
	stop    chan struct{}
	done    chan struct{}
}

// Acquire takes the lock file at path: created exclusively (O_EXCL semantics via
// a hard link, so it is never seen half-written), holding this process's pid,
// host and start time. When it exists and its holder is alive, Acquire fails with
// an error wrapping ErrBusy that names the holder. When the holder is gone (see
// LockInfo.Stale) the lock is broken and taken: the breaker first creates
// path+".break" exclusively, so two processes never break the same lock, checks
// that the lock is unchanged, removes it and creates its own. A ".break" file
// older than staleAfter (its breaker died) is removed. While held, a goroutine
// refreshes the lock's modification time every staleAfter/10 as a heartbeat.
func Acquire(path string, staleAfter time.Duration) (*Lock, error) {
	if staleAfter <= 0 {
		staleAfter = DefaultStaleAfter
	}
	content, err := json.Marshal(LockInfo{PID: os.Getpid(), Host: hostname(), Started: time.Now().UTC()})
	if err != nil {
		return nil, err
	}
	for attempt := 0; attempt < 3; attempt++ {
		err := atomicfile.CreateExclusive(path, content)
		if err == nil {
			l := &Lock{path: path, content: content, stop: make(chan struct{}), done: make(chan struct{})}
			go l.heartbeat(staleAfter / 10)
			return l, nil
		}
		if !errors.Is(err, os.ErrExist) {
			return nil, err
		}
		info, err := ReadLock(path)
		if errors.Is(err, os.ErrNotExist) {
			continue // released meanwhile: try again
		}
		if err != nil {
			return nil, err
		}
		stale, why := info.Stale(time.Now(), staleAfter)
		if !stale {
			return nil, fmt.Errorf("%s: %w (%s)", path, ErrBusy, info)
		}
		if err := breakLock(path, info, staleAfter); err != nil {
			return nil, fmt.Errorf("%s: stale lock (%s): %w", path, why, err)
		}
	}
	return nil, fmt.Errorf("%s: %w (lock keeps changing)", path, ErrBusy)
}

// breakLock removes a stale lock whose content is still info, guarded by an
// exclusive path+".break" file.
func breakLock(path string, info LockInfo, staleAfter time.Duration) error {
	brk := path + ".break"
	if st, err := os.Stat(brk); err == nil && time.Since(st.ModTime()) > staleAfter {
		os.Remove(brk) // a breaker died while breaking
	}
	if err := atomicfile.CreateExclusive(brk, nil); err != nil {
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("%w (another process is breaking it)", ErrBusy)
		}
		return err
	}
	defer os.Remove(brk)
	now, err := ReadLock(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if now.PID != info.PID || now.Host != info.Host || !now.Started.Equal(info.Started) {
		return fmt.Errorf("%w (%s)", ErrBusy, now)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

func (l *Lock) heartbeat(every time.Duration) {
	defer close(l.done)
	if every < time.Second {
		every = time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case now := <-t.C:
			os.Chtimes(l.path, now, now)
		}
	}
}

// Release stops the heartbeat and removes the lock file if it is still this
// lock (a lock broken and retaken by another process is left alone).
func (l *Lock) Release() {
	if l == nil {
		return
	}
	close(l.stop)
	<-l.done
	if b, err := os.ReadFile(l.path); err == nil && string(b) == string(l.content) {
		os.Remove(l.path)
	}
}

// removeLockOf removes dir's lock when a (dead) process pid on this host holds it:
// the scheduler cleans up after a child that was killed.
func removeLockOf(runDir string, pid int) {
	p := filepath.Join(runDir, LockFile)
	if info, err := ReadLock(p); err == nil && info.PID == pid && info.Host == hostname() {
		os.Remove(p)
	}
}
