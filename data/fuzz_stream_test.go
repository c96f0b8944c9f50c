package data

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzShardIndex feeds arbitrary bytes to the tar shard reader: it must
// return an error or samples that lie inside the file, never panic.
func FuzzShardIndex(f *testing.F) {
	img := string(tinyJPEG(8, 8, classColours[1], 2))
	f.Add(tarOf(f, "a.jpg", img, "a.cls", "1"))
	f.Add(tarOf(f, "d/a.jpg", img, "d/a.cls", "2", "d/a.json", "{}", "b.png", "x", "b.cls", " 0\n"))
	f.Add(tarOf(f, "a.jpg", img))
	f.Add(tarOf(f, "a.cls", "7"))
	f.Add(tarOf(f, "a.jpg", img, "a.cls", "1")[:600])
	f.Add([]byte{})
	f.Add(make([]byte, 1024))
	f.Fuzz(func(t *testing.T, b []byte) {
		samples, err := indexTar(bytes.NewReader(b), "fuzz.tar")
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("multi-line error %q", err)
			}
			return
		}
		if len(samples) == 0 {
			t.Fatal("no samples and no error")
		}
		for _, s := range samples {
			if s.off < 0 || s.size < 0 || s.off+s.size > int64(len(b)) || s.label < 0 {
				t.Fatalf("sample %+v outside a %d-byte file", s, len(b))
			}
		}
	})
}

// FuzzExpandBraces checks the brace-range parser on arbitrary patterns:
// bounded output, no panic, and patterns without braces unchanged.
func FuzzExpandBraces(f *testing.F) {
	for _, s := range []string{"s/train-{000000..000146}.tar", "{a,b}{1..3}", "{x}", "{a,{b,c}}", "{", "}", "{-5..05}",
		"{1..2}{3..4}", "plain.tar", "{99999999999999999999..1}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out, err := ExpandBraces(s)
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("multi-line error %q", err)
			}
			return
		}
		if len(out) == 0 || len(out) > MaxBraceExpansion {
			t.Fatalf("%q expanded to %d names", s, len(out))
		}
		if !strings.ContainsAny(s, "{}") && (len(out) != 1 || out[0] != s) {
			t.Fatalf("%q without braces expanded to %q", s, out)
		}
	})
}

// FuzzIndexCache feeds arbitrary text to the ImageFolder and shard index
// cache parsers (a damaged cache must be rejected, then rebuilt).
func FuzzIndexCache(f *testing.F) {
	x := &folderIndex{classes: []string{"a", "b c"}, names: "a/1.jpgb c/x/2.png", offs: []uint32{0, 7, 18},
		labels: []int{0, 1}, dirs: []dirStamp{{"a", 5}, {"b c", 6}, {"b c/x", 7}}, mean: []float32{.1, .2, .3}, std: []float32{.4, .5, .6}}
	var fb bytes.Buffer
	writePlain(&fb, x.write)
	f.Add(fb.Bytes())
	sx := &shardIndex{files: []string{"s.tar"}, stamps: []fileStamp{{10, 20}}, shard: []int32{0}, off: []int64{512},
		size: []int64{100}, keys: "a.jpg", keyOffs: []uint32{0, 5}, labels: []int{3}, blocks: []int{1}}
	var sb bytes.Buffer
	writePlain(&sb, sx.write)
	f.Add(sb.Bytes())
	f.Add([]byte(indexMagic + "\nclasses 1\n\"a\"\ndirs 0\nfiles 1\n5 \"a/x.jpg\"\nend\n"))
	f.Add([]byte(indexMagic + "\nclasses 1\n\"a\"\ndirs 1\n5 \"a\"\nfiles 1\n0 \"a/x.jpg\"\nend\n"))
	f.Add([]byte(indexMagic + "\nclasses 2\n\"a\"\n\"b\"\ndirs 2\n5 \"a\"\n6 \"b\"\nfiles 2\n0 \"a/../../x.jpg\"\n0 \"b/y.png\"\nend\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if x, err := parseFolderIndex(bytes.NewReader(b), "root"); err == nil {
			if len(x.offs) != x.len()+1 {
				t.Fatal("offsets do not match labels")
			}
			for i := range x.len() {
				if x.offs[i] > x.offs[i+1] || int(x.offs[i+1]) > len(x.names) || x.labels[i] >= len(x.classes) {
					t.Fatalf("bad entry %d", i)
				}
				rel := x.rel(i)
				if !filepath.IsLocal(filepath.FromSlash(rel)) || !strings.HasPrefix(rel, x.classes[x.labels[i]]+"/") {
					t.Fatalf("entry %d %q (label %d) accepted outside its class folder", i, rel, x.labels[i])
				}
			}
		}
		if x, err := parseShardIndex(bytes.NewReader(b), []string{"s.tar"}); err == nil {
			if len(x.off) != x.len() || len(x.keyOffs) != x.len()+1 {
				t.Fatal("inconsistent shard index")
			}
			for i := range x.len() {
				_ = x.key(i)
			}
		}
	})
}
