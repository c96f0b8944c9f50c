package data

import (
	"bytes"
	"image"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writePNG writes a w x h PNG of one grey value at path.
func writePNG(t *testing.T, path string, w, h int, v uint8) {
	t.Helper()
	img := image.NewGray(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = v
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestTamperedIndexCacheIsRebuilt: a cached index whose entries leave the
// split folder, or list a file under another class's label, is not trusted:
// the index is rebuilt from the folders, and the log says so.
func TestTamperedIndexCacheIsRebuilt(t *testing.T) {
	cases := []struct {
		name  string
		entry func(x *folderIndex) // rewrites entry 0 of a fresh index
	}{
		{"parent escape", func(x *folderIndex) { setEntry(x, 0, "a/../../outside.png", 0) }},
		{"absolute", func(x *folderIndex) { setEntry(x, 0, "/etc/outside.png", 0) }},
		{"other class's file", func(x *folderIndex) { setEntry(x, 0, "b/1.png", 0) }},
		{"unknown folder", func(x *folderIndex) { setEntry(x, 0, "zz/1.png", 0) }},
		{"dot segment", func(x *folderIndex) { setEntry(x, 0, "a/./0.png", 0) }},
		{"not an image", func(x *folderIndex) { setEntry(x, 0, "a/0.txt", 0) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			top := t.TempDir()
			root := filepath.Join(top, "data")
			writePNG(t, filepath.Join(top, "outside.png"), 4, 4, 250)
			for i, cls := range []string{"a", "b"} {
				for j := range 2 {
					writePNG(t, filepath.Join(root, cls, string(rune('0'+j))+".png"), 4, 4, uint8(50*i))
				}
			}
			classes := []string{"a", "b"}
			x, err := loadFolderIndex(root, classes, "", io.Discard, nil)
			if err != nil {
				t.Fatal(err)
			}
			want := x.rel(0)
			c.entry(x)
			if err := x.cache(cachePaths(root, ""), io.Discard); err != nil {
				t.Fatal(err)
			}
			var log bytes.Buffer
			y, err := loadFolderIndex(root, classes, "", &log, nil)
			if err != nil {
				t.Fatal(err)
			}
			for i := range y.len() {
				p := y.path(i)
				if !strings.HasPrefix(p, root+string(filepath.Separator)) || strings.Contains(y.rel(i), "..") {
					t.Fatalf("entry %d %q leaves %s", i, y.rel(i), root)
				}
				if !strings.HasPrefix(y.rel(i), classes[y.labels[i]]+"/") {
					t.Fatalf("entry %d %q labelled %s", i, y.rel(i), classes[y.labels[i]])
				}
			}
			if y.rel(0) != want {
				t.Fatalf("entry 0 is %q, want the rebuilt %q", y.rel(0), want)
			}
			if !strings.Contains(log.String(), "rebuilding") {
				t.Errorf("log does not say the index is rebuilt:\n%s", log.String())
			}
		})
	}
}

// setEntry replaces entry i of x by rel with label lab.
func setEntry(x *folderIndex, i int, rel string, lab int) {
	var names []string
	for j := range x.len() {
		names = append(names, x.rel(j))
	}
	names[i] = rel
	x.labels[i] = lab
	x.names, x.offs = "", []uint32{0}
	for _, n := range names {
		x.names += n
		x.offs = append(x.offs, uint32(len(x.names)))
	}
}
