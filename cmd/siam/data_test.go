package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	"image/jpeg"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// jpegTree writes root/train/<class>/<i>.jpg and root/val/<class>/<i>.jpg.
func jpegTree(t *testing.T, classes, train, val int) string {
	t.Helper()
	root := t.TempDir()
	for split, n := range map[string]int{"train": train, "val": val} {
		for c := range classes {
			for i := range n {
				img := image.NewRGBA(image.Rect(0, 0, 30+i%9, 26+i%5))
				for p := 0; p < len(img.Pix); p += 4 {
					img.Pix[p], img.Pix[p+1], img.Pix[p+2], img.Pix[p+3] = uint8(90*c), uint8(p), uint8(i*3), 255
				}
				var b bytes.Buffer
				jpeg.Encode(&b, img, nil)
				p := filepath.Join(root, split, fmt.Sprintf("c%d", c), fmt.Sprintf("%d.jpg", i))
				os.MkdirAll(filepath.Dir(p), 0o755)
				if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	return root
}

func TestDataPackAndBench(t *testing.T) {
	root := jpegTree(t, 2, 15, 3)
	out := filepath.Join(t.TempDir(), "shards")
	stdout, err := runCLI("data", "pack", root, "--out", out, "--shard-size", "16KB", "--resize", "28")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout, "train: 30 images") || !strings.Contains(stdout, "val: 6 images") ||
		!strings.Contains(stdout, out+"/train-{000000..") {
		t.Fatalf("pack output:\n%s", stdout)
	}
	for _, spec := range []string{root, filepath.Join(out, "train-*.tar")} {
		stdout, err = runCLI("bench", "data", "--data", spec, "--size", "24", "--duration", "100ms", "--batch", "8", "--workers", "2")
		if err != nil {
			t.Fatal(err)
		}
		var rec map[string]any
		if err := json.Unmarshal([]byte(stdout), &rec); err != nil {
			t.Fatalf("%v: %q", err, stdout)
		}
		if rec["images_per_s"].(float64) <= 0 || rec["streamed"] != true || rec["n"].(float64) != 30 {
			t.Fatalf("bench data: %v", rec)
		}
	}
}

func TestDataCommandsFail(t *testing.T) {
	root := jpegTree(t, 2, 3, 0)
	os.MkdirAll(filepath.Join(root, "train", "c9"), 0o755) // an empty class folder
	full := t.TempDir()
	os.WriteFile(filepath.Join(full, "x"), []byte("x"), 0o644)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"data", "pack", root, "--out", t.TempDir() + "/o"}, "no image files"},
		{[]string{"data", "pack", root, "--out", full}, "not empty"},
		{[]string{"data", "pack", root, "--out", t.TempDir() + "/o", "--shard-size", "lots"}, "--shard-size"},
		{[]string{"bench", "data", "--data", filepath.Join(full, "none-*.tar")}, "matches no file"},
		{[]string{"train", "--data", filepath.Join(full, "s-{0..3}.tar"), "--out", t.TempDir() + "/r", "--steps", "2"}, "no such file"},
		{[]string{"train", "--data", root, "--out", t.TempDir() + "/r", "--steps", "2", "--size", "16"}, "no image files"},
		{[]string{"train", "--out", t.TempDir() + "/r", "--order", "single", "--shuffle-buffer", "10"}, "multi only"},
	} {
		_, err := runCLI(tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%v: error %v, want one line containing %q", tc.args, err, tc.want)
		}
	}
}
