package main

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"image"
	"image/jpeg"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/siam-ssl/siam/nn"
	"github.com/siam-ssl/siam/runlock"
	"github.com/siam-ssl/siam/tensor"
	"github.com/siam-ssl/siam/train"
)

// pngBomb returns a valid-looking PNG of a few hundred bytes whose header
// claims w x h pixels (the IHDR is patched after encoding a tiny image).
func pngBomb(t testing.TB, w, h int) []byte {
	t.Helper()
	var b bytes.Buffer
	img := image.NewNRGBA(image.Rect(0, 0, 8, 8)) // translucent: an RGBA PNG, 4 bytes a pixel decoded
	for i := range img.Pix {
		img.Pix[i] = uint8(i)
	}
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	raw := b.Bytes()
	// signature (8) | length (4) "IHDR" width height ... crc
	binary.BigEndian.PutUint32(raw[16:], uint32(w))
	binary.BigEndian.PutUint32(raw[20:], uint32(h))
	binary.BigEndian.PutUint32(raw[29:], crc32.ChecksumIEEE(raw[12:29]))
	return raw
}

// jpegBomb returns a small baseline JPEG whose SOF0 header claims w x h pixels.
func jpegBomb(t testing.TB, w, h int) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, image.NewRGBA(image.Rect(0, 0, 16, 16)), nil); err != nil {
		t.Fatal(err)
	}
	raw := b.Bytes()
	i := bytes.Index(raw, []byte{0xff, 0xc0})
	if i < 0 {
		t.Fatal("no SOF0 marker")
	}
	// ff c0 | length (2) | precision (1) | height (2) | width (2)
	binary.BigEndian.PutUint16(raw[i+5:], uint16(h))
	binary.BigEndian.PutUint16(raw[i+7:], uint16(w))
	return raw
}

// siamExec runs the siam command (this test binary, SIAM_TEST_MAIN=1) as a
// child process with extra environment entries, killing it when its resident
// memory exceeds maxRSS bytes (0: no limit). It returns the combined output,
// the exit error, the peak RSS in bytes and the wall time.
func siamExec(t *testing.T, env []string, maxRSS int64, args ...string) (out string, err error, peak int64, wall time.Duration) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, args...)
	cmd.Env = append(append(os.Environ(), "SIAM_TEST_MAIN=1"), env...)
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	killed, late := false, false
	deadline := time.After(60 * time.Second)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
wait:
	for {
		select {
		case err = <-done:
			break wait
		case <-deadline:
			late = true
			cmd.Process.Kill()
		case <-tick.C:
			if maxRSS > 0 && !killed && procRSS(cmd.Process.Pid) > maxRSS {
				killed = true
				cmd.Process.Kill()
			}
		}
	}
	wall = time.Since(t0)
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		peak = ru.Maxrss * 1024
	}
	if late {
		t.Errorf("siam %s: killed after 60 s", strings.Join(args, " "))
	}
	if killed {
		t.Errorf("siam %s: killed after its memory exceeded %d MB", strings.Join(args, " "), maxRSS>>20)
	}
	return buf.String(), err, peak, wall
}

// procRSS returns the resident set size of a process in bytes (0 if unknown).
func procRSS(pid int) int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// TestTrainRefusesDecompressionBombs: an ImageFolder tree with PNG and JPEG
// files whose headers claim huge sizes trains (the bombs are skipped with a
// warning) in the in-memory path, without the memory of the claimed pixels.
func TestTrainRefusesDecompressionBombs(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the siam command")
	}
	cases := []struct {
		name, file string
		raw        []byte
		stream     string
	}{
		{"png 65535x65535", "bomb.png", pngBomb(t, 65535, 65535), "auto"},
		{"jpeg 65500x65500", "bomb.jpg", jpegBomb(t, 65500, 65500), "auto"},
		{"png 20000x20000 never streamed", "bomb.png", pngBomb(t, 20000, 20000), "never"},
		{"jpeg 20000x20000 never streamed", "bomb.jpg", jpegBomb(t, 20000, 20000), "never"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			root := jpegTree(t, 2, 6, 0)
			os.RemoveAll(filepath.Join(root, "val"))
			for i := range 3 { // several: the heap then reuses (and zeroes) a freed bomb's span
				if err := os.WriteFile(filepath.Join(root, "train", fmt.Sprintf("c%d", i%2), fmt.Sprint(i)+c.file), c.raw, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			out := filepath.Join(t.TempDir(), "run")
			stdout, err, peak, wall := siamExec(t, nil, 200<<20, "train", "--data", root, "--stream", c.stream,
				"--out", out, "--steps", "1", "--batch", "4", "--width", "4", "--size", "16", "--workers", "1")
			t.Logf("%s: peak RSS %.1f MB, %.2f s\n%s", c.name, float64(peak)/(1<<20), wall.Seconds(), stdout)
			if err != nil {
				t.Fatalf("train: %v\n%s", err, stdout)
			}
			if !strings.Contains(stdout, c.file) || !strings.Contains(stdout, "pixels") {
				t.Errorf("no warning naming %s and its size:\n%s", c.file, stdout)
			}
			if peak > 200<<20 || wall > 10*time.Second {
				t.Errorf("peak RSS %d MB, %s: want < 200 MB, < 10 s", peak>>20, wall)
			}
		})
	}
}

