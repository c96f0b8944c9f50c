package data

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// cifarRecords builds n CIFAR records with the given label bytes per record.
func cifarRecords(n int, labels ...byte) []byte {
	var b []byte
	for i := 0; i < n; i++ {
		b = append(b, labels...)
		for p := 0; p < cifarPixels; p++ {
			b = append(b, byte(i+p))
		}
	}
	return b
}

func TestDecodeCIFAR(t *testing.T) {
	ten := cifarRecords(3, 7)
	hundred := cifarRecords(2, 19, 99)
	tests := []struct {
		name    string
		dec     func([]byte, string) (*Dataset, error)
		in      []byte
		n       int
		label   int
		wantErr string
	}{
		{"cifar10", DecodeCIFAR10, ten, 3, 7, ""},
		{"cifar10 short", DecodeCIFAR10, ten[:len(ten)-1], 0, 0, "length 9218 is not a multiple of the 3073-byte record"},
		{"cifar10 long", DecodeCIFAR10, append(ten, 0), 0, 0, "not a multiple"},
		{"cifar10 empty", DecodeCIFAR10, nil, 0, 0, "empty file"},
		{"cifar10 label", DecodeCIFAR10, cifarRecords(1, 10), 0, 0, "label 10, want < 10"},
		{"cifar100 fine", func(b []byte, n string) (*Dataset, error) { return DecodeCIFAR100(b, n, true) }, hundred, 2, 99, ""},
		{"cifar100 coarse", func(b []byte, n string) (*Dataset, error) { return DecodeCIFAR100(b, n, false) }, hundred, 2, 19, ""},
		{"cifar100 as 10", DecodeCIFAR10, hundred, 0, 0, "not a multiple"},
		{"cifar100 short", func(b []byte, n string) (*Dataset, error) { return DecodeCIFAR100(b, n, true) }, hundred[:3075], 0, 0, "3074-byte record"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ds, err := tc.dec(tc.in, "batch.bin")
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), "batch.bin") {
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
			if ds.N != tc.n || ds.Labels[0] != tc.label || ds.C != 3 || ds.H != 32 {
				t.Fatalf("got N=%d label=%d", ds.N, ds.Labels[0])
			}
			if img := ds.Image(1); img[0] != 1 || img[1024] != byte((1+1024)%256) {
				t.Fatalf("pixel layout wrong")
			}
		})
	}
}

func TestLoadCIFARDirs(t *testing.T) {
	root := t.TempDir()
	d10 := filepath.Join(root, "c10", "cifar-10-batches-bin")
	os.MkdirAll(d10, 0o755)
	for i := 1; i <= 5; i++ {
		os.WriteFile(filepath.Join(d10, "data_batch_"+string(rune('0'+i))+".bin"), cifarRecords(2, byte(i)), 0o644)
	}
	os.WriteFile(filepath.Join(d10, "test_batch.bin"), cifarRecords(1, 0), 0o644)
	os.WriteFile(filepath.Join(d10, "batches.meta.txt"), []byte("airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n\n"), 0o644)
	train, test, err := OpenDir(filepath.Join(root, "c10"), OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if train.N != 10 || test.N != 1 || train.Labels[9] != 5 || train.ClassNames[9] != "truck" {
		t.Fatalf("cifar10: train %d test %d", train.N, test.N)
	}
	os.WriteFile(filepath.Join(d10, "data_batch_3.bin"), cifarRecords(2, 1)[:100], 0o644)
	if _, _, err := LoadCIFAR10Dir(d10); err == nil || !strings.Contains(err.Error(), "data_batch_3.bin") {
		t.Fatalf("bad batch: err = %v", err)
	}

	d100 := filepath.Join(root, "c100")
	os.MkdirAll(d100, 0o755)
	os.WriteFile(filepath.Join(d100, "train.bin"), cifarRecords(3, 1, 42), 0o644)
	os.WriteFile(filepath.Join(d100, "test.bin"), cifarRecords(1, 2, 43), 0o644)
	train, test, err = OpenDir(d100, OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if train.N != 3 || test.N != 1 || train.Classes != 100 || test.Labels[0] != 43 {
		t.Fatalf("cifar100: %+v", train.Labels)
	}
}
