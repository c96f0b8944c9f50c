package torchpt

import (
	"errors"
	"fmt"
	"math/big"
	"sort"
	"strconv"
	"strings"

	"github.com/siam-ssl/siam/safetensors"
)

// storageTypes maps PyTorch's typed-storage classes, named in every tensor's
// persistent id, to element types.
var storageTypes = map[string]safetensors.DType{
	"FloatStorage":    safetensors.F32,
	"DoubleStorage":   safetensors.F64,
	"HalfStorage":     safetensors.F16,
	"BFloat16Storage": safetensors.BF16,
	"LongStorage":     safetensors.I64,
	"IntStorage":      safetensors.I32,
	"ShortStorage":    safetensors.I16,
	"CharStorage":     safetensors.I8,
	"ByteStorage":     safetensors.U8,
	"BoolStorage":     safetensors.Bool,
}

// allowed lists every global a checkpoint may name besides the storage types.
// Each is either a rebuild function mapped to Go code in call, or a class that
// only appears as an argument of one.
var allowed = map[string]bool{
	"collections.OrderedDict":                    true,
	"torch._utils._rebuild_tensor":               true,
	"torch._utils._rebuild_tensor_v2":            true,
	"torch._utils._rebuild_parameter":            true,
	"torch._utils._rebuild_parameter_with_state": true,
	"torch._tensor._rebuild_from_type_v2":        true,
	"torch.Tensor":                               true,
	"torch.nn.parameter.Parameter":               true,
	"torch.Size":                                 true,
	"torch.device":                               true,
	"_codecs.encode":                             true,
}

// dtypeNames are torch dtypes, which a checkpoint may hold as plain values
// (e.g. a config entry); they stay inert Global values.
var dtypeNames = map[string]bool{
	"float32": true, "float": true, "float64": true, "double": true, "float16": true, "half": true,
	"bfloat16": true, "int64": true, "long": true, "int32": true, "int": true, "int16": true,
	"short": true, "int8": true, "uint8": true, "bool": true,
}

// AllowedGlobals lists, sorted, the Python names a checkpoint's pickle may
// refer to; any other name is refused before anything else happens.
func AllowedGlobals() []string {
	var out []string
	for k := range allowed {
		out = append(out, k)
	}
	for k := range storageTypes {
		out = append(out, "torch."+k)
	}
	for k := range dtypeNames {
		out = append(out, "torch."+k)
	}
	sort.Strings(out)
	return out
}

// ErrForbiddenGlobal is wrapped by the error returned when a pickle names a
// global outside AllowedGlobals (such as os.system or builtins.eval).
var ErrForbiddenGlobal = errors.New("global not allowed")

// torchHooks resolves the globals and storages of a torch.save pickle.
type torchHooks struct {
	load func(key string, dt safetensors.DType, numel int64) (*storage, error)
	// budget is how many tensor elements may still be materialised: a view can
	// repeat storage elements (stride 0), so the total is bounded separately.
	budget int64
}

func (h *torchHooks) global(module, name string) (any, error) {
	full := module + "." + name
	if allowed[full] {
		return Global{module, name}, nil
	}
	if module == "torch" {
		if _, ok := storageTypes[name]; ok || dtypeNames[name] {
			return Global{module, name}, nil
		}
	}
	hint := ""
	switch {
	case strings.HasPrefix(module, "__torch__"):
		hint = " (a TorchScript archive from torch.jit.save: save model.state_dict() with torch.save instead)"
	case strings.HasSuffix(name, "Storage") && module == "torch":
		hint = " (a storage type this reader does not decode)"
	case module == "numpy" || strings.HasPrefix(module, "numpy."):
		hint = " (numpy values: keep only the state dict, e.g. torch.save(ckpt['state_dict'], 'weights.pth'))"
	default:
		hint = " (keep only the state dict, e.g. torch.save(model.state_dict(), 'weights.pth'))"
	}
	return nil, fmt.Errorf("%w: the pickle refers to %s; only tensors, dicts, lists, tuples, strings and numbers are read, and nothing is imported or executed%s",
		ErrForbiddenGlobal, full, hint)
}

