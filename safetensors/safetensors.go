// Package safetensors reads and writes the safetensors tensor format used by
// Hugging Face and PyTorch tooling, so that siam can exchange weights and
// embeddings with the Python reference code without cgo or pickle.
//
// A file is an 8-byte little-endian header length n, n bytes of UTF-8 JSON
//
//	{"__metadata__": {"k": "v"}, "name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]}, ...}
//
// (possibly padded with trailing spaces), then the byte buffer the offsets point
// into. Read validates the file as strictly as the reference Rust implementation:
// header length within bounds, a JSON object with unique keys, known dtypes,
// non-negative dims, byte lengths equal to the shape's element count times the
// dtype size (overflow-checked), and offsets that tile the buffer exactly (sorted
// by start they are contiguous, begin at 0 and end at the end of the file).
package safetensors

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/siam-ssl/siam/atomicfile"
	"io"
	"math"
	"math/bits"
	"os"
	"sort"
	"unicode/utf8"
)

// MaxHeaderSize is the largest JSON header Read accepts (100 MB, as the Python
// library), bounding memory spent on malformed or hostile files.
const MaxHeaderSize = 100_000_000

// metadataKey is the reserved header key holding the string-to-string metadata.
const metadataKey = "__metadata__"

// Tensor is one named tensor. Read fills Raw with the stored little-endian bytes
// and, for decodable dtypes, F32 (float dtypes) or I64 (integer dtypes). Write uses
// Raw verbatim when it is non-nil, otherwise encodes F32 or I64 as DType.
type Tensor struct {
	// Name is the tensor's key in the header; it must be non-empty and not "__metadata__".
	Name string
	// DType is the stored element type; empty means F32 when writing.
	DType DType
	// Shape is the tensor's dimensions (row-major); empty means a scalar.
	Shape []int
	// F32 holds the values of a float tensor (F64/F16/BF16 converted to float32).
	F32 []float32
	// I64 holds the values of an integer or BOOL tensor, widened to int64.
	I64 []int64
	// Raw is the stored little-endian data. From Read it aliases the file buffer:
	// treat it as read-only.
	Raw []byte
}

