package tbevent

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Writer appends events to one event file. Each event is one write in append
// mode, so TensorBoard sees it at once and a crash loses at most the event being
// written (TensorBoard stops at a truncated last record).
type Writer struct {
	f    *os.File
	path string
}

// Create makes dir if needed and starts a new event file in it named
// events.out.tfevents.<unix seconds>.<host>, as TensorFlow names them (".<pid>"
// and then ".<n>" are added when that name is taken, e.g. by a resume within the
// same second), and writes its file_version record.
func Create(dir string, now time.Time) (*Writer, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("tensorboard: %w", err)
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "localhost"
	}
	host = strings.Map(func(r rune) rune {
		if r == '/' || r == '\\' || r < ' ' {
			return '_'
		}
		return r
	}, host)
	base := fmt.Sprintf("events.out.tfevents.%d.%s", now.Unix(), host)
	var f *os.File
	var path string
	for i := 0; ; i++ {
		path = filepath.Join(dir, base)
		if i > 0 {
			path += fmt.Sprintf(".%d.%d", os.Getpid(), i)
		}
		f, err = os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY|os.O_APPEND, 0o644)
		if err == nil {
			break
		}
		if !errors.Is(err, os.ErrExist) || i >= 100 {
			return nil, fmt.Errorf("tensorboard: %w", err)
		}
	}
	w := &Writer{f: f, path: path}
	if err := w.Write(&Event{WallTime: wall(now), FileVersion: FileVersion}); err != nil {
		f.Close()
		os.Remove(path)
		return nil, err
	}
	return w, nil
}

// Path returns the event file's path.
func (w *Writer) Path() string { return w.path }

// Write appends one event as a record.
func (w *Writer) Write(e *Event) error {
	if _, err := w.f.Write(AppendRecord(nil, e.Marshal())); err != nil {
		return fmt.Errorf("tensorboard: %w", err)
	}
	return nil
}

// Scalars writes one event at step holding a scalar per entry of values (tags
// sorted, so files are reproducible). NaN and ±Inf are written as they are
// (TensorBoard shows them).
func (w *Writer) Scalars(step int64, now time.Time, values map[string]float64) error {
	e := &Event{WallTime: wall(now), Step: step}
	for _, tag := range slices.Sorted(maps.Keys(values)) {
		e.Values = append(e.Values, Value{Tag: tag, Scalar: float32(values[tag])})
	}
	return w.Write(e)
}

// Histogram writes one event at step holding the histogram h under tag.
func (w *Writer) Histogram(step int64, now time.Time, tag string, h *Histogram) error {
	return w.Write(&Event{WallTime: wall(now), Step: step, Values: []Value{{Tag: tag, Histo: h}}})
}

// Start writes a SessionLog START event at step: TensorBoard then drops the
// events of earlier files at steps >= step (a resumed run redoes them).
func (w *Writer) Start(step int64, now time.Time, msg string) error {
	return w.Write(&Event{WallTime: wall(now), Step: step, Session: SessionStart, SessionMsg: msg})
}

// Sync flushes the file to stable storage.
func (w *Writer) Sync() error {
	if err := w.f.Sync(); err != nil {
		return fmt.Errorf("tensorboard: %w", err)
	}
	return nil
}

// Close closes the file.
func (w *Writer) Close() error {
	if err := w.f.Close(); err != nil {
		return fmt.Errorf("tensorboard: %w", err)
	}
	return nil
}

// wall is t as fractional Unix seconds (microsecond resolution, as TensorFlow).
func wall(t time.Time) float64 { return float64(t.UnixMicro()) / 1e6 }
