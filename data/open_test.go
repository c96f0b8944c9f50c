package data

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestOpenDetectsIDX(t *testing.T) {
	dir := t.TempDir()
	writeIDXDir(t, dir)
	train, test, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if train.N != 4 || test.N != 2 {
		t.Fatalf("got %d/%d", train.N, test.N)
	}
}

func TestOpenErrors(t *testing.T) {
	t.Setenv("SIAM_DATA", t.TempDir())
	for _, spec := range []string{"/no/such/dir", t.TempDir(), "cifar10"} {
		if _, _, err := Open(spec); err == nil {
			t.Errorf("Open(%q) succeeded", spec)
		}
	}
	// An empty directory names what was looked for.
	_, _, err := Open(t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "train-images-idx3-ubyte") {
		t.Fatalf("err = %v", err)
	}
}

func TestOpenNamed(t *testing.T) {
	for _, tc := range []struct {
		spec       string
		train, cls int
	}{{"fashion-mnist", 60000, 10}, {"mnist", 60000, 10}} {
		t.Run(tc.spec, func(t *testing.T) {
			if testing.Short() {
				t.Skip("loads 60,000 images")
			}
			train, test, err := Open(tc.spec)
			if err != nil {
				if _, serr := os.Stat(FashionMNISTSystemDir); tc.spec == "fashion-mnist" && serr != nil {
					t.Skip(err)
				}
				if tc.spec == "mnist" && len(goMNISTDirs()) == 0 {
					t.Skip(err)
				}
				t.Fatal(err)
			}
			if train.N != tc.train || test.N != 10000 || train.Classes != tc.cls || train.H != 28 {
				t.Fatalf("%s: train %d test %d classes %d", tc.spec, train.N, test.N, train.Classes)
			}
		})
	}
}

// TestOpenCIFARNamed: "cifar10" finds an ImageFolder tree in $SIAM_DATA/cifar10 or
// ./.data/cifar10, and when it finds nothing the error names every place it looked.
func TestOpenCIFARNamed(t *testing.T) {
	for _, tc := range []struct {
		name  string
		place func(root, siamData, work string) string // where to move the tree
	}{
		{"siam-data", func(root, sd, _ string) string { return filepath.Join(sd, "cifar10") }},
		{"dot-data", func(root, _, work string) string { return filepath.Join(work, ".data", "cifar10") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := MakeTestFolder(t, 2, 4, 1)
			sd, work := t.TempDir(), t.TempDir()
			dst := tc.place(root, sd, work)
			if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(root, dst); err != nil {
				t.Fatal(err)
			}
			t.Setenv("SIAM_DATA", sd)
			t.Chdir(work)
			tr, te, err := OpenWith("cifar10", OpenOptions{ImageSize: 8})
			if err != nil {
				t.Fatal(err)
			}
			if tr.N != 8 || te == nil || te.N != 2 {
				t.Fatalf("train %d, test %v", tr.N, te)
			}
		})
	}
	sd := t.TempDir()
	t.Setenv("SIAM_DATA", sd)
	t.Chdir(t.TempDir())
	_, _, err := Open("cifar10")
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{filepath.Join(sd, "cifar-10-batches-bin"), filepath.Join(sd, "cifar10"), ".data/cifar10", "data_batch_1.bin", "ImageFolder"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}
}
