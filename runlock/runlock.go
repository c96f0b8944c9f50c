// Package runlock gives a run folder one owner: a lock file (RUN/lock) created
// exclusively, naming the holder's pid, host and start time, refreshed by a
// heartbeat and broken only when its holder is gone. Plain `siam train` runs
// and sweep runs take the same lock, so one process trains a folder at a time.
package runlock

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/siam-ssl/siam/atomicfile"
)

// FileName is the lock file of a run folder, RUN/lock.
const FileName = "lock"

// DefaultStaleAfter is how long a lock may go without a heartbeat before another
// host treats it as abandoned. Holders refresh it every DefaultStaleAfter/10.
const DefaultStaleAfter = 10 * time.Minute

// ErrBusy means another live process holds a run's lock.
var ErrBusy = errors.New("run is locked by another process")

// Info is the content of a run's lock file, and its last heartbeat.
type Info struct {
	PID     int       `json:"pid"`
	Host    string    `json:"host"`
	Started time.Time `json:"started"`
	// ProcStart is the holder's start time in clock ticks since boot
	// (/proc/PID/stat), which tells a reused pid from the holder; 0 when unknown.
	ProcStart uint64 `json:"proc_start,omitempty"`
	// Heartbeat is the lock file's modification time, refreshed while held.
	Heartbeat time.Time `json:"-"`
}

// String names the holder: "pid 123 on node7 since 13:04:05".
func (l Info) String() string {
	return fmt.Sprintf("pid %d on %s since %s", l.PID, l.Host, l.Started.Local().Format("2006-01-02 15:04:05"))
}

// Stale reports whether the lock's holder is gone, and why: on any host, when the
// heartbeat is older than staleAfter; on this host also when its process no longer
// exists, or when its pid now belongs to a process started at another time (a
// restarted container reuses pids).
func (l Info) Stale(now time.Time, staleAfter time.Duration) (bool, string) {
	if l.Host == Hostname() {
		if !processAlive(l.PID) {
			return true, fmt.Sprintf("process %d no longer exists on this host", l.PID)
		}
		if st := ProcStart(l.PID); l.ProcStart != 0 && st != 0 && st != l.ProcStart {
			return true, fmt.Sprintf("pid %d is now another process", l.PID)
		}
	}
	if age := now.Sub(l.Heartbeat); age > staleAfter {
		return true, fmt.Sprintf("no heartbeat from %s for %s (over %s)", l.Host, age.Round(time.Second), staleAfter)
	}
	return false, ""
}

// ProcStart returns a process's start time in clock ticks since boot, field 22
// of /proc/PID/stat (0 where there is no /proc).
func ProcStart(pid int) uint64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	i := bytes.LastIndexByte(b, ')') // the command name may hold spaces and ')'
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 {
		return 0
	}
	v, _ := strconv.ParseUint(f[19], 10, 64)
	return v
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

// Hostname returns this host's name as locks record it ("unknown-host" when
// the system does not say).
func Hostname() string {
	hostOnce.Do(func() {
		h, err := os.Hostname()
		if err != nil || h == "" {
			h = "unknown-host"
		}
		hostName = h
	})
	return hostName
}

// Read reads a lock file (os.ErrNotExist when there is none).
func Read(path string) (Info, error) {
	var l Info
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
// Info.Stale) the lock is broken and taken: the breaker first creates
// path+".break" exclusively, so two processes never break the same lock, checks
// that the lock is unchanged, removes it and creates its own. A ".break" file
// older than staleAfter (its breaker died) is removed. While held, a goroutine
// refreshes the lock's modification time every staleAfter/10 as a heartbeat.
func Acquire(path string, staleAfter time.Duration) (*Lock, error) {
	if staleAfter <= 0 {
		staleAfter = DefaultStaleAfter
	}
	content, err := json.Marshal(Info{PID: os.Getpid(), Host: Hostname(), Started: time.Now().UTC(), ProcStart: ProcStart(os.Getpid())})
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
		info, err := Read(path)
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
func breakLock(path string, info Info, staleAfter time.Duration) error {
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
	now, err := Read(path)
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
