package torchpt

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/siam-ssl/siam/safetensors"
)

// Tensor is one tensor of a checkpoint, copied out of its storage into a
// contiguous row-major array whatever its strides and offset in the file.
type Tensor struct {
	// Name is the tensor's dotted path in the checkpoint, e.g.
	// "state_dict.module.encoder.conv1.weight" (set by Checkpoint.Tensors).
	Name string
	// DType is the element type stored in the file (F32, F16, BF16, F64, I64...).
	DType safetensors.DType
	// Shape is the tensor's size; a scalar has an empty shape.
	Shape []int
	// F32 holds the values of a float tensor, converted exactly from F16/BF16
	// and rounded from F64; nil for integer tensors.
	F32 []float32
	// I64 holds the values of an integer or bool tensor; nil for float tensors.
	I64 []int64
}

// NumElements is the product of Shape (1 for a scalar).
func (t *Tensor) NumElements() int {
	n := 1
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// storage is one archive/data/KEY record: the flat buffer tensors view.
type storage struct {
	key       string
	dtype     safetensors.DType
	numel     int64
	raw       []byte // numel * dtype.Size() bytes
	bigEndian bool
}

// maxRank bounds a tensor's number of dimensions.
const maxRank = 64

// view materialises the tensor (offset, size, stride) of s, checking that
// every element it addresses lies inside the storage. budget is decreased by
// the number of elements created.
func (s *storage) view(off int64, size, stride []int64, budget *int64) (*Tensor, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("tensor on storage %s: %s", s.key, fmt.Sprintf(format, args...))
	}
	if len(size) != len(stride) {
		return nil, bad("size %v and stride %v differ in length", size, stride)
	}
	if len(size) > maxRank {
		return nil, bad("%d dimensions", len(size))
	}
	if off < 0 {
		return nil, bad("negative storage offset %d", off)
	}
	const lim = int64(1) << 50
	numel := int64(1)
	for i, d := range size {
		if d < 0 || stride[i] < 0 {
			return nil, bad("negative size or stride (%v, %v)", size, stride)
		}
		if d > lim || stride[i] > lim {
			return nil, bad("size or stride out of range (%v, %v)", size, stride)
		}
		if d != 0 && numel > lim/d {
			return nil, bad("too many elements %v", size)
		}
		numel *= d
	}
	shape := make([]int, len(size))
	for i, d := range size {
		shape[i] = int(d)
	}
	t := &Tensor{DType: s.dtype, Shape: shape}
	isFloat := s.dtype.IsFloat()
	if numel == 0 {
		if isFloat {
			t.F32 = []float32{}
		} else {
			t.I64 = []int64{}
		}
		return t, nil
	}
	last := off
	for i, d := range size {
		if stride[i] != 0 && d-1 > (lim-last)/stride[i] {
			return nil, bad("view (offset %d, size %v, stride %v) out of range", off, size, stride)
		}
		last += (d - 1) * stride[i]
	}
	if last >= s.numel {
		return nil, bad("view (offset %d, size %v, stride %v) reaches element %d of a storage of %d",
			off, size, stride, last, s.numel)
	}
	if *budget -= numel; *budget < 0 {
		return nil, bad("views repeat storage elements too often (more elements than the file can hold)")
	}
	n := int(numel)
	if isFloat {
		t.F32 = make([]float32, n)
	} else {
		t.I64 = make([]int64, n)
	}
	// Contiguous (row-major) views decode as one run.
	contiguous := true
	expect := int64(1)
	for i := len(size) - 1; i >= 0; i-- {
		if size[i] != 1 && stride[i] != expect {
			contiguous = false
			break
		}
		expect *= size[i]
	}
	sz := int64(s.dtype.Size())
	if contiguous {
		s.decode(t, 0, s.raw[off*sz:(off+numel)*sz])
		return t, nil
	}
	idx := make([]int64, len(size))
	pos := off
	for k := 0; k < n; k++ {
		s.decode(t, k, s.raw[pos*sz:(pos+1)*sz])
		for d := len(size) - 1; d >= 0; d-- {
			idx[d]++
			pos += stride[d]
			if idx[d] < size[d] {
				break
			}
			pos -= stride[d] * size[d]
			idx[d] = 0
		}
	}
	return t, nil
}

// decode converts the elements in raw into t's values starting at index at.
func (s *storage) decode(t *Tensor, at int, raw []byte) {
	var bo binary.ByteOrder = binary.LittleEndian
	if s.bigEndian {
		bo = binary.BigEndian
	}
	switch s.dtype {
	case safetensors.F32:
		for i := range len(raw) / 4 {
			t.F32[at+i] = math.Float32frombits(bo.Uint32(raw[4*i:]))
		}
	case safetensors.F64:
		for i := range len(raw) / 8 {
			t.F32[at+i] = float32(math.Float64frombits(bo.Uint64(raw[8*i:])))
		}
	case safetensors.F16:
		for i := range len(raw) / 2 {
			t.F32[at+i] = safetensors.HalfToFloat32(bo.Uint16(raw[2*i:]))
		}
	case safetensors.BF16:
		for i := range len(raw) / 2 {
			t.F32[at+i] = safetensors.BFloat16ToFloat32(bo.Uint16(raw[2*i:]))
		}
	case safetensors.I64:
		for i := range len(raw) / 8 {
			t.I64[at+i] = int64(bo.Uint64(raw[8*i:]))
		}
	case safetensors.I32:
		for i := range len(raw) / 4 {
			t.I64[at+i] = int64(int32(bo.Uint32(raw[4*i:])))
		}
	case safetensors.I16:
		for i := range len(raw) / 2 {
			t.I64[at+i] = int64(int16(bo.Uint16(raw[2*i:])))
		}
	case safetensors.I8:
		for i, b := range raw {
			t.I64[at+i] = int64(int8(b))
		}
	case safetensors.U8, safetensors.Bool:
		for i, b := range raw {
			t.I64[at+i] = int64(b)
		}
	}
}
