package torchpt

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"math"
	"slices"
	"testing"
)

// pk assembles a pickle from opcodes and arguments for tests.
type pk struct{ b []byte }

func (p *pk) op(ops ...byte) *pk { p.b = append(p.b, ops...); return p }

// str pushes a BINUNICODE string.
func (p *pk) str(s string) *pk {
	p.b = append(p.b, opBinUnicode)
	p.b = binary.LittleEndian.AppendUint32(p.b, uint32(len(s)))
	p.b = append(p.b, s...)
	return p
}

// int pushes a BININT.
func (p *pk) int(v int32) *pk {
	p.b = append(p.b, opBinInt)
	p.b = binary.LittleEndian.AppendUint32(p.b, uint32(v))
	return p
}

// float pushes a BINFLOAT.
func (p *pk) float(v float64) *pk {
	p.b = append(p.b, opBinFloat)
	p.b = binary.BigEndian.AppendUint64(p.b, math.Float64bits(v))
	return p
}

// global pushes GLOBAL module name.
func (p *pk) global(module, name string) *pk {
	p.b = append(p.b, opGlobal)
	p.b = append(p.b, module+"\n"+name+"\n"...)
	return p
}

// ints pushes a tuple of ints.
func (p *pk) ints(v ...int32) *pk {
	p.op(opMark)
	for _, x := range v {
		p.int(x)
	}
	return p.op(opTuple)
}

// tensor pushes _rebuild_tensor_v2(storage KEY of type st and numel n, off, size, stride, False, OrderedDict()).
func (p *pk) tensor(st, key string, numel int32, off int32, size, stride []int32) *pk {
	p.global("torch._utils", "_rebuild_tensor_v2")
	p.op(opMark)
	p.op(opMark).str("storage").global("torch", st).str(key).str("cpu").int(numel).op(opTuple, opBinPersID)
	p.int(off).ints(size...).ints(stride...).op(opNewFalse)
	p.global("collections", "OrderedDict").op(opEmptyTuple, opReduce)
	return p.op(opTuple, opReduce)
}

func (p *pk) bytes() []byte { return append(append([]byte{}, p.b...), opStop) }

func newPk() *pk { return (&pk{}).op(opProto, 2) }

// zipCheckpoint packs a pickle and storages as torch.save does.
func zipCheckpoint(t testing.TB, record string, pkl []byte, storages map[string][]byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	z := zip.NewWriter(&buf)
	add := func(name string, data []byte) {
		w, err := z.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Store})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(data); err != nil {
			t.Fatal(err)
		}
	}
	add(record+"/data.pkl", pkl)
	for k, v := range storages {
		add(record+"/data/"+k, v)
	}
	add(record+"/version", []byte("3\n"))
	if err := z.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// f32bytes encodes little-endian float32 values.
func f32bytes(v ...float32) []byte {
	var b []byte
	for _, x := range v {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(x))
	}
	return b
}

// repack copies the records of the zip archive raw (nil: none) and adds or
// replaces the records in extra.
func repack(t testing.TB, raw []byte, extra map[string][]byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	z := zip.NewWriter(&buf)
	write := func(name string, data []byte) {
		w, err := z.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Store})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(data); err != nil {
			t.Fatal(err)
		}
	}
	if raw != nil {
		zr, err := zip.NewReader(bytes.NewReader(raw), int64(len(raw)))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range zr.File {
			if _, ok := extra[f.Name]; ok {
				continue
			}
			rc, err := f.Open()
			if err != nil {
				t.Fatal(err)
			}
			var b bytes.Buffer
			if _, err := b.ReadFrom(rc); err != nil {
				t.Fatal(err)
			}
			rc.Close()
			write(f.Name, b.Bytes())
		}
	}
	for _, name := range sortedKeys(extra) {
		write(name, extra[name])
	}
	if err := z.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func sortedKeys(m map[string][]byte) []string {
	var k []string
	for n := range m {
		k = append(k, n)
	}
	slices.Sort(k)
	return k
}
