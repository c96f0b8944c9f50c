// Package npy reads and writes NumPy .npy arrays (format versions 1.0, 2.0 and
// 3.0), so embeddings and feature matrices can move between siam and Python
// without cgo. Only plain numeric C-order arrays are supported: little- or
// big-endian float32/float64 and signed/unsigned integers (read into int64).
//
// Reading is bounded: a header is at most MaxHeaderSize bytes, and an array whose
// declared size exceeds the remaining input is rejected before its data is
// allocated (for an io.Reader the data is read incrementally, so memory never
// exceeds what the input actually holds).
package npy

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"github.com/siam-ssl/siam/atomicfile"
	"io"
	"math"
	"math/bits"
	"os"
	"strconv"
	"strings"
	"unicode/utf8"
)

// MaxHeaderSize bounds the header dictionary's length (NumPy itself refuses
// headers over 10 000 bytes by default; we allow more but not unbounded).
const MaxHeaderSize = 1 << 20

// magic starts every .npy file.
const magic = "\x93NUMPY"

// Array is a decoded n-dimensional array in C (row-major) order. Exactly one of
// F32, F64 or I64 is non-nil, according to the stored dtype's kind and size.
type Array struct {
	// Shape is the array's dimensions; empty for a 0-d (scalar) array.
	Shape []int
	// Descr is the dtype as stored in the header, e.g. "<f4" or ">i8".
	Descr string
	// F32 holds float32 ("f4") data, converted to native order.
	F32 []float32
	// F64 holds float64 ("f8") data, converted to native order.
	F64 []float64
	// I64 holds integer data of any width and signedness, widened to int64.
	I64 []int64
}

// Len returns the number of elements: the product of the shape.
func (a *Array) Len() int {
	n := 1
	for _, d := range a.Shape {
		n *= d
	}
	return n
}

// Float64 returns the data as float64. Integers beyond ±2^53 are rounded to the
// nearest representable float64.
func (a *Array) Float64() []float64 {
	switch {
	case a.F64 != nil:
		return append([]float64(nil), a.F64...)
	case a.F32 != nil:
		out := make([]float64, len(a.F32))
		for i, v := range a.F32 {
			out[i] = float64(v)
		}
		return out
	}
	out := make([]float64, len(a.I64))
	for i, v := range a.I64 {
		out[i] = float64(v)
	}
	return out
}

// dtype is a parsed descr.
type dtype struct {
	order byte // '<', '>' (or '|' for one-byte types)
	kind  byte // 'f', 'i', 'u'
	size  int
}

func parseDescr(s string) (dtype, error) {
	if len(s) < 3 {
		return dtype{}, fmt.Errorf("npy: unsupported dtype %q", s)
	}
	d := dtype{order: s[0], kind: s[1]}
	size, err := strconv.Atoi(s[2:])
	if err != nil {
		return dtype{}, fmt.Errorf("npy: unsupported dtype %q", s)
	}
	d.size = size
	switch d.order {
	case '<', '>', '|', '=':
	default:
		return dtype{}, fmt.Errorf("npy: unsupported dtype %q: unknown byte order", s)
	}
	switch {
	case d.kind == 'f' && (size == 4 || size == 8):
	case (d.kind == 'i' || d.kind == 'u') && (size == 1 || size == 2 || size == 4 || size == 8):
	default:
		return dtype{}, fmt.Errorf("npy: unsupported dtype %q (supported: f4, f8, i1-i8, u1-u8)", s)
	}
	if d.order == '|' && size != 1 {
		return dtype{}, fmt.Errorf("npy: dtype %q: '|' byte order needs a one-byte type", s)
	}
	if d.order == '=' { // native order; every Go port we target is little-endian
		d.order = '<'
	}
	return d, nil
}

// header is the parsed header dictionary.
type header struct {
	descr   string
	dt      dtype
	fortran bool
	shape   []int
	count   int // product of shape
	nbytes  int // count * dt.size
}

