package torchpt

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/siam-ssl/siam/safetensors"
)

// pickleSeeds are small pickles covering every opcode family.
func pickleSeeds() [][]byte {
	p := newPk().op(opEmptyDict, opMark)
	p.str("a").tensor("FloatStorage", "0", 4, 0, []int32{2, 2}, []int32{1, 2})
	p.str("b").tensor("HalfStorage", "1", 3, 1, []int32{2}, []int32{1})
	p.str("c").global("collections", "OrderedDict").op(opEmptyTuple, opReduce, opEmptyDict).str("_metadata").op(opEmptyDict, opSetItem, opBuild)
	p.str("d").global("_codecs", "encode").str("ab").str("latin1").op(opTuple2, opReduce)
	p.op(opSetItems)
	return [][]byte{
		p.bytes(),
		[]byte("(I12\nI01\nL-7L\nF2.5\nVa\\u00e9b\nS'x\\n\\'y'\nt."),
		[]byte("(lp0\nI1\nag0\na."),
		[]byte("\x80\x04\x95\x07\x00\x00\x00\x00\x00\x00\x00K\x07\x94h\x00\x86."),
		[]byte("\x80\x02\x8b\x0a\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\xc0."),
		newPk().global("os", "system").str("x").op(opTuple1, opReduce).bytes(),
		deepTupleKey(20),
	}
}

// FuzzUnpickle runs arbitrary bytes through the restricted unpickler with
// zero-filled storages: it must never panic, and every tensor it builds must
// hold exactly as many values as its shape says.
func FuzzUnpickle(f *testing.F) {
	for _, s := range pickleSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		h := &torchHooks{budget: 1 << 16}
		h.load = func(key string, dt safetensors.DType, numel int64) (*storage, error) {
			if numel > 1<<12 {
				return nil, os.ErrInvalid
			}
			return &storage{key: key, dtype: dt, numel: numel, raw: make([]byte, numel*int64(dt.Size()))}, nil
		}
		v, err := unpickle(data, h)
		if err != nil {
			return
		}
		ts, err := flatten(v)
		if err != nil {
			return
		}
		for _, x := range ts {
			if x.NumElements() != len(x.F32)+len(x.I64) {
				t.Fatalf("%s: shape %v, %d values", x.Name, x.Shape, len(x.F32)+len(x.I64))
			}
		}
	})
}

// FuzzRead feeds arbitrary bytes to the zip reader: errors are fine, panics
// and inconsistent tensors are not.
func FuzzRead(f *testing.F) {
	for _, s := range pickleSeeds()[:1] {
		f.Add(zipCheckpoint(f, "archive", s, map[string][]byte{"0": f32bytes(1, 2, 3, 4), "1": {0, 0x3c, 0, 0x40, 0, 0}}))
	}
	evil, _ := filepath.Glob(filepath.Join(fixtures, "evil_*.pth"))
	for _, p := range evil {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Read(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return
		}
		for _, x := range c.Tensors {
			if x.NumElements() != len(x.F32)+len(x.I64) {
				t.Fatalf("%s: shape %v, %d values", x.Name, x.Shape, len(x.F32)+len(x.I64))
			}
		}
		c.Scalars()
	})
}
