package data

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"image"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// tarOf builds a tar file from name/content pairs.
func tarOf(t testing.TB, members ...string) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for i := 0; i+1 < len(members); i += 2 {
		if err := writeMember(tw, members[i], []byte(members[i+1])); err != nil {
			t.Fatal(err)
		}
	}
	tw.Close()
	return b.Bytes()
}

func TestPackAndOpenShards(t *testing.T) {
	f := makeFolder(t, 3, 20, 4)
	folderTrain, folderVal := openStreamed(t, f.root, 24, nil)
	out := filepath.Join(t.TempDir(), "shards")
	var log bytes.Buffer
	res, err := Pack(f.root, out, PackOptions{ShardSize: 20 << 10, Log: &log})
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 2 || res[0].Images != 60 || res[1].Images != 12 || res[0].Shards < 2 {
		t.Fatalf("pack result %+v", res)
	}
	for _, r := range res {
		for i := range r.Shards {
			st, err := os.Stat(filepath.Join(out, fmt.Sprintf("%s-%06d.tar", r.Split, i)))
			if err != nil || (st.Size() > 20<<10 && i < r.Shards-1) {
				t.Fatalf("shard %d of %s: %v (size %v)", i, r.Split, err, st)
			}
		}
	}
	// Packing again gives identical bytes.
	out2 := filepath.Join(t.TempDir(), "again")
	if _, err := Pack(f.root, out2, PackOptions{ShardSize: 20 << 10}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"train-000000.tar", "train-000001.tar", "val-000000.tar", ClassesFile} {
		a, _ := os.ReadFile(filepath.Join(out, name))
		b, _ := os.ReadFile(filepath.Join(out2, name))
		if len(a) == 0 || !bytes.Equal(a, b) {
			t.Fatalf("%s differs between two packs", name)
		}
	}
	if _, err := Pack(f.root, out, PackOptions{}); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Fatalf("packing into a full folder: %v", err)
	}
	// Every spec form opens the same samples; labels, class names and pixels
	// match the folder (seed 0 keeps the folder's order).
	for _, spec := range []string{res[0].Pattern, filepath.Join(out, "train-*.tar"), out,
		filepath.Join(out, "train-{000000..000001}.tar")} {
		tr, te, err := OpenWith(spec, OpenOptions{ImageSize: 24})
		if err != nil {
			t.Fatalf("%s: %v", spec, err)
		}
		if !strings.Contains(spec, "..000001}") && (tr.N != 60 || te == nil || te.N != 12) {
			t.Fatalf("%s: N %d test %v", spec, tr.N, te)
		}
		if strings.Join(tr.ClassNames, ",") != strings.Join(f.classes, ",") || tr.Classes != 3 {
			t.Fatalf("classes %v", tr.ClassNames)
		}
		for i := 0; i < tr.N; i++ {
			if tr.Labels[i] != folderTrain.Labels[i] {
				t.Fatalf("%s: sample %d label %d, folder %d", spec, i, tr.Labels[i], folderTrain.Labels[i])
			}
		}
		for _, i := range []int{0, tr.N - 1} {
			if !bytes.Equal(tr.Image(i), folderTrain.Image(i)) {
				t.Fatalf("%s: sample %d pixels differ from the folder's", spec, i)
			}
		}
		if te != nil && !bytes.Equal(te.Image(3), folderVal.Image(3)) {
			t.Fatal("val sample differs")
		}
	}
	if got := ShardBlocks(mustOpen(t, out)); len(got) != res[0].Shards {
		t.Fatalf("blocks %v", got)
	}
}