// readHeader reads the preamble and header dictionary from r.
func readHeader(r io.Reader) (*header, int, error) {
	var pre [8]byte
	if _, err := io.ReadFull(r, pre[:]); err != nil {
		return nil, 0, fmt.Errorf("npy: reading magic: %w", noEOF(err))
	}
	if string(pre[:6]) != magic {
		return nil, 0, errors.New("npy: not a .npy file (bad magic)")
	}
	major, minor := pre[6], pre[7]
	var hlen, consumed int
	switch major {
	case 1:
		var b [2]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return nil, 0, fmt.Errorf("npy: reading header length: %w", noEOF(err))
		}
		hlen, consumed = int(binary.LittleEndian.Uint16(b[:])), 10
	case 2, 3:
		var b [4]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return nil, 0, fmt.Errorf("npy: reading header length: %w", noEOF(err))
		}
		n := binary.LittleEndian.Uint32(b[:])
		if n > MaxHeaderSize {
			return nil, 0, fmt.Errorf("npy: header length %d exceeds the %d-byte limit", n, MaxHeaderSize)
		}
		hlen, consumed = int(n), 12
	default:
		return nil, 0, fmt.Errorf("npy: unsupported format version %d.%d", major, minor)
	}
	if minor != 0 {
		return nil, 0, fmt.Errorf("npy: unsupported format version %d.%d", major, minor)
	}
	buf := make([]byte, hlen)
	if _, err := io.ReadFull(r, buf); err != nil {
		return nil, 0, fmt.Errorf("npy: reading %d-byte header: %w", hlen, noEOF(err))
	}
	consumed += hlen
	if major < 3 {
		for _, c := range buf {
			if c >= 0x80 {
				return nil, 0, fmt.Errorf("npy: version %d.0 header is not ASCII", major)
			}
		}
	} else if !utf8.Valid(buf) {
		return nil, 0, errors.New("npy: version 3.0 header is not valid UTF-8")
	}
	h, err := parseHeader(string(buf))
	if err != nil {
		return nil, 0, err
	}
	return h, consumed, nil
}

func noEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// Read decodes one array from r. It reads exactly the header and the array's
// bytes; anything after them is left unread. Fortran-order arrays are rejected.
func Read(r io.Reader) (*Array, error) {
	h, _, err := readHeader(r)
	if err != nil {
		return nil, err
	}
	// Read incrementally: a header claiming gigabytes costs nothing unless the
	// input really holds them.
	var buf bytes.Buffer
	if n, err := io.CopyN(&buf, r, int64(h.nbytes)); err != nil {
		return nil, fmt.Errorf("npy: shape %v of %s needs %d data bytes, input has %d: %w", h.shape, h.descr, h.nbytes, n, noEOF(err))
	}
	return h.decode(buf.Bytes())
}

// ReadBytes decodes an array held entirely in data. The data length must match
// the header exactly: a short or over-long input is an error.
func ReadBytes(data []byte) (*Array, error) {
	br := bytes.NewReader(data)
	h, consumed, err := readHeader(br)
	if err != nil {
		return nil, err
	}
	rest := data[consumed:]
	if len(rest) != h.nbytes {
		return nil, fmt.Errorf("npy: shape %v of %s needs %d data bytes, file has %d after the header", h.shape, h.descr, h.nbytes, len(rest))
	}
	return h.decode(rest)
}

// ReadFile reads the .npy file at path (see ReadBytes). Errors name the path.
func ReadFile(path string) (*Array, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("npy: %w", err)
	}
	a, err := ReadBytes(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return a, nil
}

// decode converts raw data (len == h.nbytes) to an Array.
func (h *header) decode(raw []byte) (*Array, error) {
	a := &Array{Shape: h.shape, Descr: h.descr}
	var bo binary.ByteOrder = binary.LittleEndian
	if h.dt.order == '>' {
		bo = binary.BigEndian
	}
	sz := h.dt.size
	switch {
	case h.dt.kind == 'f' && sz == 4:
		a.F32 = make([]float32, h.count)
		for i := range a.F32 {
			a.F32[i] = math.Float32frombits(bo.Uint32(raw[4*i:]))
		}
	case h.dt.kind == 'f':
		a.F64 = make([]float64, h.count)
		for i := range a.F64 {
			a.F64[i] = math.Float64frombits(bo.Uint64(raw[8*i:]))
		}
	default:
		a.I64 = make([]int64, h.count)
		signed := h.dt.kind == 'i'
		for i := range a.I64 {
			p := raw[i*sz:]
			var v uint64
			switch sz {
			case 1:
				v = uint64(p[0])
			case 2:
				v = uint64(bo.Uint16(p))
			case 4:
				v = uint64(bo.Uint32(p))
			case 8:
				v = bo.Uint64(p)
			}
			if signed { // sign-extend from sz bytes
				shift := 64 - 8*uint(sz)
				a.I64[i] = int64(v<<shift) >> shift
			} else if v > math.MaxInt64 {
				return nil, fmt.Errorf("npy: element %d: %s value %d overflows int64", i, h.descr, v)
			} else {
				a.I64[i] = int64(v)
			}
		}
	}
	return a, nil
}

