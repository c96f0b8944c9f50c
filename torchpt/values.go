package torchpt

import (
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
)

// The unpickled object tree is made of these Go values only:
//
//	None -> nil            bool -> bool             int -> int64 (*big.Int beyond 64 bits)
//	float -> float64       str -> string            bytes -> []byte
//	tuple -> Tuple         list -> *List            dict, OrderedDict -> *Dict
//	tensor -> *Tensor      an allowed class or function named as a value -> Global
//
// Nothing else can appear: the reader refuses every other construct.

// Tuple is an unpickled Python tuple (also torch.Size).
type Tuple []any

// List is an unpickled Python list; a pointer because pickle fills lists after
// creating (and possibly sharing) them.
type List struct {
	Items []any
}

// Global is an allowed module-level name that appears as a value (a storage
// type, or a rebuild function waiting for its arguments). It is a name only:
// nothing is imported.
type Global struct {
	Module, Name string
}

// String is the dotted Python name, e.g. "torch.FloatStorage".
func (g Global) String() string { return g.Module + "." + g.Name }

// Dict is an unpickled dict or collections.OrderedDict, keeping insertion
// order. Keys are hashable values (nil, bool, int64, *big.Int, float64, string,
// []byte, Tuple of those, Global); as in Python, 1, 1.0 and True are one key.
type Dict struct {
	keys, vals []any
	index      map[string]int
	// Attrs holds instance attributes set by pickle's BUILD (PyTorch stores a
	// state dict's per-module "_metadata" there); nil when there were none.
	Attrs *Dict
}

// NewDict returns an empty Dict.
func NewDict() *Dict { return &Dict{index: map[string]int{}} }

// Len is the number of entries.
func (d *Dict) Len() int { return len(d.keys) }

// Key returns the i-th key in insertion order.
func (d *Dict) Key(i int) any { return d.keys[i] }

// Value returns the i-th value in insertion order.
func (d *Dict) Value(i int) any { return d.vals[i] }

// Get returns the value stored under key (compared as Python would).
func (d *Dict) Get(key any) (any, bool) {
	h, err := hashKey(key)
	if err != nil {
		return nil, false
	}
	i, ok := d.index[h]
	if !ok {
		return nil, false
	}
	return d.vals[i], true
}

// Set stores v under key, keeping the key's first position when it is already
// present (Python's dict semantics). Unhashable keys are an error.
func (d *Dict) Set(key, v any) error {
	h, err := hashKey(key)
	if err != nil {
		return err
	}
	if i, ok := d.index[h]; ok {
		d.vals[i] = v
		return nil
	}
	d.index[h] = len(d.keys)
	d.keys = append(d.keys, key)
	d.vals = append(d.vals, v)
	return nil
}

// maxKeyNodes bounds the work of hashing one key: a pickle can nest shared
// tuples so that a naive walk takes exponential time.
const maxKeyNodes = 4096

// hashKey encodes a hashable value as a string such that two values have the
// same encoding exactly when Python considers them equal keys.
func hashKey(k any) (string, error) {
	var b strings.Builder
	budget := maxKeyNodes
	if err := appendKey(&b, k, &budget); err != nil {
		return "", err
	}
	return b.String(), nil
}

func appendKey(b *strings.Builder, k any, budget *int) error {
	*budget--
	if *budget < 0 {
		return fmt.Errorf("dict key too large or too deeply nested")
	}
	switch v := k.(type) {
	case nil:
		b.WriteString("N;")
	case bool:
		if v {
			b.WriteString("i1;")
		} else {
			b.WriteString("i0;")
		}
	case int64:
		b.WriteString("i" + strconv.FormatInt(v, 10) + ";")
	case *big.Int:
		b.WriteString("i" + v.String() + ";")
	case float64:
		if v == math.Trunc(v) && math.Abs(v) < 1<<63 {
			b.WriteString("i" + strconv.FormatInt(int64(v), 10) + ";")
		} else {
			b.WriteString("f" + strconv.FormatUint(math.Float64bits(v), 16) + ";")
		}
	case string:
		b.WriteString("s" + strconv.Itoa(len(v)) + ":" + v)
	case []byte:
		b.WriteString("b" + strconv.Itoa(len(v)) + ":" + string(v))
	case Global:
		b.WriteString("g" + strconv.Itoa(len(v.Module)) + ":" + v.Module + v.Name + ";")
	case Tuple:
		b.WriteString("t" + strconv.Itoa(len(v)) + "(")
		for _, x := range v {
			if err := appendKey(b, x, budget); err != nil {
				return err
			}
		}
	default:
		return fmt.Errorf("unhashable dict key of type %s", typeName(k))
	}
	return nil
}

// typeName names a value's Python type for error messages.
func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "None"
	case bool:
		return "bool"
	case int64, *big.Int:
		return "int"
	case float64:
		return "float"
	case string:
		return "str"
	case []byte:
		return "bytes"
	case Tuple:
		return "tuple"
	case *List:
		return "list"
	case *Dict:
		return "dict"
	case *Tensor:
		return "tensor"
	case *storage:
		return "storage"
	case Global:
		return v.(Global).String()
	}
	return fmt.Sprintf("%T", v)
}