// startSiam starts the siam command (this test binary) in the background; its
// output goes to a buffer read after Wait.
func startSiam(t *testing.T, args ...string) (*exec.Cmd, *bytes.Buffer) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, args...)
	cmd.Env = append(os.Environ(), "SIAM_TEST_MAIN=1")
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	return cmd, &buf
}

// waitFile waits up to 30 s for path to exist.
func waitFile(t *testing.T, path string) {
	t.Helper()
	for t0 := time.Now(); time.Since(t0) < 30*time.Second; time.Sleep(20 * time.Millisecond) {
		if _, err := os.Stat(path); err == nil {
			return
		}
	}
	t.Fatalf("%s did not appear", path)
}

// TestOneWriterPerRunFolder: while `siam train` trains a folder, a second
// `train --out` of the same folder and a `train --resume` of it fail with
// one error naming the first process's pid, and change nothing; the first
// run then stops (Ctrl-C) and resumes normally.
func TestOneWriterPerRunFolder(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the siam command")
	}
	out := filepath.Join(t.TempDir(), "run")
	a, aOut := startSiam(t, "train", "--out", out, "--steps", "100000", "--batch", "8", "--width", "4",
		"--checkpoint-every", "0", "--log-every", "1", "--workers", "1")
	waitFile(t, filepath.Join(out, "metrics.jsonl"))
	cfgBefore, _ := os.ReadFile(filepath.Join(out, "config.yaml"))
	pid := fmt.Sprintf("pid %d", a.Process.Pid)
	for _, c := range []struct {
		name string
		args []string
	}{
		{"second train --out", []string{"train", "--out", out, "--steps", "7", "--seed", "9", "--width", "4"}},
		{"train --resume", []string{"train", "--resume", out}},
	} {
		t.Run(c.name, func(t *testing.T) {
			stdout, err, _, _ := siamExec(t, nil, 0, c.args...)
			if err == nil || !strings.Contains(stdout, pid) {
				t.Fatalf("want an error naming %s, got %v:\n%s", pid, err, stdout)
			}
			if n := strings.Count(strings.TrimSpace(stdout), "\n"); n > 0 {
				t.Errorf("want one error line, got:\n%s", stdout)
			}
		})
	}
	if cfg, _ := os.ReadFile(filepath.Join(out, "config.yaml")); !bytes.Equal(cfg, cfgBefore) {
		t.Fatalf("config.yaml changed under the running train:\n%s", cfg)
	}
	a.Process.Signal(os.Interrupt)
	if err := a.Wait(); err == nil || a.ProcessState.ExitCode() != 130 {
		t.Fatalf("interrupted train: %v (exit %d)\n%s", err, a.ProcessState.ExitCode(), aOut)
	}
	if _, err := os.Stat(filepath.Join(out, "lock")); !os.IsNotExist(err) {
		t.Fatalf("lock left behind after the run ended: %v", err)
	}
}