// parseHeader parses the Python dict literal, e.g.
// {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }
func parseHeader(s string) (*header, error) {
	p := &parser{s: s}
	fields := map[string]any{}
	p.ws()
	if !p.eat('{') {
		return nil, fmt.Errorf("npy: header %q is not a dict literal", trunc(s))
	}
	for {
		p.ws()
		if p.eat('}') {
			break
		}
		key, err := p.str()
		if err != nil {
			return nil, fmt.Errorf("npy: header %q: key: %w", trunc(s), err)
		}
		p.ws()
		if !p.eat(':') {
			return nil, fmt.Errorf("npy: header %q: expected ':' after %q", trunc(s), key)
		}
		p.ws()
		var v any
		switch key {
		case "descr":
			v, err = p.str()
		case "fortran_order":
			v, err = p.boolean()
		case "shape":
			v, err = p.tuple()
		default:
			return nil, fmt.Errorf("npy: header has unexpected key %q", key)
		}
		if err != nil {
			return nil, fmt.Errorf("npy: header %q: %s: %w", trunc(s), key, err)
		}
		if _, dup := fields[key]; dup {
			return nil, fmt.Errorf("npy: header has duplicate key %q", key)
		}
		fields[key] = v
		p.ws()
		if p.eat(',') {
			continue
		}
		p.ws()
		if !p.eat('}') {
			return nil, fmt.Errorf("npy: header %q: expected ',' or '}'", trunc(s))
		}
		break
	}
	if strings.TrimRight(p.s[p.i:], " \t\r\n\x00") != "" {
		return nil, fmt.Errorf("npy: header has trailing data %q", trunc(p.s[p.i:]))
	}
	for _, k := range []string{"descr", "fortran_order", "shape"} {
		if _, ok := fields[k]; !ok {
			return nil, fmt.Errorf("npy: header lacks %q", k)
		}
	}
	h := &header{descr: fields["descr"].(string), fortran: fields["fortran_order"].(bool), shape: fields["shape"].([]int)}
	var err error
	if h.dt, err = parseDescr(h.descr); err != nil {
		return nil, err
	}
	count := uint64(1)
	for _, d := range h.shape {
		hi, lo := bits.Mul64(count, uint64(d))
		if hi != 0 || lo > math.MaxInt64/8 {
			return nil, fmt.Errorf("npy: shape %v is too large", h.shape)
		}
		count = lo
	}
	h.count = int(count)
	h.nbytes = h.count * h.dt.size
	if h.fortran && len(h.shape) > 1 {
		// (A Fortran-order 0-d or 1-d array has the same layout as C order.)
		return nil, errors.New("npy: fortran order not supported (save with np.ascontiguousarray)")
	}
	return h, nil
}

func trunc(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}

// parser is a tiny scanner for the Python literal subset .npy headers use.
type parser struct {
	s string
	i int
}

func (p *parser) ws() {
	for p.i < len(p.s) && strings.IndexByte(" \t\r\n", p.s[p.i]) >= 0 {
		p.i++
	}
}

func (p *parser) eat(c byte) bool {
	if p.i < len(p.s) && p.s[p.i] == c {
		p.i++
		return true
	}
	return false
}

// str parses a quoted string without escapes ('...' or "...").
func (p *parser) str() (string, error) {
	if p.i >= len(p.s) || (p.s[p.i] != '\'' && p.s[p.i] != '"') {
		return "", errors.New("expected a quoted string")
	}
	q := p.s[p.i]
	end := strings.IndexByte(p.s[p.i+1:], q)
	if end < 0 {
		return "", errors.New("unterminated string")
	}
	v := p.s[p.i+1 : p.i+1+end]
	if strings.IndexByte(v, '\\') >= 0 {
		return "", errors.New("escapes in strings are not supported")
	}
	p.i += end + 2
	return v, nil
}

func (p *parser) boolean() (bool, error) {
	switch {
	case strings.HasPrefix(p.s[p.i:], "True"):
		p.i += 4
		return true, nil
	case strings.HasPrefix(p.s[p.i:], "False"):
		p.i += 5
		return false, nil
	}
	return false, errors.New("expected True or False")
}

// tuple parses a shape tuple: "()", "(3,)", "(3, 4)", "( 3 ,4 , )", with Python 2
// long suffixes ("3L") allowed.
func (p *parser) tuple() ([]int, error) {
	if !p.eat('(') {
		return nil, errors.New("expected '('")
	}
	shape := []int{}
	for {
		p.ws()
		if p.eat(')') {
			if len(shape) == 1 && !p.sawComma() {
				// "(3)" is an int in Python, not a tuple; NumPy never writes it.
				return nil, errors.New("a one-element shape needs a trailing comma")
			}
			return shape, nil
		}
		start := p.i
		for p.i < len(p.s) && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
			p.i++
		}
		if p.i == start {
			return nil, fmt.Errorf("expected a non-negative integer at %q", trunc(p.s[start:]))
		}
		d, err := strconv.Atoi(p.s[start:p.i])
		if err != nil || d > math.MaxInt32*math.MaxInt16 {
			return nil, fmt.Errorf("dimension %q too large", p.s[start:p.i])
		}
		if p.i < len(p.s) && (p.s[p.i] == 'L' || p.s[p.i] == 'l') {
			p.i++
		}
		shape = append(shape, d)
		p.ws()
		if p.eat(',') {
			continue
		}
		p.ws()
		if !p.eat(')') {
			return nil, errors.New("expected ',' or ')' in shape")
		}
		if len(shape) == 1 {
			return nil, errors.New("a one-element shape needs a trailing comma")
		}
		return shape, nil
	}
}

