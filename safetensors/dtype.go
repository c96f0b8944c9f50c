package safetensors

import (
	"encoding/binary"
	"fmt"
	"math"
)

// DType is a safetensors element type, spelled as in the file header ("F32",
// "BF16", ...). Read accepts every dtype the reference implementation defines, so
// that a file mixing supported and unsupported tensors can still be opened; Get
// decodes only the float and integer types listed in the constants below.
type DType string

// The dtypes this package decodes. Float dtypes decode to float32, integer dtypes to
// int64 (unsigned 64-bit values above math.MaxInt64 are rejected).
const (
	F64  DType = "F64"  // IEEE binary64, decoded to float32 (exact bytes kept in Raw)
	F32  DType = "F32"  // IEEE binary32, the primary type
	F16  DType = "F16"  // IEEE binary16, decoded exactly to float32
	BF16 DType = "BF16" // bfloat16, decoded exactly to float32
	I64  DType = "I64"  // e.g. BatchNorm num_batches_tracked in PyTorch state dicts
	I32  DType = "I32"  // 32-bit signed integer
	I16  DType = "I16"  // 16-bit signed integer
	I8   DType = "I8"   // 8-bit signed integer
	U64  DType = "U64"  // 64-bit unsigned integer (values > MaxInt64 rejected on decode)
	U32  DType = "U32"  // 32-bit unsigned integer
	U16  DType = "U16"  // 16-bit unsigned integer
	U8   DType = "U8"   // 8-bit unsigned integer
	Bool DType = "BOOL" // one byte per element, 0 or 1
)

// dtypeSize is the byte size of every dtype the format defines; dtypes with a size
// but no decoder (the FP8 formats) can be listed and copied raw but not decoded.
var dtypeSize = map[DType]int{
	F64: 8, F32: 4, F16: 2, BF16: 2,
	I64: 8, I32: 4, I16: 2, I8: 1,
	U64: 8, U32: 4, U16: 2, U8: 1, Bool: 1,
	"F8_E5M2": 1, "F8_E4M3": 1,
}

// Size returns the byte size of one element of d, or 0 for an unknown dtype.
func (d DType) Size() int { return dtypeSize[d] }

// IsFloat reports whether d decodes into Tensor.F32.
func (d DType) IsFloat() bool { return d == F64 || d == F32 || d == F16 || d == BF16 }

// IsInt reports whether d decodes into Tensor.I64.
func (d DType) IsInt() bool {
	switch d {
	case I64, I32, I16, I8, U64, U32, U16, U8, Bool:
		return true
	}
	return false
}

// dtypeRank is the declaration order of the reference implementation's Dtype
// enum. Its writer lays tensors out by decreasing rank (then by name), which puts
// larger elements first and keeps every tensor aligned; Write does the same so its
// output is byte-identical to Python's for the same tensors and metadata.
var dtypeRank = map[DType]int{
	Bool: 0, U8: 1, I8: 2, "F8_E5M2": 3, "F8_E4M3": 4, I16: 5, U16: 6, F16: 7,
	BF16: 8, I32: 9, U32: 10, F32: 11, F64: 12, I64: 13, U64: 14,
}

// dtypeOrder sorts dtypes for the writer: higher reference rank first.
func dtypeOrder(d DType) int { return -dtypeRank[d] }

// HalfToFloat32 converts an IEEE 754 binary16 bit pattern to float32 exactly
// (subnormals, infinities and NaN payloads included).
func HalfToFloat32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f: // Inf or NaN
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	case exp != 0: // normal
		return math.Float32frombits(sign | (exp+127-15)<<23 | mant<<13)
	case mant == 0: // signed zero
		return math.Float32frombits(sign)
	}
	// Subnormal: value = mant * 2^-24; normalise.
	e := uint32(127 - 15 + 1)
	for mant&0x400 == 0 {
		mant <<= 1
		e--
	}
	return math.Float32frombits(sign | e<<23 | (mant&0x3ff)<<13)
}

// Float32ToHalf converts f to the nearest IEEE 754 binary16 value (round to
// nearest, ties to even); values beyond the half range become ±Inf and NaN stays NaN.
func Float32ToHalf(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int32(b>>23) & 0xff
	mant := b & 0x7fffff
	if exp == 0xff {
		if mant != 0 {
			return sign | 0x7e00 | uint16(mant>>13) // quiet NaN, keep top payload bits
		}
		return sign | 0x7c00
	}
	e := exp - 127 + 15
	if e >= 0x1f {
		return sign | 0x7c00
	}
	if e <= 0 {
		if e < -10 {
			return sign // underflows to zero (also below half of the smallest subnormal)
		}
		// Subnormal half: shift the full 24-bit significand.
		m := mant | 0x800000
		shift := uint32(14 - e)
		half := m >> shift
		rem := m & (1<<shift - 1)
		mid := uint32(1) << (shift - 1)
		if rem > mid || (rem == mid && half&1 == 1) {
			half++
		}
		return sign | uint16(half)
	}
	half := uint32(e)<<10 | mant>>13
	rem := mant & 0x1fff
	if rem > 0x1000 || (rem == 0x1000 && half&1 == 1) {
		half++ // may carry into the exponent, up to Inf: that is the correct rounding
	}
	return sign | uint16(half)
}

