package npy

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// numpyFile builds a file the way numpy.lib.format writes one: dict repr, the
// growth-axis spaces NumPy >= 1.24 adds, then 1..64 spaces and '\n' so the data
// starts 64-aligned.
func numpyFile(major byte, dict string, growth int, data []byte) []byte {
	hdr := dict + strings.Repeat(" ", growth)
	lenSize := 2
	if major > 1 {
		lenSize = 4
	}
	hlen := len(hdr) + 1
	padlen := 64 - (6+2+lenSize+hlen)%64
	out := []byte(magic)
	out = append(out, major, 0)
	if lenSize == 2 {
		out = binary.LittleEndian.AppendUint16(out, uint16(hlen+padlen))
	} else {
		out = binary.LittleEndian.AppendUint32(out, uint32(hlen+padlen))
	}
	out = append(out, hdr...)
	out = append(out, strings.Repeat(" ", padlen)...)
	out = append(out, '\n')
	return append(out, data...)
}

func TestNumPyLayout(t *testing.T) {
	var le, be []byte
	for _, v := range []float32{1, 2, 3, 4, 5, 6} {
		le = binary.LittleEndian.AppendUint32(le, math.Float32bits(v))
		be = binary.BigEndian.AppendUint32(be, math.Float32bits(v))
	}
	var le8, be8, i4, u2 []byte
	for _, v := range []float64{1, 2, 3, 4, 5, 6} {
		le8 = binary.LittleEndian.AppendUint64(le8, math.Float64bits(v))
		be8 = binary.BigEndian.AppendUint64(be8, math.Float64bits(v))
	}
	for _, v := range []int32{-1, 2, -3, 4, 5, math.MinInt32} {
		i4 = binary.LittleEndian.AppendUint32(i4, uint32(v))
	}
	for _, v := range []uint16{0, 1, 65535} {
		u2 = binary.BigEndian.AppendUint16(u2, v)
	}
	want := []float64{1, 2, 3, 4, 5, 6}
	cases := []struct {
		name  string
		file  []byte
		shape []int
		want  []float64
	}{
		{"v1 <f4", numpyFile(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 20, le), []int{2, 3}, want},
		{"v2 >f4", numpyFile(2, "{'descr': '>f4', 'fortran_order': False, 'shape': (2, 3), }", 0, be), []int{2, 3}, want},
		{"v3 <f8", numpyFile(3, "{'descr': '<f8', 'fortran_order': False, 'shape': (3, 2), }", 0, le8), []int{3, 2}, want},
		{">f8 odd spacing", numpyFile(1, "{ \"shape\" :( 6 , ) ,'descr':'>f8','fortran_order' : False}", 0, be8), []int{6}, want},
		{"<i4 trailing comma", numpyFile(1, "{'descr': '<i4', 'fortran_order': False, 'shape': (2,3,), }", 0, i4), []int{2, 3}, []float64{-1, 2, -3, 4, 5, math.MinInt32}},
		{">u2 py2 long", numpyFile(1, "{'descr': '>u2', 'fortran_order': False, 'shape': (3L,), }", 0, u2), []int{3}, []float64{0, 1, 65535}},
		{"scalar", numpyFile(1, "{'descr': '<f8', 'fortran_order': True, 'shape': (), }", 0, le8[:8]), []int{}, []float64{1}},
		{"empty", numpyFile(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (0, 5), }", 0, nil), []int{0, 5}, []float64{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, read := range []func([]byte) (*Array, error){
				ReadBytes,
				func(b []byte) (*Array, error) { return Read(bytes.NewReader(b)) },
			} {
				a, err := read(c.file)
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(a.Shape, c.shape) || a.Len() != len(c.want) {
					t.Fatalf("shape %v, want %v", a.Shape, c.shape)
				}
				if got := a.Float64(); !reflect.DeepEqual(got, c.want) {
					t.Fatalf("data %v, want %v", got, c.want)
				}
			}
		})
	}
	// NumPy's padding puts the data on a 64-byte boundary.
	if n := len(cases[0].file) - 24; n%64 != 0 {
		t.Fatalf("fixture header ends at %d", n)
	}
}