// sawComma reports whether the character before the closing paren (skipping
// whitespace) was a comma.
func (p *parser) sawComma() bool {
	j := p.i - 2 // p.i is just past ')'
	for j >= 0 && strings.IndexByte(" \t\r\n", p.s[j]) >= 0 {
		j--
	}
	return j >= 0 && p.s[j] == ','
}

// Write writes a as a .npy file: version 1.0 when the header fits (else 2.0),
// little-endian, C order, header padded with spaces and a newline so the data
// starts on a 64-byte boundary, as NumPy does. a must hold F32 or F64 data (or
// I64, written as "<i8") whose length matches its shape.
func Write(w io.Writer, a *Array) error {
	var descr string
	var n int
	switch {
	case a.F32 != nil:
		descr, n = "<f4", len(a.F32)
	case a.F64 != nil:
		descr, n = "<f8", len(a.F64)
	case a.I64 != nil:
		descr, n = "<i8", len(a.I64)
	default:
		if a.Len() != 0 {
			return errors.New("npy: array has no data")
		}
		descr = "<f4"
	}
	count := uint64(1)
	for _, d := range a.Shape {
		if d < 0 {
			return fmt.Errorf("npy: negative dimension in shape %v", a.Shape)
		}
		hi, lo := bits.Mul64(count, uint64(d))
		if hi != 0 {
			return fmt.Errorf("npy: shape %v overflows", a.Shape)
		}
		count = lo
	}
	if count != uint64(n) {
		return fmt.Errorf("npy: shape %v needs %d elements, array has %d", a.Shape, count, n)
	}
	var sh strings.Builder
	sh.WriteByte('(')
	for i, d := range a.Shape {
		if i > 0 {
			sh.WriteString(", ")
		}
		sh.WriteString(strconv.Itoa(d))
	}
	if len(a.Shape) == 1 {
		sh.WriteByte(',')
	}
	sh.WriteByte(')')
	dict := fmt.Sprintf("{'descr': '%s', 'fortran_order': False, 'shape': %s, }", descr, sh.String())
	pre := []byte(magic + "\x01\x00")
	lenSize := 2
	// Header length (dict + padding + '\n') so that the data starts 64-aligned.
	headerLen := func(prefix int) (hlen, pad int) {
		pad = (64 - (prefix+len(dict)+1)%64) % 64
		return len(dict) + pad + 1, pad
	}
	hlen, pad := headerLen(len(pre) + lenSize)
	if hlen > math.MaxUint16 { // needs format 2.0 and its 4-byte length
		pre[6], lenSize = 2, 4
		hlen, pad = headerLen(len(pre) + lenSize)
	}
	var hb bytes.Buffer
	hb.Write(pre)
	if lenSize == 2 {
		binary.Write(&hb, binary.LittleEndian, uint16(hlen))
	} else {
		binary.Write(&hb, binary.LittleEndian, uint32(hlen))
	}
	hb.WriteString(dict)
	hb.Write(bytes.Repeat([]byte{' '}, pad))
	hb.WriteByte('\n')
	if _, err := w.Write(hb.Bytes()); err != nil {
		return err
	}
	bw := bufio.NewWriterSize(w, 1<<16)
	var b [8]byte
	switch descr {
	case "<f4":
		for _, v := range a.F32 {
			binary.LittleEndian.PutUint32(b[:], math.Float32bits(v))
			bw.Write(b[:4])
		}
	case "<f8":
		for _, v := range a.F64 {
			binary.LittleEndian.PutUint64(b[:], math.Float64bits(v))
			bw.Write(b[:])
		}
	case "<i8":
		for _, v := range a.I64 {
			binary.LittleEndian.PutUint64(b[:], uint64(v))
			bw.Write(b[:])
		}
	}
	return bw.Flush()
}

// WriteFile writes a to path atomically (temporary file in the same directory,
// fsync, rename), so readers never see a partial array.
func WriteFile(path string, a *Array) error {
	return atomicfile.Write(path, func(w io.Writer) error { return Write(w, a) })
}

// WriteMatrix32 writes a rows x cols float32 matrix (row-major data) to w.
func WriteMatrix32(w io.Writer, rows, cols int, data []float32) error {
	return Write(w, &Array{Shape: []int{rows, cols}, F32: data})
}

// WriteMatrix64 writes a rows x cols float64 matrix (row-major data) to w.
func WriteMatrix64(w io.Writer, rows, cols int, data []float64) error {
	return Write(w, &Array{Shape: []int{rows, cols}, F64: data})
}