func (h *torchHooks) call(fn any, args Tuple) (any, error) {
	g, ok := fn.(Global)
	if !ok {
		return nil, fmt.Errorf("cannot call a %s", typeName(fn))
	}
	switch g.String() {
	case "collections.OrderedDict":
		return newOrderedDict(args)
	case "torch._utils._rebuild_tensor_v2":
		// (storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
		if len(args) < 6 || len(args) > 7 {
			return nil, fmt.Errorf("%s: %d arguments, want 6 or 7", g, len(args))
		}
		return h.rebuild(args[:4])
	case "torch._utils._rebuild_tensor":
		if len(args) != 4 {
			return nil, fmt.Errorf("%s: %d arguments, want 4", g, len(args))
		}
		return h.rebuild(args)
	case "torch._utils._rebuild_parameter", "torch._utils._rebuild_parameter_with_state":
		// (data, requires_grad, backward_hooks[, state])
		if len(args) < 3 || len(args) > 4 {
			return nil, fmt.Errorf("%s: %d arguments, want 3 or 4", g, len(args))
		}
		t, ok := args[0].(*Tensor)
		if !ok {
			return nil, fmt.Errorf("%s: data is a %s, not a tensor", g, typeName(args[0]))
		}
		return t, nil
	case "torch._tensor._rebuild_from_type_v2":
		// (func, new_type, args, state): a tensor (subclass) rebuilt by func.
		if len(args) != 4 {
			return nil, fmt.Errorf("%s: %d arguments, want 4", g, len(args))
		}
		nt, ok := args[1].(Global)
		if !ok || (nt.String() != "torch.Tensor" && nt.String() != "torch.nn.parameter.Parameter") {
			return nil, fmt.Errorf("%s: tensor type %s is not allowed", g, typeName(args[1]))
		}
		inner, ok := args[2].(Tuple)
		if !ok {
			return nil, fmt.Errorf("%s: arguments are a %s, not a tuple", g, typeName(args[2]))
		}
		v, err := h.call(args[0], inner)
		if err != nil {
			return nil, err
		}
		if _, ok := v.(*Tensor); !ok {
			return nil, fmt.Errorf("%s: %s did not build a tensor", g, typeName(args[0]))
		}
		return v, nil
	case "torch.Size":
		if len(args) == 0 {
			return Tuple{}, nil
		}
		if len(args) != 1 {
			return nil, fmt.Errorf("%s: %d arguments, want 1", g, len(args))
		}
		switch s := args[0].(type) {
		case Tuple:
			return s, nil
		case *List:
			return Tuple(append([]any{}, s.Items...)), nil
		}
		return nil, fmt.Errorf("%s of a %s", g, typeName(args[0]))
	case "torch.device":
		// torch.device("cuda", 0) and the like: kept as its description.
		if len(args) == 0 || len(args) > 2 {
			return nil, fmt.Errorf("%s: %d arguments, want 1 or 2", g, len(args))
		}
		s, ok := args[0].(string)
		if !ok {
			return nil, fmt.Errorf("%s of a %s", g, typeName(args[0]))
		}
		if len(args) == 2 {
			i, ok := args[1].(int64)
			if !ok {
				return nil, fmt.Errorf("%s index is a %s", g, typeName(args[1]))
			}
			s += ":" + strconv.FormatInt(i, 10)
		}
		return s, nil
	case "_codecs.encode":
		// Protocol 2 writes Python 3 bytes as _codecs.encode(latin-1 text, "latin1").
		if len(args) != 2 {
			return nil, fmt.Errorf("%s: %d arguments, want 2", g, len(args))
		}
		s, ok1 := args[0].(string)
		enc, ok2 := args[1].(string)
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("%s needs two strings", g)
		}
		switch strings.ToLower(enc) {
		case "latin1", "latin-1", "iso-8859-1":
			b := make([]byte, 0, len(s))
			for _, r := range s {
				if r > 0xff {
					return nil, fmt.Errorf("%s: character %U is not latin-1", g, r)
				}
				b = append(b, byte(r))
			}
			return b, nil
		case "utf-8", "utf8":
			return []byte(s), nil
		}
		return nil, fmt.Errorf("%s: encoding %q not supported", g, enc)
	}
	return nil, fmt.Errorf("%s cannot be called", g)
}

