package data

import (
	"os"
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
