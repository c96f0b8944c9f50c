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
	killed := false
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
wait:
	for {
		select {
		case err = <-done:
			break wait
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
