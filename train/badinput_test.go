//go:build linux

package train

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/siam-ssl/siam/internal/jsonltest"
)

// mount mounts a tmpfs of the given size (e.g. "200k") at a new folder, read-only
// when ro, and unmounts it at the end of the test; it skips the test when
// mounting is not permitted (not root, or no CAP_SYS_ADMIN).
func mount(t *testing.T, size string, ro bool) string {
	t.Helper()
	dir := t.TempDir()
	var flags uintptr
	if ro {
		flags = syscall.MS_RDONLY
	}
	if err := syscall.Mount("tmpfs", dir, "tmpfs", flags, "size="+size); err != nil {
		t.Skipf("cannot mount a tmpfs (%v): skipping the simulated-disk test", err)
	}
	t.Cleanup(func() { syscall.Unmount(dir, syscall.MNT_DETACH) })
	return dir
}

// bindReadOnly makes one file read-only even for root (a read-only bind mount
// of the file onto itself) until the test ends; it skips when not permitted.
func bindReadOnly(t *testing.T, path string) {
	t.Helper()
	if err := syscall.Mount(path, path, "", syscall.MS_BIND, ""); err != nil {
		t.Skipf("cannot bind-mount %s (%v): skipping the read-only file test", path, err)
	}
	if err := syscall.Mount("", path, "", syscall.MS_BIND|syscall.MS_REMOUNT|syscall.MS_RDONLY, ""); err != nil {
		syscall.Unmount(path, 0)
		t.Skipf("cannot remount %s read-only (%v)", path, err)
	}
	t.Cleanup(func() { syscall.Unmount(path, syscall.MNT_DETACH) })
}

// oneLine fails unless err is a single clear line mentioning every want.
func oneLine(t *testing.T, err error, want ...string) {
	t.Helper()
	if err == nil {
		t.Fatal("no error")
	}
	if strings.Contains(err.Error(), "\n") {
		t.Errorf("error spans lines: %q", err)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q lacks %q", err, w)
		}
	}
	t.Log(err)
}

// intact checks that dir's checkpoint reads and loads at step want, with bytes
// equal to before (when before is non-nil), and that no temporary file is left.
func intact(t *testing.T, dir string, want int, before []byte) {
	t.Helper()
	_, ck, err := ReadCheckpointMeta(dir)
	if err != nil || ck.Step != want {
		t.Fatalf("checkpoint after the failure: %v, step %d (want %d)", err, ck.Step, want)
	}
	m, err := BuildModel(ck.Config, Input{Channels: 1, Size: 28})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := LoadCheckpoint(dir, m, nil); err != nil {
		t.Fatalf("checkpoint does not load: %v", err)
	}
	if before != nil {
		now, _ := os.ReadFile(filepath.Join(dir, CheckpointFile))
		if !bytes.Equal(now, before) {
			t.Error("the checkpoint changed")
		}
	}
	if tmp, _ := filepath.Glob(filepath.Join(dir, ".*.tmp-*")); len(tmp) > 0 {
		t.Errorf("temporary files left: %v", tmp)
	}
}

func TestUnwritableRunFolder(t *testing.T) {
	ro := mount(t, "1m", true)
	_, err := Run(context.Background(), tinyConfig(), RunOptions{Dir: filepath.Join(ro, "run")})
	oneLine(t, err, filepath.Join(ro, "run"), "read-only file system")
}

// TestFullDisk runs on a tmpfs just big enough for the first checkpoint: the next
// checkpoint cannot be written, the run stops with one error, the checkpoint of
// step 0 stays intact, and after space is freed the run resumes to the end.
func TestFullDisk(t *testing.T) {
	c := tinyConfig()
	c.Steps, c.CheckpointEvery, c.LogEvery = 6, 3, 1
	probe := filepath.Join(t.TempDir(), "probe")
	pc := c
	pc.Steps = 1
	if _, err := Run(context.Background(), pc, RunOptions{Dir: probe}); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(filepath.Join(probe, CheckpointFile))
	if err != nil {
		t.Fatal(err)
	}
	size := st.Size()*3/2 + 64<<10 // one checkpoint and the small files, not two checkpoints
	disk := mount(t, strconv.FormatInt(size, 10), false)
	dir := filepath.Join(disk, "run")
	_, err = Run(context.Background(), c, RunOptions{Dir: dir})
	oneLine(t, err, "no space left on device")
	if !strings.Contains(err.Error(), "last good checkpoint") && !strings.Contains(err.Error(), MetricsFile) && !strings.Contains(err.Error(), "tensorboard") {
		t.Errorf("the error should say what could not be written: %v", err)
	}
	intact(t, dir, 0, nil)
	// Free space (grow the tmpfs) and resume: the run completes.
	if err := syscall.Mount("tmpfs", disk, "tmpfs", syscall.MS_REMOUNT, "size=64m"); err != nil {
		t.Skipf("cannot grow the tmpfs: %v", err)
	}
	sum, err := Run(context.Background(), Config{}, RunOptions{Dir: dir, Resume: true})
	if err != nil || sum.Step != c.Steps {
		t.Fatalf("resume after freeing space: %v", err)
	}
	if n := len(jsonltest.Read(t, filepath.Join(dir, MetricsFile))); n != c.Steps {
		t.Errorf("%d metrics lines after the resume, want %d", n, c.Steps)
	}
}

// TestReadOnlyFiles: a run folder whose checkpoint or metrics file is read-only
// (even for root) fails on resume with one error naming the file, and the
// checkpoint is unchanged.
func TestReadOnlyFiles(t *testing.T) {
	for _, file := range []string{CheckpointFile, MetricsFile} {
		t.Run(file, func(t *testing.T) {
			c := tinyConfig()
			c.Steps, c.CheckpointEvery, c.LogEvery = 6, 2, 1
			dir := filepath.Join(t.TempDir(), "run")
			runInterrupted(t, c, dir, 3)
			before, _ := os.ReadFile(filepath.Join(dir, CheckpointFile))
			bindReadOnly(t, filepath.Join(dir, file))
			_, err := Run(context.Background(), Config{}, RunOptions{Dir: dir, Resume: true})
			oneLine(t, err, file)
			intact(t, dir, 3, before)
		})
	}
}
