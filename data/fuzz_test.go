package data

import (
	"bytes"
	"testing"
)

// FuzzIDX feeds arbitrary bytes (raw or gzip) to the IDX decoder and the
// dataset assembly; they must return an error or a consistent result, never panic.
func FuzzIDX(f *testing.F) {
	f.Add(idxBytes(f, []int{2, 3, 3}, seq(18), false))
	f.Add(idxBytes(f, []int{2, 3, 3}, seq(18), true))
	f.Add(idxBytes(f, []int{4}, []byte{0, 1, 2, 3}, false))
	f.Add(idxBytes(f, []int{4}, []byte{0, 1, 2, 3}, true))
	f.Add([]byte{0, 0, 8, 3, 0, 0, 0, 1})
	f.Add([]byte{0x1f, 0x8b, 8, 0})
	f.Add([]byte{0, 0, 8, 2, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		x, err := DecodeIDX(bytes.NewReader(b), "fuzz")
		if err != nil {
			return
		}
		n := 1
		for _, d := range x.Dims {
			n *= d
		}
		if n != len(x.Data) {
			t.Fatalf("dims %v but %d bytes", x.Dims, len(x.Data))
		}
		if len(x.Dims) == 3 {
			lab := &IDX{Dims: []int{x.Dims[0]}, Data: make([]byte, x.Dims[0])}
			ds, err := IDXDataset(x, lab, "im", "lb", 0)
			if err == nil {
				if err := ds.Validate(); err != nil && ds.N > 0 {
					t.Fatal(err)
				}
			}
		}
	})
}

// FuzzCIFAR feeds arbitrary bytes to the CIFAR-10 and CIFAR-100 decoders.
func FuzzCIFAR(f *testing.F) {
	f.Add(cifarRecords(1, 3))
	f.Add(cifarRecords(2, 9, 99))
	f.Add(cifarRecords(1, 200))
	f.Add([]byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, dec := range []func([]byte, string) (*Dataset, error){
			DecodeCIFAR10,
			func(b []byte, n string) (*Dataset, error) { return DecodeCIFAR100(b, n, true) },
			func(b []byte, n string) (*Dataset, error) { return DecodeCIFAR100(b, n, false) },
		} {
			ds, err := dec(b, "fuzz")
			if err != nil {
				continue
			}
			if err := ds.Validate(); err != nil {
				t.Fatal(err)
			}
		}
	})
}