// TestConcurrentTrainSameFolder: two `siam train --out SAME` started together:
// never both succeed (the loser fails with one error), and the folder holds
// one run's files.
func TestConcurrentTrainSameFolder(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the siam command")
	}
	out := filepath.Join(t.TempDir(), "run")
	args := func(seed string) []string {
		return []string{"train", "--out", out, "--steps", "30", "--batch", "8", "--width", "4", "--seed", seed, "--log-every", "1", "--workers", "1"}
	}
	a, aOut := startSiam(t, args("1")...)
	b, bOut := startSiam(t, args("2")...)
	errA, errB := a.Wait(), b.Wait()
	if (errA == nil) == (errB == nil) {
		t.Fatalf("want exactly one success: a %v\n%s\nb %v\n%s", errA, aOut, errB, bOut)
	}
	loser := bOut
	if errA != nil {
		loser = aOut
	}
	if !strings.Contains(loser.String(), "pid ") && !strings.Contains(loser.String(), "not empty") {
		t.Errorf("the second run's error does not say why:\n%s", loser)
	}
	lines, _ := os.ReadFile(filepath.Join(out, "metrics.jsonl"))
	if n := strings.Count(string(lines), "\n"); n != 30 {
		t.Errorf("metrics.jsonl has %d lines, want 30 (one run's)", n)
	}
}

// TestRunFolderLockAndTemporaries: `train --resume` of a folder whose lock a
// sweep (here this process) holds fails naming the holder's pid and touches
// nothing; once it owns the folder, a resume removes the temporary files a
// killed process left (and keeps the lock's).
func TestRunFolderLockAndTemporaries(t *testing.T) {
	cases := []struct {
		name     string
		locked   bool
		wantErr  string
		tmpGone  bool
		tmpNames []string
	}{
		{"held by a sweep", true, fmt.Sprintf("pid %d", os.Getpid()), false, []string{".checkpoint.safetensors.tmp-123"}},
		{"stale temporaries", false, "", true, []string{".checkpoint.safetensors.tmp-123", ".config.yaml.tmp-9"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := copyRun(t)
			for _, n := range c.tmpNames {
				if err := os.WriteFile(filepath.Join(dir, n), []byte("torn"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if c.locked {
				l, err := runlock.Acquire(filepath.Join(dir, runlock.FileName), 0)
				if err != nil {
					t.Fatal(err)
				}
				defer l.Release()
			}
			_, err := runCLI("train", "--resume", dir)
			if c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)) {
				t.Fatalf("want an error naming %s, got %v", c.wantErr, err)
			}
			if c.wantErr == "" && err != nil {
				t.Fatal(err)
			}
			for _, n := range c.tmpNames {
				_, serr := os.Stat(filepath.Join(dir, n))
				if gone := os.IsNotExist(serr); gone != c.tmpGone {
					t.Errorf("%s gone: %v, want %v", n, gone, c.tmpGone)
				}
			}
		})
	}
}

// TestCheckpointIndependentOfWorkers: the same seed trained with different
// --workers (at one GOMAXPROCS) gives byte-identical checkpoints: sampling and
// augmentation are pure functions of (seed, step, index), and the worker
// count, which cannot change a result, is not part of the stored config.
func TestCheckpointIndependentOfWorkers(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the siam command")
	}
	var first []byte
	for _, w := range []string{"1", "2", "3"} {
		out := filepath.Join(t.TempDir(), "run")
		stdout, err, _, _ := siamExec(t, []string{"GOMAXPROCS=2"}, 0, "train", "--out", out, "--steps", "3", "--batch", "32",
			"--width", "4", "--checkpoint-every", "0", "--workers", w)
		if err != nil {
			t.Fatalf("--workers %s: %v\n%s", w, err, stdout)
		}
		b, err := os.ReadFile(filepath.Join(out, "checkpoint.safetensors"))
		if err != nil {
			t.Fatal(err)
		}
		if first == nil {
			first = b
		} else if !bytes.Equal(b, first) {
			t.Errorf("--workers %s: checkpoint differs from --workers 1", w)
		}
	}
}

