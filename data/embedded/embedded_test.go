package embedded

import (
	"strings"
	"testing"

	"github.com/siam-ssl/siam/data"
)

func TestLoad(t *testing.T) {
	train, test, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		ds     *data.Dataset
		n, per int
	}{{train, 10000, 1000}, {test, 2000, 200}} {
		if err := tc.ds.Validate(); err != nil {
			t.Fatal(err)
		}
		if tc.ds.N != tc.n || tc.ds.Classes != 10 || tc.ds.C != 1 || tc.ds.H != 28 || tc.ds.W != 28 {
			t.Fatalf("%s: %d images %dx%dx%d, %d classes", tc.ds.Name, tc.ds.N, tc.ds.C, tc.ds.H, tc.ds.W, tc.ds.Classes)
		}
		for c, k := range tc.ds.ClassCounts() {
			if k != tc.per {
				t.Fatalf("%s: class %d has %d images, want %d", tc.ds.Name, c, k, tc.per)
			}
		}
	}
	if !strings.HasPrefix(Source(), "fashion-mnist ") {
		t.Errorf("source %q is not Fashion-MNIST", Source())
	}
	// Registered with package data.
	tr, _, err := data.Open("")
	if err != nil || tr.N != 10000 {
		t.Fatalf("data.Open(\"\"): %v", err)
	}
	// Each Load returns fresh copies.
	tr.Pixels[0] ^= 0xff
	again, _, _ := Load()
	if again.Pixels[0] == tr.Pixels[0] {
		t.Fatal("Load shares pixel storage between calls")
	}
}

func TestLooksLikeFashionMNIST(t *testing.T) {
	train, _, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	mean, std := train.ChannelStats()
	// Fashion-MNIST's pixel statistics: mean 0.286, std 0.353.
	if mean[0] < 0.27 || mean[0] > 0.30 || std[0] < 0.34 || std[0] > 0.37 {
		t.Fatalf("stats mean %v std %v do not look like Fashion-MNIST", mean, std)
	}
}
