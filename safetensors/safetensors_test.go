package safetensors

import (
	"bytes"
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// pyFile builds a file the way the Python/Rust writer does: compact JSON header
// padded with spaces to a multiple of 8, then the buffer.
func pyFile(header string, buf []byte) []byte {
	for len(header)%8 != 0 {
		header += " "
	}
	out := make([]byte, 8, 8+len(header)+len(buf))
	binary.LittleEndian.PutUint64(out, uint64(len(header)))
	out = append(out, header...)
	return append(out, buf...)
}

func f32bytes(v ...float32) []byte {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return b
}

// TestPythonLayout reads a hand-built file laid out exactly as
// safetensors.torch.save_file writes a BatchNorm-style state dict, and checks that
// Write reproduces it byte for byte.
func TestPythonLayout(t *testing.T) {
	header := `{"__metadata__":{"format":"pt"},` +
		`"bn.num_batches_tracked":{"dtype":"I64","shape":[],"data_offsets":[0,8]},` +
		`"bn.weight":{"dtype":"F32","shape":[3],"data_offsets":[8,20]},` +
		`"fc.weight":{"dtype":"F32","shape":[2,2],"data_offsets":[20,36]}}`
	var buf []byte
	buf = binary.LittleEndian.AppendUint64(buf, 4200)
	buf = append(buf, f32bytes(1, 0.5, -2)...)
	buf = append(buf, f32bytes(1, 2, 3, 4)...)
	file := pyFile(header, buf)

	f, err := Read(file)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := f.Names(), []string{"bn.num_batches_tracked", "bn.weight", "fc.weight"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("Names = %v, want %v", got, want)
	}
	if f.Metadata["format"] != "pt" {
		t.Fatalf("metadata = %v", f.Metadata)
	}
	nbt, err := f.Get("bn.num_batches_tracked")
	if err != nil {
		t.Fatal(err)
	}
	if nbt.DType != I64 || len(nbt.Shape) != 0 || !reflect.DeepEqual(nbt.I64, []int64{4200}) || nbt.NumElements() != 1 {
		t.Fatalf("num_batches_tracked = %+v", nbt)
	}
	w, err := f.Get("fc.weight")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(w.Shape, []int{2, 2}) || !reflect.DeepEqual(w.F32, []float32{1, 2, 3, 4}) {
		t.Fatalf("fc.weight = %+v", w)
	}
	ts, err := f.Tensors()
	if err != nil {
		t.Fatal(err)
	}
	// Write from decoded values (Raw cleared) must give the identical bytes.
	for i := range ts {
		ts[i].Raw = nil
	}
	var out bytes.Buffer
	if err := Write(&out, ts, map[string]string{"format": "pt"}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Bytes(), file) {
		t.Fatalf("Write output differs from the Python layout:\n got %q\nwant %q", out.Bytes(), file)
	}
}

func TestRoundTripDTypes(t *testing.T) {
	in := []Tensor{
		{Name: "f32", Shape: []int{2, 3}, F32: []float32{1, -2, 3.5, 0, float32(math.Inf(1)), 1e-30}},
		{Name: "f64", DType: F64, Shape: []int{2}, F32: []float32{1.25, -7}},
		{Name: "f16", DType: F16, Shape: []int{3}, F32: []float32{1, -0.5, 65504}},
		{Name: "bf16", DType: BF16, Shape: []int{2}, F32: []float32{1, -3}},
		{Name: "i64", DType: I64, Shape: []int{2}, I64: []int64{math.MinInt64, math.MaxInt64}},
		{Name: "i32", DType: I32, Shape: []int{1}, I64: []int64{-5}},
		{Name: "u8", DType: U8, Shape: []int{2}, I64: []int64{0, 255}},
		{Name: "bool", DType: Bool, Shape: []int{2}, I64: []int64{1, 0}},
		{Name: "empty", Shape: []int{0, 4}, F32: []float32{}},
		{Name: "scalar", Shape: []int{}, F32: []float32{42}},
	}
	var buf bytes.Buffer
	if err := Write(&buf, in, map[string]string{"k": "v \"quoted\" ü"}); err != nil {
		t.Fatal(err)
	}
	f, err := Read(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if f.HeaderSize%8 != 0 {
		t.Errorf("header size %d not 8-aligned", f.HeaderSize)
	}
	if f.Metadata["k"] != "v \"quoted\" ü" {
		t.Errorf("metadata = %v", f.Metadata)
	}
	for _, want := range in {
		got, err := f.Get(want.Name)
		if err != nil {
			t.Fatal(err)
		}
		wd := want.DType
		if wd == "" {
			wd = F32
		}
		if got.DType != wd || !reflect.DeepEqual(got.Shape, want.Shape) {
			t.Errorf("%s: dtype %s shape %v, want %s %v", want.Name, got.DType, got.Shape, wd, want.Shape)
		}
		if wd.IsFloat() && !reflect.DeepEqual(got.F32, want.F32) {
			t.Errorf("%s: F32 %v, want %v", want.Name, got.F32, want.F32)
		}
		if wd.IsInt() && !reflect.DeepEqual(got.I64, want.I64) {
			t.Errorf("%s: I64 %v, want %v", want.Name, got.I64, want.I64)
		}
		in, _ := f.Info(want.Name)
		if in.End-in.Begin != len(got.Raw) || in.Begin%wd.Size() != 0 {
			t.Errorf("%s: info %+v, raw %d bytes (misaligned?)", want.Name, in, len(got.Raw))
		}
	}
}

func TestF64ExactThroughFloat64(t *testing.T) {
	var raw []byte
	vals := []float64{math.Pi, 1e300, -1.0 / 3}
	for _, v := range vals {
		raw = binary.LittleEndian.AppendUint64(raw, math.Float64bits(v))
	}
	var buf bytes.Buffer
	if err := Write(&buf, []Tensor{{Name: "x", DType: F64, Shape: []int{3}, Raw: raw}}, nil); err != nil {
		t.Fatal(err)
	}
	f, err := Read(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	x, _ := f.Get("x")
	got, err := x.Float64()
	if err != nil || !reflect.DeepEqual(got, vals) {
		t.Fatalf("Float64 = %v, %v; want %v", got, err, vals)
	}
	if !math.IsInf(float64(x.F32[1]), 1) {
		t.Errorf("1e300 as float32 = %v, want +Inf", x.F32[1])
	}
}

func TestHalfConversions(t *testing.T) {
	for h := 0; h < 1<<16; h++ {
		f := HalfToFloat32(uint16(h))
		back := Float32ToHalf(f)
		if f != f { // NaN: must stay NaN
			if HalfToFloat32(back) == HalfToFloat32(back) {
				t.Fatalf("NaN %#04x -> %#04x not NaN", h, back)
			}
			continue
		}
		if back != uint16(h) {
			t.Fatalf("half %#04x -> %v -> %#04x", h, f, back)
		}
		b := Float32ToBFloat16(BFloat16ToFloat32(uint16(h)))
		if BFloat16ToFloat32(uint16(h)) == BFloat16ToFloat32(uint16(h)) && b != uint16(h) {
			t.Fatalf("bf16 %#04x -> %#04x", h, b)
		}
	}
	cases := []struct {
		f    float32
		want uint16
	}{
		{1, 0x3c00}, {-2, 0xc000}, {65504, 0x7bff}, {65520, 0x7c00}, {1e6, 0x7c00},
		{5.960464477539063e-08, 0x0001}, // smallest subnormal
		{2.98e-08, 0x0000},              // just below half of it: zero
		{2.99e-08, 0x0001},              // just above half: rounds up
		{1 + 1.0/2048, 0x3c00},          // tie to even (down)
		{1 + 3.0/2048, 0x3c02},          // tie to even (up)
		{6.097555160522461e-05, 0x03ff}, // largest subnormal
	}
	for _, c := range cases {
		if got := Float32ToHalf(c.f); got != c.want {
			t.Errorf("Float32ToHalf(%v) = %#04x, want %#04x", c.f, got, c.want)
		}
	}
	if got := Float32ToBFloat16(1 + 1.0/256); got != 0x3f80 { // tie to even
		t.Errorf("bf16 tie = %#04x", got)
	}
}

func TestReadErrors(t *testing.T) {
	okBuf := f32bytes(1, 2)
	cases := []struct {
		name string
		file []byte
		want string
	}{
		{"short", []byte{1, 2, 3}, "shorter than"},
		{"huge header", binary.LittleEndian.AppendUint64(nil, 1<<40), "exceeds the 100000000-byte limit"},
		{"header past EOF", append(binary.LittleEndian.AppendUint64(nil, 100), "{}"...), "exceeds the 2 bytes"},
		{"not object", pyFile(`[]`, nil), "must start with '{'"},
		{"bad json", pyFile(`{"a":`, nil), "header"},
		{"trailing", pyFile(`{} x`, nil), "trailing data"},
		{"dup", pyFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, okBuf), "duplicate key"},
		{"bad dtype", pyFile(`{"a":{"dtype":"F33","shape":[2],"data_offsets":[0,8]}}`, okBuf), `tensor "a": unknown dtype`},
		{"negative dim", pyFile(`{"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}`, okBuf), `tensor "a"`},
		{"float dim", pyFile(`{"a":{"dtype":"F32","shape":[2.0],"data_offsets":[0,8]}}`, okBuf), `tensor "a"`},
		{"missing field", pyFile(`{"a":{"dtype":"F32","data_offsets":[0,8]}}`, okBuf), "needs dtype, shape and data_offsets"},
		{"size mismatch", pyFile(`{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}`, okBuf), "span 8 bytes"},
		{"out of range", pyFile(`{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}`, okBuf), "outside the 8-byte buffer"},
		{"reversed", pyFile(`{"a":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}}`, okBuf), "outside"},
		{"overflow", pyFile(`{"a":{"dtype":"F32","shape":[4294967296,4294967296,4],"data_offsets":[0,8]}}`, okBuf), "overflows"},
		{"gap", pyFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, okBuf), "gap"},
		{"overlap", pyFile(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, okBuf), "overlap"},
		{"unused tail", pyFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, okBuf), "cover 4 bytes"},
		{"bad metadata", pyFile(`{"__metadata__":{"a":1}}`, nil), "__metadata__"},
		{"empty name", pyFile(`{"":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, okBuf), "empty name"},
		{"bad utf8", pyFile("{\"\xff\":1}", nil), "UTF-8"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Read(c.file)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want it to contain %q", err, c.want)
			}
		})
	}
}

func TestGetErrors(t *testing.T) {
	f, err := Read(pyFile(`{"a":{"dtype":"F8_E4M3","shape":[1],"data_offsets":[0,1]},"b":{"dtype":"BOOL","shape":[1],"data_offsets":[1,2]}}`, []byte{0, 7}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Get("a"); err == nil || !strings.Contains(err.Error(), `"a"`) {
		t.Errorf("Get(F8) err = %v", err)
	}
	if _, err := f.Get("b"); err == nil || !strings.Contains(err.Error(), "neither 0 nor 1") {
		t.Errorf("Get(bad bool) err = %v", err)
	}
	if _, err := f.Get("zzz"); err == nil {
		t.Error("Get(missing) succeeded")
	}
}

func TestWriteErrors(t *testing.T) {
	cases := []struct {
		name string
		ts   []Tensor
		want string
	}{
		{"dup", []Tensor{{Name: "a", Shape: []int{1}, F32: []float32{1}}, {Name: "a", Shape: []int{1}, F32: []float32{1}}}, "duplicate"},
		{"reserved", []Tensor{{Name: "__metadata__", Shape: []int{1}, F32: []float32{1}}}, "invalid name"},
		{"count", []Tensor{{Name: "a", Shape: []int{2, 2}, F32: []float32{1}}}, "shape [2 2] needs 4"},
		{"neg", []Tensor{{Name: "a", Shape: []int{-1}}}, "negative"},
		{"range", []Tensor{{Name: "a", DType: I32, Shape: []int{1}, I64: []int64{1 << 40}}}, "out of range"},
		{"raw len", []Tensor{{Name: "a", DType: F64, Shape: []int{1}, Raw: []byte{1}}}, "raw bytes"},
		{"dtype", []Tensor{{Name: "a", DType: "X", Shape: []int{1}}}, "unknown dtype"},
	}
	for _, c := range cases {
		if err := Write(&bytes.Buffer{}, c.ts, nil); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want %q", c.name, err, c.want)
		}
	}
}

func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "m.safetensors")
	ts := []Tensor{{Name: "emb", Shape: []int{2, 2}, F32: []float32{1, 2, 3, 4}}}
	if err := WriteFile(path, ts, nil); err != nil {
		t.Fatal(err)
	}
	// Overwrite; a failing write must leave the old file and no temporaries.
	if err := WriteFile(path, []Tensor{{Name: "x", Shape: []int{3}, F32: []float32{1}}}, nil); err == nil {
		t.Fatal("bad write succeeded")
	}
	f, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if e, _ := f.Get("emb"); e == nil || !reflect.DeepEqual(e.F32, []float32{1, 2, 3, 4}) {
		t.Fatalf("file content changed: %v", f.Names())
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("directory holds %d entries, want 1", len(entries))
	}
	os.WriteFile(path, []byte("garbage!!"), 0o644)
	if _, err := ReadFile(path); err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("ReadFile error %v does not name the path", err)
	}
	fh, _ := os.Open(path)
	defer fh.Close()
	if _, err := ReadAt(fh, 9); err == nil {
		t.Fatal("ReadAt of garbage succeeded")
	}
}

func TestReadAt(t *testing.T) {
	var buf bytes.Buffer
	if err := Write(&buf, []Tensor{{Name: "a", Shape: []int{2}, F32: []float32{3, 4}}}, nil); err != nil {
		t.Fatal(err)
	}
	f, err := ReadAt(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	if a, _ := f.Get("a"); a == nil || a.F32[1] != 4 {
		t.Fatal("ReadAt decoded wrong values")
	}
}

func FuzzRead(f *testing.F) {
	var buf bytes.Buffer
	Write(&buf, []Tensor{
		{Name: "a", Shape: []int{2, 2}, F32: []float32{1, 2, 3, 4}},
		{Name: "n", DType: I64, Shape: []int{}, I64: []int64{7}},
		{Name: "h", DType: F16, Shape: []int{1}, F32: []float32{1}},
	}, map[string]string{"format": "pt"})
	f.Add(buf.Bytes())
	f.Add(pyFile(`{}`, nil))
	f.Add(pyFile(`{"a":{"dtype":"BF16","shape":[1,1],"data_offsets":[0,2]}}`, []byte{1, 2}))
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Read(data)
		if err != nil {
			return
		}
		var ts []Tensor
		for _, n := range file.Names() {
			tn, err := file.Get(n)
			if err != nil {
				continue
			}
			if len(tn.Raw) != tn.NumElements()*tn.DType.Size() {
				t.Fatalf("%s: raw %d bytes for shape %v", n, len(tn.Raw), tn.Shape)
			}
			ts = append(ts, *tn)
		}
		var out bytes.Buffer
		if err := Write(&out, ts, file.Metadata); err != nil {
			t.Fatalf("rewrite: %v", err)
		}
		again, err := Read(out.Bytes())
		if err != nil {
			t.Fatalf("re-read: %v", err)
		}
		if again.Len() != len(ts) {
			t.Fatalf("re-read %d tensors, want %d", again.Len(), len(ts))
		}
		for _, tn := range ts {
			g, err := again.Get(tn.Name)
			if err != nil || !bytes.Equal(g.Raw, tn.Raw) || !reflect.DeepEqual(g.Shape, tn.Shape) {
				t.Fatalf("%s changed in round trip", tn.Name)
			}
		}
	})
}

func TestReadAtShort(t *testing.T) {
	var buf bytes.Buffer
	Write(&buf, []Tensor{{Name: "a", Shape: []int{2}, F32: []float32{3, 4}}}, nil)
	// Claim a larger size than the reader holds.
	if _, err := ReadAt(bytes.NewReader(buf.Bytes()), int64(buf.Len()+8)); err == nil || !strings.Contains(err.Error(), "unexpected EOF") {
		t.Fatalf("err = %v", err)
	}
}
