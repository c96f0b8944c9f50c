package data

import (
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeImage writes a solid-colour w x h image as PNG or JPEG (by extension).
func writeImage(t *testing.T, path string, w, h int, c color.RGBA) {
	t.Helper()
	os.MkdirAll(filepath.Dir(path), 0o755)
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := 0; i < w*h; i++ {
		copy(img.Pix[4*i:], []byte{c.R, c.G, c.B, c.A})
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if strings.HasSuffix(path, ".png") {
		err = png.Encode(f, img)
	} else {
		err = jpeg.Encode(f, img, &jpeg.Options{Quality: 95})
	}
	if err != nil {
		t.Fatal(err)
	}
}

var (
	red  = color.RGBA{220, 20, 20, 255}
	blue = color.RGBA{10, 30, 200, 255}
)

func TestImageFolderSplits(t *testing.T) {
	root := t.TempDir()
	writeImage(t, filepath.Join(root, "train", "cat", "a.png"), 40, 30, red)
	writeImage(t, filepath.Join(root, "train", "cat", "b.JPG"), 17, 50, red)
	writeImage(t, filepath.Join(root, "train", "dog", "c.jpeg"), 64, 64, blue)
	os.WriteFile(filepath.Join(root, "train", "dog", "notes.txt"), []byte("ignored"), 0o644)
	writeImage(t, filepath.Join(root, "val", "dog", "d.png"), 8, 8, blue)

	train, test, err := OpenWith(root, OpenOptions{ImageSize: 16})
	if err != nil {
		t.Fatal(err)
	}
	if train.N != 3 || test.N != 1 || train.Classes != 2 || test.Classes != 2 || train.H != 16 || train.C != 3 {
		t.Fatalf("train N=%d classes=%d H=%d, test N=%d", train.N, train.Classes, train.H, test.N)
	}
	if train.ClassNames[0] != "cat" || train.Labels[2] != 1 || test.Labels[0] != 1 {
		t.Fatalf("labels %v / %v names %v", train.Labels, test.Labels, train.ClassNames)
	}
	for i, want := range []color.RGBA{red, red, blue} {
		img := train.Image(i)
		for c, v := range []uint8{want.R, want.G, want.B} {
			if got := img[c*256+100]; absDiff(got, v) > 6 {
				t.Errorf("image %d channel %d = %d, want about %d", i, c, got, v)
			}
		}
	}
}

func absDiff(a, b uint8) int {
	if a > b {
		return int(a - b)
	}
	return int(b - a)
}

func TestImageFolderRootOnly(t *testing.T) {
	root := t.TempDir()
	writeImage(t, filepath.Join(root, "a", "1.png"), 5, 5, red)
	writeImage(t, filepath.Join(root, "b", "2.png"), 5, 5, blue)
	train, test, err := LoadImageFolder(root, ImageFolderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if test != nil || train.N != 2 || train.H != DefaultImageSize {
		t.Fatalf("train %d test %v", train.N, test)
	}
}

func TestImageFolderErrors(t *testing.T) {
	tests := []struct {
		name    string
		build   func(root string)
		wantErr string
	}{
		{"empty class", func(root string) {
			writeImage(t, filepath.Join(root, "train", "a", "1.png"), 5, 5, red)
			os.MkdirAll(filepath.Join(root, "train", "empty"), 0o755)
		}, filepath.Join("train", "empty") + " has no .jpg"},
		{"corrupt file", func(root string) {
			writeImage(t, filepath.Join(root, "train", "a", "1.png"), 5, 5, red)
			os.WriteFile(filepath.Join(root, "train", "a", "2.jpg"), []byte("not a jpeg"), 0o644)
		}, filepath.Join("a", "2.jpg") + ": cannot decode"},
		{"unknown val class", func(root string) {
			writeImage(t, filepath.Join(root, "train", "a", "1.png"), 5, 5, red)
			writeImage(t, filepath.Join(root, "val", "zebra", "1.png"), 5, 5, red)
		}, `"zebra" is not among the train classes`},
		{"no classes", func(root string) {
			os.MkdirAll(filepath.Join(root, "train"), 0o755)
		}, "no class folders"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			tc.build(root)
			_, _, err := LoadImageFolder(root, ImageFolderOptions{Size: 8})
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want %q", err, tc.wantErr)
			}
		})
	}
}