func TestReadErrors(t *testing.T) {
	f4 := make([]byte, 24)
	cases := []struct {
		name string
		file []byte
		want string
	}{
		{"magic", []byte("NUMPY\x01\x00"), "reading magic"},
		{"bad magic", []byte("\x93NUMPX\x01\x00\x00\x00"), "bad magic"},
		{"version", []byte("\x93NUMPY\x04\x00\x00\x00"), "version 4.0"},
		{"fortran", numpyFile(1, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", 0, f4), "fortran order not supported"},
		{"short data", numpyFile(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 4), }", 0, f4), "needs 32 data bytes"},
		{"trailing data", numpyFile(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }", 0, f4), "needs 16 data bytes"},
		{"huge shape", numpyFile(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (100000000, 100000000), }", 0, f4), "needs 40000000000000000 data bytes"},
		{"overflow", numpyFile(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (70000000000000, 70000000000000), }", 0, f4), "too large"},
		{"dtype", numpyFile(1, "{'descr': '<c8', 'fortran_order': False, 'shape': (3,), }", 0, f4), "unsupported dtype"},
		{"structured", numpyFile(1, "{'descr': [('x', '<f4')], 'fortran_order': False, 'shape': (6,), }", 0, f4), "descr"},
		{"missing key", numpyFile(1, "{'descr': '<f4', 'shape': (6,), }", 0, f4), "lacks \"fortran_order\""},
		{"dup key", numpyFile(1, "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (6,), }", 0, f4), "duplicate"},
		{"neg dim", numpyFile(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (-6,), }", 0, f4), "non-negative integer"},
		{"int not tuple", numpyFile(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (6), }", 0, f4), "trailing comma"},
		{"bad bool", numpyFile(1, "{'descr': '<f4', 'fortran_order': 0, 'shape': (6,), }", 0, f4), "True or False"},
		{"garbage after", numpyFile(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (6,), } x", 0, f4), "trailing data"},
		{"unknown key", numpyFile(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (6,), 'x': 1}", 0, f4), "unexpected key"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ReadBytes(c.file)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want %q", err, c.want)
			}
		})
	}
	// u8 values above MaxInt64 cannot become int64.
	big := binary.LittleEndian.AppendUint64(nil, math.MaxUint64)
	if _, err := ReadBytes(numpyFile(1, "{'descr': '<u8', 'fortran_order': False, 'shape': (1,), }", 0, big)); err == nil || !strings.Contains(err.Error(), "overflows int64") {
		t.Fatalf("u8 overflow err = %v", err)
	}
}

func TestWriteRoundTrip(t *testing.T) {
	arrays := []*Array{
		{Shape: []int{2, 3}, F32: []float32{1, 2, 3, 4, 5, float32(math.Inf(-1))}},
		{Shape: []int{3, 1}, F64: []float64{math.Pi, -0, 1e-300}},
		{Shape: []int{4}, I64: []int64{-1, 0, 1, math.MaxInt64}},
		{Shape: []int{}, F64: []float64{7}},
		{Shape: []int{0, 3}, F32: []float32{}},
		{Shape: []int{1, 5000}, F32: make([]float32, 5000)},
	}
	for _, a := range arrays {
		var buf bytes.Buffer
		if err := Write(&buf, a); err != nil {
			t.Fatal(err)
		}
		b := buf.Bytes()
		hlen := int(binary.LittleEndian.Uint16(b[8:]))
		if (10+hlen)%64 != 0 || b[10+hlen-1] != '\n' || b[6] != 1 {
			t.Fatalf("shape %v: header length %d not 64-aligned / newline-terminated", a.Shape, hlen)
		}
		got, err := ReadBytes(b)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got.Shape, a.Shape) || !reflect.DeepEqual(got.F32, a.F32) ||
			!reflect.DeepEqual(got.F64, a.F64) || !reflect.DeepEqual(got.I64, a.I64) {
			t.Fatalf("round trip of %v changed: %+v", a.Shape, got)
		}
	}
	// A shape too long for a 1.0 header switches to 2.0.
	shape := make([]int, 25000)
	for i := range shape {
		shape[i] = 1
	}
	var buf bytes.Buffer
	if err := Write(&buf, &Array{Shape: shape, F32: []float32{3}}); err != nil {
		t.Fatal(err)
	}
	if buf.Bytes()[6] != 2 {
		t.Fatalf("long header written as version %d", buf.Bytes()[6])
	}
	if a, err := ReadBytes(buf.Bytes()); err != nil || len(a.Shape) != 25000 || a.F32[0] != 3 {
		t.Fatalf("v2 round trip: %v", err)
	}
	if err := Write(&buf, &Array{Shape: []int{2, 2}, F32: []float32{1}}); err == nil {
		t.Fatal("mismatched shape accepted")
	}
}

func TestWriteFileAndMatrix(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "emb.npy")
	if err := WriteFile(p, &Array{Shape: []int{2, 2}, F64: []float64{1, 2, 3, 4}}); err != nil {
		t.Fatal(err)
	}
	a, err := ReadFile(p)
	if err != nil || !reflect.DeepEqual(a.F64, []float64{1, 2, 3, 4}) {
		t.Fatalf("ReadFile: %v %v", a, err)
	}
	if err := WriteFile(p, &Array{Shape: []int{3}, F64: []float64{1}}); err == nil {
		t.Fatal("bad WriteFile succeeded")
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Fatalf("%d files left in dir", len(ents))
	}
	var buf bytes.Buffer
	if err := WriteMatrix32(&buf, 1, 2, []float32{5, 6}); err != nil {
		t.Fatal(err)
	}
	if a, err := Read(&buf); err != nil || a.Descr != "<f4" || a.F32[1] != 6 {
		t.Fatalf("WriteMatrix32: %v", err)
	}
	buf.Reset()
	if err := WriteMatrix64(&buf, 2, 1, []float64{5, 6}); err != nil {
		t.Fatal(err)
	}
	if a, err := Read(&buf); err != nil || a.Descr != "<f8" || !reflect.DeepEqual(a.Shape, []int{2, 1}) {
		t.Fatalf("WriteMatrix64: %v", err)
	}
	os.WriteFile(p, []byte("junk"), 0o644)
	if _, err := ReadFile(p); err == nil || !strings.Contains(err.Error(), p) {
		t.Fatalf("error %v does not name the file", err)
	}
}

// FuzzNPY decodes arbitrary bytes with both readers, which must agree; a decoded
// array must be consistent, and writing it and reading it back must give the same
// shape and the same values bit for bit (NaN payloads and signed zeros included).
func FuzzNPY(f *testing.F) {
	var buf bytes.Buffer
	Write(&buf, &Array{Shape: []int{2, 2}, F32: []float32{1, 2, 3, 4}})
	f.Add(buf.Bytes())
	buf.Reset()
	Write(&buf, &Array{Shape: []int{3}, I64: []int64{1, 2, 3}})
	f.Add(buf.Bytes())
	buf.Reset()
	Write(&buf, &Array{Shape: []int{2, 2}, F64: []float64{math.NaN(), math.Copysign(0, -1), math.Inf(1), 5e-324}})
	f.Add(buf.Bytes())
	buf.Reset()
	Write(&buf, &Array{Shape: []int{3}, F32: []float32{math.Float32frombits(0x7fc00001), math.Float32frombits(0xffbfffff), 1e-45}})
	f.Add(buf.Bytes())
	f.Add(numpyFile(2, "{'descr': '>f8', 'fortran_order': False, 'shape': (1, 1, ), }", 0, make([]byte, 8)))
	f.Add(numpyFile(1, "{'descr': '|u1', 'fortran_order': False, 'shape': (2,), }", 0, []byte{1, 2}))
	f.Add(numpyFile(1, "{'descr': '>i2', 'fortran_order': False, 'shape': (2,), }", 0, []byte{0xff, 0xfe, 0x7f, 0xff}))
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := ReadBytes(data)
		b, err2 := Read(bytes.NewReader(data))
		if err2 != nil && err == nil {
			t.Fatalf("Read failed where ReadBytes succeeded: %v", err2)
		}
		if err != nil {
			return
		}
		if a.Len() != len(a.F32)+len(a.F64)+len(a.I64) || b.Len() != a.Len() {
			t.Fatalf("shape %v but %d/%d/%d values", a.Shape, len(a.F32), len(a.F64), len(a.I64))
		}
		if err := sameArray(a, b); err != nil {
			t.Fatalf("Read and ReadBytes disagree: %v", err)
		}
		if a.F32 == nil && a.F64 == nil && a.I64 == nil {
			return // an empty array: nothing to write
		}
		var out bytes.Buffer
		if err := Write(&out, a); err != nil {
			t.Fatal(err)
		}
		c, err := ReadBytes(out.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		if err := sameArray(a, c); err != nil {
			t.Fatalf("round trip: %v", err)
		}
	})
}

// sameArray compares two arrays' shapes and values bit for bit.
func sameArray(a, b *Array) error {
	if !reflect.DeepEqual(a.Shape, b.Shape) && !(len(a.Shape) == 0 && len(b.Shape) == 0) {
		return fmt.Errorf("shape %v vs %v", a.Shape, b.Shape)
	}
	if (a.F32 == nil) != (b.F32 == nil) || (a.F64 == nil) != (b.F64 == nil) || (a.I64 == nil) != (b.I64 == nil) ||
		len(a.F32) != len(b.F32) || len(a.F64) != len(b.F64) || len(a.I64) != len(b.I64) {
		return fmt.Errorf("element types or counts differ: %s %d/%d/%d vs %s %d/%d/%d",
			a.Descr, len(a.F32), len(a.F64), len(a.I64), b.Descr, len(b.F32), len(b.F64), len(b.I64))
	}
	for i := range a.F32 {
		if math.Float32bits(a.F32[i]) != math.Float32bits(b.F32[i]) {
			return fmt.Errorf("float32 element %d: %#08x vs %#08x", i, math.Float32bits(a.F32[i]), math.Float32bits(b.F32[i]))
		}
	}
	for i := range a.F64 {
		if math.Float64bits(a.F64[i]) != math.Float64bits(b.F64[i]) {
			return fmt.Errorf("float64 element %d: %#016x vs %#016x", i, math.Float64bits(a.F64[i]), math.Float64bits(b.F64[i]))
		}
	}
	for i := range a.I64 {
		if a.I64[i] != b.I64[i] {
			return fmt.Errorf("int element %d: %d vs %d", i, a.I64[i], b.I64[i])
		}
	}
	return nil
}
