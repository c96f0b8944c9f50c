package cuda

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseDevice(t *testing.T) {
	for _, c := range []struct {
		in   string
		want DeviceSpec
		bad  bool
	}{
		{"", DeviceSpec{Kind: Auto}, false},
		{"auto", DeviceSpec{Kind: Auto}, false},
		{"CPU", DeviceSpec{Kind: CPU}, false},
		{"cuda", DeviceSpec{Kind: GPU}, false},
		{"cuda:3", DeviceSpec{Kind: GPU, Index: 3}, false},
		{"cuda:-1", DeviceSpec{}, true},
		{"cuda:x", DeviceSpec{}, true},
		{"tpu", DeviceSpec{}, true},
	} {
		got, err := ParseDevice(c.in)
		if (err != nil) != c.bad || (!c.bad && got != c.want) {
			t.Errorf("ParseDevice(%q) = %+v, %v", c.in, got, err)
		}
	}
}

func TestSearchDirsAndFind(t *testing.T) {
	root := t.TempDir()
	user := filepath.Join(root, "mine")
	site := filepath.Join(root, "venv", "lib", "python3.11", "site-packages", "nvidia", "cublas", "lib")
	for _, d := range []string{user, site} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(site, "libcublas.so.13"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"SIAM_CUDA_LIBS": user + ":" + filepath.Join(root, "missing"), "VIRTUAL_ENV": filepath.Join(root, "venv")}
	dirs := SearchDirs(func(k string) string { return env[k] })
	if len(dirs) < 2 || dirs[0].Path != user || dirs[0].Source != "SIAM_CUDA_LIBS" {
		t.Fatalf("SIAM_CUDA_LIBS must come first and missing folders be dropped: %+v", dirs)
	}
	var sawSite bool
	for _, d := range dirs {
		if d.Path == site && d.Source == "python site-packages" {
			sawSite = true
		}
	}
	if !sawSite {
		t.Fatalf("the nvidia/*/lib folder of the virtualenv is not searched: %+v", dirs)
	}
	f := Find(Libraries[1], dirs)
	if f.Path != filepath.Join(site, "libcublas.so.13") {
		t.Fatalf("cublas found at %q", f.Path)
	}
	nf := Find(Library{"nothing", []string{"libnothing.so.7"}}, dirs)
	if nf.Path != "" || !strings.Contains(nf.Where(), "libnothing.so.7") || !strings.Contains(nf.Where(), "SIAM_CUDA_LIBS") {
		t.Fatalf("a missing library must say what and where: %q", nf.Where())
	}
}

func TestResolve(t *testing.T) {
	none := &Probe{Err: os.ErrNotExist}
	gpu := &Probe{Devices: []DeviceInfo{{Name: "NVIDIA H200"}}}
	if use, note, err := Resolve(DeviceSpec{Kind: Auto}, none); err != nil || use.Kind != CPU || !strings.Contains(note, "cpu") {
		t.Errorf("auto without a GPU: %v %q %v", use, note, err)
	}
	if use, _, err := Resolve(DeviceSpec{Kind: CPU}, gpu); err != nil || use.Kind != CPU {
		t.Errorf("cpu: %v %v", use, err)
	}
	if _, _, err := Resolve(DeviceSpec{Kind: GPU}, none); err == nil {
		t.Error("cuda without a driver must fail")
	}
	if _, _, err := Resolve(DeviceSpec{Kind: GPU, Index: 2}, gpu); err == nil || !strings.Contains(err.Error(), "1 CUDA device") {
		t.Errorf("cuda:2 on one device: %v", err)
	}
}
