package data

import (
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// idxBytes encodes an IDX file for tests.
func idxBytes(t testing.TB, dims []int, payload []byte, gz bool) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := EncodeIDX(&b, dims, payload, gz); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func gzipBytes(b []byte) []byte {
	var out bytes.Buffer
	zw := gzip.NewWriter(&out)
	zw.Write(b)
	zw.Close()
	return out.Bytes()
}

// cutGz is a gzipped label file of random bytes cut in the middle of the payload.
func cutGz(t testing.TB) []byte {
	p := make([]byte, 4000)
	for i := range p {
		p[i] = byte((i * 2654435761) >> 13)
	}
	b := idxBytes(t, []int{4000}, p, true)
	return b[:len(b)/2]
}

func seq(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i * 7)
	}
	return b
}

func TestDecodeIDX(t *testing.T) {
	good := idxBytes(t, []int{3, 2, 4}, seq(24), false)
	tests := []struct {
		name    string
		in      []byte
		dims    []int
		wantErr string
	}{
		{"raw", good, []int{3, 2, 4}, ""},
		{"gz", gzipBytes(good), []int{3, 2, 4}, ""},
		{"labels", idxBytes(t, []int{5}, seq(5), true), []int{5}, ""},
		{"empty", nil, nil, "truncated"},
		{"short magic", []byte{0, 0}, nil, "truncated"},
		{"bad magic", append([]byte{1, 2}, good[2:]...), nil, "bad magic"},
		{"wrong type", append([]byte{0, 0, 0x0d}, good[3:]...), nil, "element type 0x0d"},
		{"zero dims", []byte{0, 0, 8, 0}, nil, "zero dimensions"},
		{"short dims", good[:9], nil, "header needs 12 dimension bytes, file has 5"},
		{"truncated payload", good[:len(good)-1], nil, "need 24 payload bytes, file has 23"},
		{"truncated gz", gzipBytes(good[:len(good)-5]), nil, "need 24 payload bytes, file has 19"},
		{"cut gz header", gzipBytes(good)[:20], nil, "truncated"},
		{"cut gz payload", cutGz(t), nil, "truncated: dimensions [4000] need 4000 payload bytes"},
		{"trailing", append(append([]byte{}, good...), 9), nil, "trailing data"},
		{"huge dims", []byte{0, 0, 8, 3, 0x7f, 0xff, 0xff, 0xff, 0x7f, 0xff, 0xff, 0xff, 0x7f, 0xff, 0xff, 0xff}, nil, "exceed"},
		{"dim over int32", []byte{0, 0, 8, 1, 0xff, 0xff, 0xff, 0xff}, nil, "too large"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DecodeIDX(bytes.NewReader(tc.in), "f.idx")
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), "f.idx") {
					t.Fatalf("err = %v, want one naming f.idx and containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got.Dims) != len(tc.dims) {
				t.Fatalf("dims %v, want %v", got.Dims, tc.dims)
			}
			n := 1
			for i, d := range tc.dims {
				if got.Dims[i] != d {
					t.Fatalf("dims %v, want %v", got.Dims, tc.dims)
				}
				n *= d
			}
			if !bytes.Equal(got.Data, seq(n)) {
				t.Fatalf("payload differs")
			}
		})
	}
}

func TestIDXDatasetDims(t *testing.T) {
	img := &IDX{Dims: []int{2, 3, 3}, Data: seq(18)}
	lab := &IDX{Dims: []int{2}, Data: []byte{1, 4}}
	tests := []struct {
		name    string
		im, lb  *IDX
		wantErr string
	}{
		{"ok", img, lab, ""},
		{"images 2 dims", &IDX{Dims: []int{2, 9}, Data: seq(18)}, lab, "images need 3"},
		{"labels 2 dims", img, &IDX{Dims: []int{1, 2}, Data: []byte{1, 2}}, "labels need 1"},
		{"count mismatch", img, &IDX{Dims: []int{3}, Data: []byte{1, 2, 3}}, "has 3 labels but im has 2 images"},
		{"empty image", &IDX{Dims: []int{2, 0, 3}, Data: nil}, lab, "empty image size"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ds, err := IDXDataset(tc.im, tc.lb, "im", "lb", 0)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if err := ds.Validate(); err != nil {
				t.Fatal(err)
			}
			if ds.N != 2 || ds.C != 1 || ds.H != 3 || ds.W != 3 || ds.Classes != 5 {
				t.Fatalf("got %+v", ds)
			}
		})
	}
}

// writeIDXDir writes a tiny MNIST-layout directory; train files raw, test gzipped.
func writeIDXDir(t *testing.T, dir string) {
	t.Helper()
	files := map[string][]byte{
		"train-images-idx3-ubyte":   idxBytes(t, []int{4, 5, 5}, seq(100), false),
		"train-labels-idx1-ubyte":   idxBytes(t, []int{4}, []byte{0, 1, 2, 1}, false),
		"t10k-images-idx3-ubyte.gz": idxBytes(t, []int{2, 5, 5}, seq(50), true),
		"t10k-labels-idx1-ubyte.gz": idxBytes(t, []int{2}, []byte{3, 0}, true),
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestLoadIDXDir(t *testing.T) {
	dir := t.TempDir()
	writeIDXDir(t, dir)
	train, test, err := LoadIDXDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if train.N != 4 || test.N != 2 || train.Classes != 4 || test.Classes != 4 {
		t.Fatalf("train %d/%d classes, test %d/%d", train.N, train.Classes, test.N, test.Classes)
	}
	for _, ds := range []*Dataset{train, test} {
		if err := ds.Validate(); err != nil {
			t.Fatal(err)
		}
	}
	// A truncated file is reported by name with the expected size.
	p := filepath.Join(dir, "train-images-idx3-ubyte")
	b, _ := os.ReadFile(p)
	os.WriteFile(p, b[:len(b)-10], 0o644)
	_, _, err = LoadIDXDir(dir)
	if err == nil || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), "need 100 payload bytes") {
		t.Fatalf("err = %v", err)
	}
	os.Remove(p)
	if _, _, err = LoadIDXDir(dir); err == nil || !strings.Contains(err.Error(), "train-images-idx3-ubyte.gz") {
		t.Fatalf("missing file: err = %v", err)
	}
}

func TestWriteIDXRoundTrip(t *testing.T) {
	dir := t.TempDir()
	ds := &Dataset{Name: "x", N: 3, C: 1, H: 2, W: 2, Classes: 3, Pixels: seq(12), Labels: []int{2, 0, 1}}
	ip, lp := filepath.Join(dir, "i.gz"), filepath.Join(dir, "l")
	if err := WriteIDX(ds, ip, lp); err != nil {
		t.Fatal(err)
	}
	got, err := LoadIDX(ip, lp)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Pixels, ds.Pixels) || got.Labels[0] != 2 || got.Classes != 3 {
		t.Fatalf("round trip differs: %+v", got)
	}
}