// TestZeroIsNotADefault: a zero that used to mean "the default" silently
// (eval knn --k 0 ran with 200, --temperature 0 with 0.1, eval linear
// --epochs 0 with 90) is one clear error naming the flag.
func TestZeroIsNotADefault(t *testing.T) {
	run, _ := fixture(t)
	cases := []struct {
		args []string
		flag string
	}{
		{[]string{"eval", "knn", "--k", "0"}, "--k"},
		{[]string{"eval", "knn", "--max-k", "0"}, "--max-k"},
		{[]string{"eval", "knn", "--temperature", "0"}, "--temperature"},
		{[]string{"eval", "knn", "--temperature", "NaN"}, "--temperature"},
		{[]string{"eval", "linear", "--epochs", "0"}, "--epochs"},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			_, err := runCLI(append(c.args, "--checkpoint", run)...)
			if err == nil || !strings.Contains(err.Error(), c.flag) {
				t.Fatalf("want an error naming %s, got %v", c.flag, err)
			}
		})
	}
}

// TestImpossibleCheckpointStep: a checkpoint whose metadata claims a step
// past the run's configured steps (step 500 of 5) is refused naming the
// step, not taken as a finished run.
func TestImpossibleCheckpointStep(t *testing.T) {
	cases := []struct {
		step string
		ok   bool
	}{{"5", true}, {"6", false}, {"500", false}}
	for _, c := range cases {
		t.Run("step "+c.step, func(t *testing.T) {
			dir := copyRun(t)
			p := filepath.Join(dir, train.CheckpointFile)
			ts, meta, err := nn.LoadTensors(p)
			if err != nil {
				t.Fatal(err)
			}
			meta["step"] = c.step
			var list []*tensor.Tensor
			for _, v := range ts {
				list = append(list, v)
			}
			if err := nn.SaveTensors(p, list, meta); err != nil {
				t.Fatal(err)
			}
			_, err = runCLI("train", "--resume", dir)
			if c.ok != (err == nil) || (!c.ok && !strings.Contains(err.Error(), c.step)) {
				t.Fatalf("step %s: %v", c.step, err)
			}
		})
	}
}

// TestCheckpointIntegrity: flipped bytes in a checkpoint's tensor data are
// found on every read (resume, eval), naming the damaged tensor; an intact
// checkpoint reads.
func TestCheckpointIntegrity(t *testing.T) {
	cases := []struct {
		name  string
		flips int
		args  func(dir string) []string
	}{
		{"resume intact", 0, func(d string) []string { return []string{"train", "--resume", d} }},
		{"resume damaged", 20, func(d string) []string { return []string{"train", "--resume", d} }},
		{"eval damaged", 20, func(d string) []string { return []string{"eval", "knn", "--checkpoint", d} }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := copyRun(t)
			p := filepath.Join(dir, train.CheckpointFile)
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			hlen := int(binary.LittleEndian.Uint64(b))
			for i := range c.flips { // inside the tensor data, past the header
				b[8+hlen+(i*7919)%(len(b)-8-hlen)] ^= 0x40
			}
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
			_, err = runCLI(c.args(dir)...)
			if c.flips == 0 && err != nil {
				t.Fatal(err)
			}
			if c.flips > 0 && (err == nil || !strings.Contains(err.Error(), "does not match its checksum")) {
				t.Fatalf("want a checksum error, got %v", err)
			}
		})
	}
}

// TestResumeRefusesEditedConfig: resuming after seed, lr, order or steps was
// edited in config.yaml is refused naming the key (the checkpoint keeps the
// configuration it was trained with); workers may change.
func TestResumeRefusesEditedConfig(t *testing.T) {
	cases := []struct {
		key, from, to string
		ok            bool
	}{
		{"seed", "seed: 1\n", "seed: 7\n", false},
		{"lr", "lr: 0.5\n", "lr: 0.25\n", false},
		{"order", "order: multi\n", "order: single\n", false},
		{"steps", "steps: 5\n", "steps: 50\n", false},
		{"workers", "workers: 1\n", "workers: 2\n", true},
	}
	for _, c := range cases {
		t.Run(c.key, func(t *testing.T) {
			dir := copyRun(t)
			p := filepath.Join(dir, train.ConfigFile)
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Contains(b, []byte(c.from)) {
				t.Fatalf("config.yaml lacks %q:\n%s", c.from, b)
			}
			os.WriteFile(p, bytes.Replace(b, []byte(c.from), []byte(c.to), 1), 0o644)
			_, err = runCLI("train", "--resume", dir)
			if c.ok != (err == nil) || (!c.ok && !strings.Contains(err.Error(), c.key+":")) {
				t.Fatalf("edited %s: %v", c.key, err)
			}
		})
	}
}