// BFloat16ToFloat32 converts a bfloat16 bit pattern to float32 exactly.
func BFloat16ToFloat32(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }

// Float32ToBFloat16 converts f to the nearest bfloat16 (ties to even); NaN stays NaN.
func Float32ToBFloat16(f float32) uint16 {
	b := math.Float32bits(f)
	if b&0x7fffffff > 0x7f800000 {
		return uint16(b>>16) | 0x40 // quiet NaN
	}
	b += 0x7fff + (b>>16)&1
	return uint16(b >> 16)
}

// decode converts raw little-endian data of dtype d into float32 or int64 values.
func decode(d DType, raw []byte) (f []float32, ints []int64, err error) {
	sz := d.Size()
	n := len(raw) / sz
	switch {
	case d.IsFloat():
		f = make([]float32, n)
		for i := range f {
			p := raw[i*sz:]
			switch d {
			case F32:
				f[i] = math.Float32frombits(binary.LittleEndian.Uint32(p))
			case F64:
				f[i] = float32(math.Float64frombits(binary.LittleEndian.Uint64(p)))
			case F16:
				f[i] = HalfToFloat32(binary.LittleEndian.Uint16(p))
			case BF16:
				f[i] = BFloat16ToFloat32(binary.LittleEndian.Uint16(p))
			}
		}
		return f, nil, nil
	case d.IsInt():
		ints = make([]int64, n)
		for i := range ints {
			p := raw[i*sz:]
			switch d {
			case I64:
				ints[i] = int64(binary.LittleEndian.Uint64(p))
			case I32:
				ints[i] = int64(int32(binary.LittleEndian.Uint32(p)))
			case I16:
				ints[i] = int64(int16(binary.LittleEndian.Uint16(p)))
			case I8:
				ints[i] = int64(int8(p[0]))
			case U64:
				v := binary.LittleEndian.Uint64(p)
				if v > math.MaxInt64 {
					return nil, nil, fmt.Errorf("element %d: U64 value %d overflows int64", i, v)
				}
				ints[i] = int64(v)
			case U32:
				ints[i] = int64(binary.LittleEndian.Uint32(p))
			case U16:
				ints[i] = int64(binary.LittleEndian.Uint16(p))
			case U8:
				ints[i] = int64(p[0])
			case Bool:
				if p[0] > 1 {
					return nil, nil, fmt.Errorf("element %d: BOOL byte %d is neither 0 nor 1", i, p[0])
				}
				ints[i] = int64(p[0])
			}
		}
		return nil, ints, nil
	}
	return nil, nil, fmt.Errorf("dtype %s cannot be decoded (supported: F64 F32 F16 BF16 and integer types)", d)
}

// encode converts a tensor's values into little-endian bytes of dtype d.
func encode(d DType, f []float32, ints []int64) ([]byte, error) {
	sz := d.Size()
	switch {
	case d.IsFloat():
		out := make([]byte, len(f)*sz)
		for i, v := range f {
			p := out[i*sz:]
			switch d {
			case F32:
				binary.LittleEndian.PutUint32(p, math.Float32bits(v))
			case F64:
				binary.LittleEndian.PutUint64(p, math.Float64bits(float64(v)))
			case F16:
				binary.LittleEndian.PutUint16(p, Float32ToHalf(v))
			case BF16:
				binary.LittleEndian.PutUint16(p, Float32ToBFloat16(v))
			}
		}
		return out, nil
	case d.IsInt():
		out := make([]byte, len(ints)*sz)
		for i, v := range ints {
			p := out[i*sz:]
			var lo, hi int64
			switch d {
			case I64, U64:
				lo, hi = math.MinInt64, math.MaxInt64
				if d == U64 {
					lo = 0
				}
				binary.LittleEndian.PutUint64(p, uint64(v))
			case I32:
				lo, hi = math.MinInt32, math.MaxInt32
				binary.LittleEndian.PutUint32(p, uint32(v))
			case U32:
				lo, hi = 0, math.MaxUint32
				binary.LittleEndian.PutUint32(p, uint32(v))
			case I16:
				lo, hi = math.MinInt16, math.MaxInt16
				binary.LittleEndian.PutUint16(p, uint16(v))
			case U16:
				lo, hi = 0, math.MaxUint16
				binary.LittleEndian.PutUint16(p, uint16(v))
			case I8:
				lo, hi = math.MinInt8, math.MaxInt8
				p[0] = byte(v)
			case U8:
				lo, hi = 0, math.MaxUint8
				p[0] = byte(v)
			case Bool:
				lo, hi = 0, 1
				p[0] = byte(v)
			}
			if v < lo || v > hi {
				return nil, fmt.Errorf("element %d: value %d out of range for %s", i, v, d)
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("cannot encode dtype %q from values (give Raw bytes instead)", d)
}