// NumElements returns the product of the shape (1 for a scalar).
func (t *Tensor) NumElements() int {
	n := 1
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// Float64 returns the tensor's values as float64. For F64 tensors read from a file
// the exact stored values are decoded from Raw, not the float32 copy in F32.
func (t *Tensor) Float64() ([]float64, error) {
	if t.DType == F64 && len(t.Raw) == 8*len(t.F32) && t.Raw != nil {
		out := make([]float64, len(t.F32))
		for i := range out {
			out[i] = math.Float64frombits(leUint64(t.Raw[8*i:]))
		}
		return out, nil
	}
	switch {
	case t.F32 != nil:
		out := make([]float64, len(t.F32))
		for i, v := range t.F32 {
			out[i] = float64(v)
		}
		return out, nil
	case t.I64 != nil:
		out := make([]float64, len(t.I64))
		for i, v := range t.I64 {
			out[i] = float64(v)
		}
		return out, nil
	}
	if t.NumElements() == 0 {
		return []float64{}, nil
	}
	return nil, fmt.Errorf("safetensors: tensor %q: dtype %s has no decoded values", t.Name, t.DType)
}

// cloneShape copies a shape; a scalar's shape is an empty, non-nil slice.
func cloneShape(s []int) []int { return append(make([]int, 0, len(s)), s...) }

func leUint64(b []byte) uint64 {
	_ = b[7]
	return uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24 |
		uint64(b[4])<<32 | uint64(b[5])<<40 | uint64(b[6])<<48 | uint64(b[7])<<56
}

// Info describes one tensor of a file without decoding its data.
type Info struct {
	// DType is the stored element type.
	DType DType
	// Shape is the tensor's dimensions.
	Shape []int
	// Begin and End are the byte offsets of the data, relative to the buffer start.
	Begin, End int
}

// File is a parsed safetensors file held in memory.
type File struct {
	// Metadata is the header's "__metadata__" map (nil when absent).
	Metadata map[string]string
	// HeaderSize is the JSON header's length in bytes, padding included.
	HeaderSize int

	infos map[string]Info
	data  []byte // the buffer after the header
}

// Names returns the tensor names in sorted order.
func (f *File) Names() []string {
	names := make([]string, 0, len(f.infos))
	for n := range f.infos {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Len returns the number of tensors in the file.
func (f *File) Len() int { return len(f.infos) }

// Info returns a tensor's dtype, shape and offsets without decoding it.
func (f *File) Info(name string) (Info, bool) {
	in, ok := f.infos[name]
	if ok {
		in.Shape = cloneShape(in.Shape)
	}
	return in, ok
}

// Get decodes the named tensor. Raw aliases the file's buffer; F32 or I64 are
// fresh slices. Dtypes without a decoder (FP8) return an error.
func (f *File) Get(name string) (*Tensor, error) {
	in, ok := f.infos[name]
	if !ok {
		return nil, fmt.Errorf("safetensors: no tensor named %q (file has %d tensors)", name, len(f.infos))
	}
	raw := f.data[in.Begin:in.End:in.End]
	fl, ints, err := decode(in.DType, raw)
	if err != nil {
		return nil, fmt.Errorf("safetensors: tensor %q: %w", name, err)
	}
	return &Tensor{Name: name, DType: in.DType, Shape: cloneShape(in.Shape), F32: fl, I64: ints, Raw: raw}, nil
}

// Tensors decodes every tensor, in Names order.
func (f *File) Tensors() ([]Tensor, error) {
	out := make([]Tensor, 0, len(f.infos))
	for _, n := range f.Names() {
		t, err := f.Get(n)
		if err != nil {
			return nil, err
		}
		out = append(out, *t)
	}
	return out, nil
}

// ReadFile reads and validates the safetensors file at path. Errors name the path.
func ReadFile(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	f, err := Read(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return f, nil
}

// ReadAt reads and validates a safetensors file of the given size from r. The
// header length is checked against size before anything is allocated for it.
func ReadAt(r io.ReaderAt, size int64) (*File, error) {
	if size < 8 {
		return nil, fmt.Errorf("safetensors: file is %d bytes, shorter than the 8-byte header length", size)
	}
	var lenBuf [8]byte
	if _, err := r.ReadAt(lenBuf[:], 0); err != nil {
		return nil, fmt.Errorf("safetensors: reading header length: %w", err)
	}
	if _, err := checkHeaderLen(leUint64(lenBuf[:]), uint64(size)); err != nil {
		return nil, err
	}
	if uint64(size) > math.MaxInt {
		return nil, fmt.Errorf("safetensors: file of %d bytes is too large", size)
	}
	data := make([]byte, size)
	if n, err := r.ReadAt(data, 0); n != len(data) {
		return nil, fmt.Errorf("safetensors: read %d of %d bytes: %w", n, size, noEOF(err))
	}
	return Read(data)
}

// noEOF turns a premature io.EOF into io.ErrUnexpectedEOF.
func noEOF(err error) error {
	if err == nil || errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

func checkHeaderLen(n, size uint64) (int, error) {
	if n > MaxHeaderSize {
		return 0, fmt.Errorf("safetensors: header length %d exceeds the %d-byte limit", n, MaxHeaderSize)
	}
	if n > size-8 {
		return 0, fmt.Errorf("safetensors: header length %d exceeds the %d bytes after the length field", n, size-8)
	}
	if n < 2 {
		return 0, fmt.Errorf("safetensors: header length %d is too short for a JSON object", n)
	}
	return int(n), nil
}

// rawInfo is a tensor entry as it appears in the JSON header.
type rawInfo struct {
	DType       *string   `json:"dtype"`
	Shape       *[]uint64 `json:"shape"`
	DataOffsets *[]uint64 `json:"data_offsets"`
}

// Read parses and validates a complete safetensors file held in data. The
// returned File aliases data (tensor Raw slices point into it).
func Read(data []byte) (*File, error) {
	if len(data) < 8 {
		return nil, fmt.Errorf("safetensors: file is %d bytes, shorter than the 8-byte header length", len(data))
	}
	n, err := checkHeaderLen(leUint64(data), uint64(len(data)))
	if err != nil {
		return nil, err
	}
	header := data[8 : 8+n]
	if !utf8.Valid(header) {
		return nil, errors.New("safetensors: header is not valid UTF-8")
	}
	if header[0] != '{' {
		return nil, fmt.Errorf("safetensors: header must start with '{', found %q", header[0])
	}
	f := &File{HeaderSize: n, infos: map[string]Info{}, data: data[8+n:]}
	if err := f.parseHeader(header); err != nil {
		return nil, err
	}
	if err := f.checkLayout(); err != nil {
		return nil, err
	}
	return f, nil
}

// parseHeader decodes the JSON header key by key so duplicate keys are caught
// (encoding/json would silently keep the last one).
func (f *File) parseHeader(header []byte) error {
	dec := json.NewDecoder(bytes.NewReader(header))
	dec.UseNumber()
	if _, err := dec.Token(); err != nil { // '{', checked above
		return fmt.Errorf("safetensors: header JSON: %w", err)
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return fmt.Errorf("safetensors: header JSON: %w", err)
		}
		key, ok := tok.(string)
		if !ok {
			return fmt.Errorf("safetensors: header JSON: expected a key, found %v", tok)
		}
		if seen[key] {
			return fmt.Errorf("safetensors: header has duplicate key %q", key)
		}
		seen[key] = true
		if key == metadataKey {
			var md map[string]string
			if err := dec.Decode(&md); err != nil {
				return fmt.Errorf("safetensors: %s must map strings to strings: %w", metadataKey, err)
			}
			if md == nil {
				md = map[string]string{}
			}
			f.Metadata = md
			continue
		}
		var ri rawInfo
		if err := dec.Decode(&ri); err != nil {
			return fmt.Errorf("safetensors: tensor %q: header entry: %w", key, err)
		}
		in, err := ri.check(key, len(f.data))
		if err != nil {
			return err
		}
		f.infos[key] = in
	}
	if _, err := dec.Token(); err != nil { // '}'
		return fmt.Errorf("safetensors: header JSON: %w", err)
	}
	// Only whitespace may follow the object (the Python writer pads with spaces).
	off := dec.InputOffset()
	if len(bytes.TrimLeft(header[off:], " \t\r\n")) != 0 {
		return fmt.Errorf("safetensors: header has trailing data after the JSON object at byte %d", off)
	}
	return nil
}

// check validates one header entry against the buffer size.
func (ri rawInfo) check(name string, bufLen int) (Info, error) {
	var in Info
	if name == "" {
		return in, errors.New("safetensors: header has a tensor with an empty name")
	}
	if ri.DType == nil || ri.Shape == nil || ri.DataOffsets == nil {
		return in, fmt.Errorf("safetensors: tensor %q: header entry needs dtype, shape and data_offsets", name)
	}
	in.DType = DType(*ri.DType)
	size := in.DType.Size()
	if size == 0 {
		return in, fmt.Errorf("safetensors: tensor %q: unknown dtype %q", name, *ri.DType)
	}
	if len(*ri.DataOffsets) != 2 {
		return in, fmt.Errorf("safetensors: tensor %q: data_offsets has %d entries, want 2", name, len(*ri.DataOffsets))
	}
	begin, end := (*ri.DataOffsets)[0], (*ri.DataOffsets)[1]
	if begin > end || end > uint64(bufLen) {
		return in, fmt.Errorf("safetensors: tensor %q: data_offsets [%d, %d] outside the %d-byte buffer", name, begin, end, bufLen)
	}
	count := uint64(1)
	in.Shape = make([]int, len(*ri.Shape))
	for i, d := range *ri.Shape {
		hi, lo := bits.Mul64(count, d)
		if hi != 0 || d > math.MaxInt32*uint64(math.MaxInt32) {
			return in, fmt.Errorf("safetensors: tensor %q: shape %v overflows", name, *ri.Shape)
		}
		count = lo
		in.Shape[i] = int(d)
	}
	hi, nbytes := bits.Mul64(count, uint64(size))
	if hi != 0 || nbytes != end-begin {
		return in, fmt.Errorf("safetensors: tensor %q: shape %v of %s needs %d elements x %d bytes, but data_offsets [%d, %d] span %d bytes",
			name, *ri.Shape, in.DType, count, size, begin, end, end-begin)
	}
	in.Begin, in.End = int(begin), int(end)
	return in, nil
}

// checkLayout verifies the tensors tile the buffer: sorted by offset they are
// contiguous, start at 0 and end exactly at the end of the file.
func (f *File) checkLayout() error {
	names := f.Names()
	sort.SliceStable(names, func(i, j int) bool {
		a, b := f.infos[names[i]], f.infos[names[j]]
		if a.Begin != b.Begin {
			return a.Begin < b.Begin
		}
		return a.End < b.End
	})
	pos := 0
	for _, n := range names {
		in := f.infos[n]
		if in.Begin != pos {
			if in.Begin < pos {
				return fmt.Errorf("safetensors: tensor %q: data_offsets [%d, %d] overlap the previous tensor, which ends at %d", n, in.Begin, in.End, pos)
			}
			return fmt.Errorf("safetensors: tensor %q: data_offsets [%d, %d] leave a gap after byte %d", n, in.Begin, in.End, pos)
		}
		pos = in.End
	}
	if pos != len(f.data) {
		return fmt.Errorf("safetensors: tensors cover %d bytes but the buffer after the header has %d", pos, len(f.data))
	}
	return nil
}

// Write writes tensors and optional metadata as a safetensors file. Tensors are
// laid out by decreasing element size, then by name (as the Python writer does,
// which keeps each tensor aligned); the header lists metadata first, is padded
// with spaces to a multiple of 8 bytes, and is deterministic for a given input.
func Write(w io.Writer, tensors []Tensor, metadata map[string]string) error {
	type item struct {
		name  string
		dtype DType
		shape []int
		data  []byte
	}
	items := make([]item, 0, len(tensors))
	seen := map[string]bool{}
	for i := range tensors {
		t := &tensors[i]
		if t.Name == "" || t.Name == metadataKey {
			return fmt.Errorf("safetensors: tensor %d: invalid name %q", i, t.Name)
		}
		if seen[t.Name] {
			return fmt.Errorf("safetensors: duplicate tensor name %q", t.Name)
		}
		seen[t.Name] = true
		d := t.DType
		if d == "" {
			d = F32
		}
		if d.Size() == 0 {
			return fmt.Errorf("safetensors: tensor %q: unknown dtype %q", t.Name, d)
		}
		count := uint64(1)
		for _, dim := range t.Shape {
			if dim < 0 {
				return fmt.Errorf("safetensors: tensor %q: negative dimension in shape %v", t.Name, t.Shape)
			}
			hi, lo := bits.Mul64(count, uint64(dim))
			if hi != 0 || lo > math.MaxInt32*uint64(math.MaxInt32) {
				return fmt.Errorf("safetensors: tensor %q: shape %v overflows", t.Name, t.Shape)
			}
			count = lo
		}
		var data []byte
		switch {
		case t.Raw != nil:
			if uint64(len(t.Raw)) != count*uint64(d.Size()) {
				return fmt.Errorf("safetensors: tensor %q: %d raw bytes, shape %v of %s needs %d", t.Name, len(t.Raw), t.Shape, d, count*uint64(d.Size()))
			}
			data = t.Raw
		case d.IsFloat():
			if uint64(len(t.F32)) != count {
				return fmt.Errorf("safetensors: tensor %q: %d float values, shape %v needs %d", t.Name, len(t.F32), t.Shape, count)
			}
		case d.IsInt():
			if uint64(len(t.I64)) != count {
				return fmt.Errorf("safetensors: tensor %q: %d integer values, shape %v needs %d", t.Name, len(t.I64), t.Shape, count)
			}
		}
		if data == nil {
			var err error
			if data, err = encode(d, t.F32, t.I64); err != nil {
				return fmt.Errorf("safetensors: tensor %q: %w", t.Name, err)
			}
		}
		items = append(items, item{t.Name, d, t.Shape, data})
	}
	sort.Slice(items, func(i, j int) bool {
		a, b := dtypeOrder(items[i].dtype), dtypeOrder(items[j].dtype)
		if a != b {
			return a < b
		}
		return items[i].name < items[j].name
	})

	var hdr bytes.Buffer
	hdr.WriteByte('{')
	first := true
	if len(metadata) > 0 {
		keys := make([]string, 0, len(metadata))
		for k := range metadata {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		hdr.WriteString(`"__metadata__":{`)
		for i, k := range keys {
			if i > 0 {
				hdr.WriteByte(',')
			}
			writeJSONString(&hdr, k)
			hdr.WriteByte(':')
			writeJSONString(&hdr, metadata[k])
		}
		hdr.WriteByte('}')
		first = false
	}
	off := 0
	for _, it := range items {
		if !first {
			hdr.WriteByte(',')
		}
		first = false
		writeJSONString(&hdr, it.name)
		fmt.Fprintf(&hdr, `:{"dtype":%q,"shape":[`, string(it.dtype))
		for i, d := range it.shape {
			if i > 0 {
				hdr.WriteByte(',')
			}
			fmt.Fprintf(&hdr, "%d", d)
		}
		fmt.Fprintf(&hdr, `],"data_offsets":[%d,%d]}`, off, off+len(it.data))
		off += len(it.data)
	}
	hdr.WriteByte('}')
	for hdr.Len()%8 != 0 {
		hdr.WriteByte(' ')
	}
	if hdr.Len() > MaxHeaderSize {
		return fmt.Errorf("safetensors: header of %d bytes exceeds the %d-byte limit", hdr.Len(), MaxHeaderSize)
	}
	var lenBuf [8]byte
	n := uint64(hdr.Len())
	for i := range lenBuf {
		lenBuf[i] = byte(n >> (8 * i))
	}
	if _, err := w.Write(lenBuf[:]); err != nil {
		return err
	}
	if _, err := w.Write(hdr.Bytes()); err != nil {
		return err
	}
	for _, it := range items {
		if _, err := w.Write(it.data); err != nil {
			return err
		}
	}
	return nil
}

func writeJSONString(b *bytes.Buffer, s string) {
	enc, _ := json.Marshal(s) // strings always marshal
	b.Write(enc)
}

// WriteFile writes a safetensors file atomically: it writes a temporary file in
// the same directory, fsyncs it, renames it over path and fsyncs the directory,
// so a crash leaves either the old file or the complete new one.
func WriteFile(path string, tensors []Tensor, metadata map[string]string) (err error) {
	return atomicfile.Write(path, func(w io.Writer) error { return Write(w, tensors, metadata) })
}