// newOrderedDict is collections.OrderedDict(), or OrderedDict(pairs).
func newOrderedDict(args Tuple) (*Dict, error) {
	d := NewDict()
	if len(args) == 0 {
		return d, nil
	}
	if len(args) != 1 {
		return nil, fmt.Errorf("collections.OrderedDict: %d arguments, want 0 or 1", len(args))
	}
	var pairs []any
	switch s := args[0].(type) {
	case *Dict:
		for i := 0; i < s.Len(); i++ {
			if err := d.Set(s.Key(i), s.Value(i)); err != nil {
				return nil, err
			}
		}
		return d, nil
	case *List:
		pairs = s.Items
	case Tuple:
		pairs = s
	default:
		return nil, fmt.Errorf("collections.OrderedDict of a %s", typeName(args[0]))
	}
	for _, p := range pairs {
		var kv []any
		switch q := p.(type) {
		case Tuple:
			kv = q
		case *List:
			kv = q.Items
		}
		if len(kv) != 2 {
			return nil, errors.New("collections.OrderedDict: items must be (key, value) pairs")
		}
		if err := d.Set(kv[0], kv[1]); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// persistentLoad resolves a storage reference
// ("storage", storage type, key, location, numel).
func (h *torchHooks) persistentLoad(pid any) (any, error) {
	t, ok := pid.(Tuple)
	if !ok || len(t) != 5 {
		return nil, fmt.Errorf("persistent id %s is not a storage reference", typeName(pid))
	}
	if tag, _ := t[0].(string); tag != "storage" {
		return nil, errors.New("persistent id is not a storage reference")
	}
	st, ok := t[1].(Global)
	if !ok {
		return nil, fmt.Errorf("storage type is a %s", typeName(t[1]))
	}
	dt, ok := storageTypes[st.Name]
	if !ok || st.Module != "torch" {
		return nil, fmt.Errorf("unsupported storage type %s", st)
	}
	key, ok := t[2].(string)
	if !ok {
		return nil, fmt.Errorf("storage key is a %s", typeName(t[2]))
	}
	var numel int64
	switch n := t[4].(type) {
	case int64:
		numel = n
	case *big.Int:
		return nil, fmt.Errorf("storage %s: size %s out of range", key, n)
	default:
		return nil, fmt.Errorf("storage %s: size is a %s", key, typeName(t[4]))
	}
	if numel < 0 {
		return nil, fmt.Errorf("storage %s: negative size %d", key, numel)
	}
	if h.load == nil {
		return nil, errors.New("no storages available")
	}
	return h.load(key, dt, numel)
}

// intArg converts an int argument of a rebuild function.
func intArg(v any, what string) (int64, error) {
	n, ok := v.(int64)
	if !ok {
		if b, isBool := v.(bool); isBool { // Python bools are ints
			if b {
				return 1, nil
			}
			return 0, nil
		}
		return 0, fmt.Errorf("%s is a %s, not an int", what, typeName(v))
	}
	return n, nil
}

// intTuple converts a size or stride tuple.
func intTuple(v any, what string) ([]int64, error) {
	t, ok := v.(Tuple)
	if !ok {
		return nil, fmt.Errorf("%s is a %s, not a tuple", what, typeName(v))
	}
	out := make([]int64, len(t))
	for i, x := range t {
		n, err := intArg(x, what)
		if err != nil {
			return nil, err
		}
		out[i] = n
	}
	return out, nil
}

// rebuild is _rebuild_tensor(storage, offset, size, stride): a view of a
// storage, materialised as a contiguous tensor.
func (h *torchHooks) rebuild(args Tuple) (*Tensor, error) {
	st, ok := args[0].(*storage)
	if !ok {
		return nil, fmt.Errorf("tensor storage is a %s", typeName(args[0]))
	}
	off, err := intArg(args[1], "storage offset")
	if err != nil {
		return nil, err
	}
	size, err := intTuple(args[2], "tensor size")
	if err != nil {
		return nil, err
	}
	stride, err := intTuple(args[3], "tensor stride")
	if err != nil {
		return nil, err
	}
	return st.view(off, size, stride, &h.budget)
}
