package data

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// CIFAR binary record layout: label byte(s) followed by 32x32 R, G, B planes.
const (
	cifarPixels     = 3 * 32 * 32
	cifar10Classes  = 10
	cifar100Fine    = 100
	cifar100Coarse  = 20
	maxCIFARRecords = 1 << 24
)

// DecodeCIFAR10 parses a CIFAR-10 binary batch (records of 1 label byte and
// 3072 pixel bytes, R, G and B planes of 32x32). The length must be a whole
// number of records; name labels errors.
func DecodeCIFAR10(b []byte, name string) (*Dataset, error) {
	return decodeCIFAR(b, name, 1, 0, cifar10Classes)
}

// DecodeCIFAR100 parses a CIFAR-100 binary file (records of a coarse label
// byte, a fine label byte and 3072 pixel bytes); fine selects the 100 fine
// labels, otherwise the 20 coarse superclasses are used.
func DecodeCIFAR100(b []byte, name string, fine bool) (*Dataset, error) {
	if fine {
		return decodeCIFAR(b, name, 2, 1, cifar100Fine)
	}
	return decodeCIFAR(b, name, 2, 0, cifar100Coarse)
}

func decodeCIFAR(b []byte, name string, labelBytes, labelAt, classes int) (*Dataset, error) {
	rec := labelBytes + cifarPixels
	if len(b) == 0 {
		return nil, fmt.Errorf("cifar: %s: empty file", name)
	}
	if len(b)%rec != 0 {
		return nil, fmt.Errorf("cifar: %s: length %d is not a multiple of the %d-byte record (%d whole records and %d bytes over): truncated or not a CIFAR binary file",
			name, len(b), rec, len(b)/rec, len(b)%rec)
	}
	n := len(b) / rec
	if n > maxCIFARRecords {
		return nil, fmt.Errorf("cifar: %s: %d records, more than %d", name, n, maxCIFARRecords)
	}
	ds := &Dataset{Name: name, N: n, C: 3, H: 32, W: 32, Classes: classes,
		Pixels: make([]uint8, n*cifarPixels), Labels: make([]int, n)}
	for i := 0; i < n; i++ {
		r := b[i*rec : (i+1)*rec]
		l := int(r[labelAt])
		if l >= classes {
			return nil, fmt.Errorf("cifar: %s: record %d has label %d, want < %d", name, i, l, classes)
		}
		ds.Labels[i] = l
		copy(ds.Pixels[i*cifarPixels:], r[labelBytes:])
	}
	return ds, nil
}

// readCIFARFiles decodes each file with dec and concatenates the parts.
func readCIFARFiles(name string, paths []string, dec func([]byte, string) (*Dataset, error)) (*Dataset, error) {
	parts := make([]*Dataset, 0, len(paths))
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("cifar: %w", err)
		}
		ds, err := dec(b, p)
		if err != nil {
			return nil, err
		}
		parts = append(parts, ds)
	}
	return Concat(name, parts...)
}

// cifarDir returns dir itself or its conventional archive sub-folder sub when
// the marker file is found there, "" when neither holds it.
func cifarDir(dir, sub, marker string) string {
	for _, d := range []string{dir, filepath.Join(dir, sub)} {
		if st, err := os.Stat(filepath.Join(d, marker)); err == nil && st.Mode().IsRegular() {
			return d
		}
	}
	return ""
}

// LoadCIFAR10Dir loads data_batch_1..5.bin (train) and test_batch.bin (test)
// from dir or its cifar-10-batches-bin sub-folder; class names come from
// batches.meta.txt when present.
func LoadCIFAR10Dir(dir string) (train, test *Dataset, err error) {
	d := cifarDir(dir, "cifar-10-batches-bin", "data_batch_1.bin")
	if d == "" {
		return nil, nil, fmt.Errorf("cifar: %s: no data_batch_1.bin (CIFAR-10 binary version)", dir)
	}
	var batches []string
	for i := 1; i <= 5; i++ {
		batches = append(batches, filepath.Join(d, fmt.Sprintf("data_batch_%d.bin", i)))
	}
	if train, err = readCIFARFiles("cifar10/train", batches, DecodeCIFAR10); err != nil {
		return nil, nil, err
	}
	if test, err = readCIFARFiles("cifar10/test", []string{filepath.Join(d, "test_batch.bin")}, DecodeCIFAR10); err != nil {
		return nil, nil, err
	}
	names := readClassNames(filepath.Join(d, "batches.meta.txt"), cifar10Classes)
	train.ClassNames, test.ClassNames = names, names
	return train, test, nil
}

// LoadCIFAR100Dir loads train.bin and test.bin from dir or its
// cifar-100-binary sub-folder, with fine (100) or coarse (20) labels.
func LoadCIFAR100Dir(dir string, fine bool) (train, test *Dataset, err error) {
	d := cifarDir(dir, "cifar-100-binary", "train.bin")
	if d == "" {
		return nil, nil, fmt.Errorf("cifar: %s: no train.bin (CIFAR-100 binary version)", dir)
	}
	dec := func(b []byte, name string) (*Dataset, error) { return DecodeCIFAR100(b, name, fine) }
	if train, err = readCIFARFiles("cifar100/train", []string{filepath.Join(d, "train.bin")}, dec); err != nil {
		return nil, nil, err
	}
	if test, err = readCIFARFiles("cifar100/test", []string{filepath.Join(d, "test.bin")}, dec); err != nil {
		return nil, nil, err
	}
	meta, classes := "coarse_label_names.txt", cifar100Coarse
	if fine {
		meta, classes = "fine_label_names.txt", cifar100Fine
	}
	names := readClassNames(filepath.Join(d, meta), classes)
	train.ClassNames, test.ClassNames = names, names
	return train, test, nil
}

// readClassNames reads one name per non-empty line; nil unless exactly want names.
func readClassNames(path string, want int) []string {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, 1<<20))
	if err != nil {
		return nil
	}
	var names []string
	for _, l := range bytes.Split(b, []byte("\n")) {
		if s := strings.TrimSpace(string(l)); s != "" {
			names = append(names, s)
		}
	}
	if len(names) != want {
		return nil
	}
	return names
}