func mustOpen(t *testing.T, spec string) *Dataset {
	t.Helper()
	tr, _, err := OpenWith(spec, OpenOptions{ImageSize: 16})
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func TestPackResizeAndShuffle(t *testing.T) {
	f := makeFolder(t, 2, 10, 0)
	out := filepath.Join(t.TempDir(), "s")
	res, err := Pack(f.root, out, PackOptions{Resize: 30, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 1 || res[0].Shards != 1 || res[0].Images != 20 {
		t.Fatalf("%+v", res)
	}
	tr := mustOpen(t, res[0].Pattern)
	folder, _ := openStreamed(t, f.root, 16, nil)
	counts := map[int]int{}
	var buf []byte
	for i := 0; i < tr.N; i++ {
		counts[tr.Labels[i]]++
		buf, err = tr.Files.Store.Read(i, buf)
		if err != nil {
			t.Fatal(err)
		}
		cfg, _, err := image.DecodeConfig(bytes.NewReader(buf))
		if err != nil || min(cfg.Width, cfg.Height) > 30 {
			t.Fatalf("sample %d: %v, %dx%d (want shorter side <= 30)", i, err, cfg.Width, cfg.Height)
		}
	}
	if counts[0] != 10 || counts[1] != 10 {
		t.Fatalf("label counts %v", counts)
	}
	same := true
	for i := range tr.N {
		same = same && tr.Labels[i] == folder.Labels[i]
	}
	if same {
		t.Fatal("seed 3 did not shuffle the samples")
	}
}

func TestShardErrors(t *testing.T) {
	dir := t.TempDir()
	img := string(tinyJPEG(20, 20, classColours[0], 1))
	write := func(name string, members ...string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, tarOf(t, members...), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good.tar", "a.jpg", img, "a.cls", "1", "b.jpg", img, "b.cls", "0")
	noCls := write("nocls.tar", "a.jpg", img, "a.cls", "1", "b.jpg", img)
	noImg := write("noimg.tar", "a.cls", "1")
	badCls := write("badcls.tar", "a.jpg", img, "a.cls", "cat")
	empty := write("empty.tar", "readme.txt", "hi")
	trunc := filepath.Join(dir, "trunc.tar")
	full := tarOf(t, "a.jpg", img, "a.cls", "1")
	os.WriteFile(trunc, full[:700], 0o644)
	for _, tc := range []struct{ spec, want string }{
		{noCls, `sample "b" has no .cls member`},
		{noImg, `sample "a" has no image member`},
		{badCls, `not a class number`},
		{empty, "holds no samples"},
		{trunc, "truncated"},
		{filepath.Join(dir, "nothing-*.tar"), "matches no file"},
		{filepath.Join(dir, "x-{0..2}.tar"), "no such file"},
		{filepath.Join(dir, "good-{0..2.tar"), "unmatched '{'"},
	} {
		_, _, err := OpenWith(tc.spec, OpenOptions{ImageSize: 8})
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: error %v, want one line containing %q", tc.spec, err, tc.want)
		}
	}
	tr, te, err := OpenWith(good, OpenOptions{ImageSize: 8})
	if err != nil || tr.N != 2 || tr.Classes != 2 || te != nil || tr.Labels[0] != 1 {
		t.Fatalf("good shard: %v %+v", err, tr)
	}
	if p := tr.Files.Store.Path(0); p != good+":a.jpg" {
		t.Fatalf("path %q", p)
	}
}

func TestImageFolderErrorsStreamed(t *testing.T) {
	f := makeFolder(t, 2, 3, 0)
	os.MkdirAll(filepath.Join(f.root, "train", "empty"), 0o755)
	_, _, err := OpenWith(f.root, OpenOptions{ImageSize: 8, Stream: StreamAlways})
	if err == nil || !strings.Contains(err.Error(), "empty") || !strings.Contains(err.Error(), "no image files") {
		t.Fatalf("empty class folder: %v", err)
	}
}

func TestExpandBraces(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string
	}{
		{"a.tar", "a.tar"},
		{"s/train-{000000..000003}.tar", "s/train-000000.tar s/train-000001.tar s/train-000002.tar s/train-000003.tar"},
		{"{a,b}{1..2}", "a1 a2 b1 b2"},
		{"x{3..1}", "x3 x2 x1"},
		{"{8..11}", "8 9 10 11"},
		{"{a,{b,c}d}", "a bd cd"},
		{"{x}", "{x}"},
		{"{,a}", " a"},
		{"{-1..01}", "-1 00 01"},
	} {
		got, err := ExpandBraces(tc.in)
		if err != nil || strings.Join(got, " ") != tc.want {
			t.Errorf("%q: %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"{a,b", "a}b", "{0..99999999}", "{0..9}{0..9}{0..9}{0..9}{0..9}{0..9}{0..9}"} {
		if _, err := ExpandBraces(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestParseByteSize(t *testing.T) {
	for in, want := range map[string]int64{"1GB": 1e9, "500MB": 500e6, "64KiB": 64 << 10, "1048576": 1 << 20, "1.5GiB": 3 << 29} {
		if got, err := ParseByteSize(in); err != nil || got != want {
			t.Errorf("%s: %d, %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "GB", "-1MB", "1XB", "0"} {
		if _, err := ParseByteSize(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// writePlain runs a gzip-writing serialiser and stores the uncompressed text.
func writePlain(dst *bytes.Buffer, write func(io.Writer) error) {
	var z bytes.Buffer
	if err := write(&z); err != nil {
		panic(err)
	}
	r, err := gzip.NewReader(&z)
	if err != nil {
		panic(err)
	}
	io.Copy(dst, r)
}
