package torchpt

import (
	"bytes"
	"errors"
	"math"
	"math/big"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/siam-ssl/siam/safetensors"
)

const fixtures = "../testdata/torchpt"

func readFixture(t *testing.T, name string) *Checkpoint {
	t.Helper()
	c, err := ReadFile(filepath.Join(fixtures, name))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestReadFixtures(t *testing.T) {
	cases := []struct {
		file, record string
		tensors      int // tensors reachable from the root
		first        string
		dtype        safetensors.DType
		scalars      map[string]string
	}{
		// 3 stem + 16 blocks x (3 convs...) -- counts checked against the file's own listing below.
		{"simsiam_r50_w2.pth.tar", "simsiam_r50_w2.pth", 0, "state_dict.module.encoder.conv1.weight", safetensors.F32,
			map[string]string{"epoch": "100", "arch": "resnet50"}},
		{"mocov3_r18_w2.pth.tar", "mocov3_r18_w2.pth", 0, "state_dict.module.base_encoder.conv1.weight", safetensors.F32,
			map[string]string{"epoch": "300", "arch": "resnet18"}},
		{"torchvision_r18_w4.pth", "torchvision_r18_w4", 122, "conv1.weight", safetensors.F32, map[string]string{}},
		{"half_r18_w4_cifar.pt", "half_r18_w4_cifar", 122, "conv1.weight", safetensors.F16, map[string]string{}},
		{"bf16_r18_w4_cifar.pt", "bf16_r18_w4_cifar", 122, "conv1.weight", safetensors.BF16, map[string]string{}},
		{"f64_r18_w2_cifar.pth", "f64_r18_w2_cifar", 122, "conv1.weight", safetensors.F64, map[string]string{}},
		{"strided_r18_w2.pth", "strided_r18_w2", 122, "conv1.weight", safetensors.F32, map[string]string{}},
	}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			c := readFixture(t, tc.file)
			if c.Record != tc.record {
				t.Errorf("record %q, want %q", c.Record, tc.record)
			}
			if tc.tensors > 0 && len(c.Tensors) != tc.tensors {
				t.Errorf("%d tensors, want %d", len(c.Tensors), tc.tensors)
			}
			if c.Tensors[0].Name != tc.first || c.Tensors[0].DType != tc.dtype {
				t.Errorf("first tensor %s %s, want %s %s", c.Tensors[0].Name, c.Tensors[0].DType, tc.first, tc.dtype)
			}
			if got := c.Scalars(); !reflect.DeepEqual(got, tc.scalars) {
				t.Errorf("scalars %v, want %v", got, tc.scalars)
			}
			for _, x := range c.Tensors {
				if x.NumElements() != len(x.F32)+len(x.I64) {
					t.Fatalf("%s: shape %v but %d values", x.Name, x.Shape, len(x.F32)+len(x.I64))
				}
				if strings.HasSuffix(x.Name, "num_batches_tracked") && !strings.Contains(x.Name, "fc.") && (x.DType != safetensors.I64 || x.I64[0] != 123) {
					t.Errorf("%s = %v %v, want I64 123", x.Name, x.DType, x.I64)
				}
			}
			if c.Tensor(tc.first) == nil || c.Tensor("no.such") != nil {
				t.Error("Tensor lookup")
			}
		})
	}
}

// TestReferenceValues compares tensors stored in reduced precision or as
// non-contiguous views with the contiguous float32 copies PyTorch wrote
// (features.safetensors, "ref.<fixture>.<name>"): conversions are exact.
func TestReferenceValues(t *testing.T) {
	ref, err := safetensors.ReadFile(filepath.Join(fixtures, "features.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{"strided_r18_w2": "strided_r18_w2.pth", "half_r18_w4_cifar": "half_r18_w4_cifar.pt",
		"bf16_r18_w4_cifar": "bf16_r18_w4_cifar.pt", "f64_r18_w2_cifar": "f64_r18_w2_cifar.pth"}
	cache := map[string]*Checkpoint{}
	n := 0
	for _, name := range ref.Names() {
		rest, ok := strings.CutPrefix(name, "ref.")
		if !ok {
			continue
		}
		fixture, key, _ := strings.Cut(rest, ".")
		if cache[fixture] == nil {
			cache[fixture] = readFixture(t, files[fixture])
		}
		got := cache[fixture].Tensor(key)
		want, err := ref.Get(name)
		if err != nil {
			t.Fatal(err)
		}
		if got == nil {
			t.Errorf("%s: no tensor %s", fixture, key)
			continue
		}
		if !slices.Equal(got.Shape, want.Shape) {
			t.Errorf("%s %s: shape %v, want %v", fixture, key, got.Shape, want.Shape)
			continue
		}
		for i := range want.F32 {
			if math.Float32bits(got.F32[i]) != math.Float32bits(want.F32[i]) {
				t.Errorf("%s %s[%d] = %v, want %v", fixture, key, i, got.F32[i], want.F32[i])
				break
			}
		}
		n++
	}
	if n < 10 {
		t.Fatalf("only %d reference tensors compared", n)
	}
}

// TestMaliciousFixtures: checkpoints whose pickle would run a command under
// Python are refused, naming what they refer to, and nothing runs.
func TestMaliciousFixtures(t *testing.T) {
	const sentinel = "/tmp/siam-torchpt-pwned" // what the payloads would create
	_, statErr := os.Stat(sentinel)
	existed := statErr == nil
	cases := []struct {
		file, want string
		forbidden  bool
	}{
		{"evil_os_system.pth", "posix.system", true}, // torch.save of os.system: Python names it posix.system
		{"evil_builtins_eval.pth", "__builtin__.eval", true},
		{"evil_global_os_system.pth", "os.system", true},
		{"evil_stack_global_eval.pth", "builtins.eval", true},
		{"evil_reduce_storage_type.pth", "torch.FloatStorage cannot be called", false},
		{"evil_inst_subprocess.pth", "subprocess.Popen", false},
	}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			_, err := ReadFile(filepath.Join(fixtures, tc.file))
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not name %q", err, tc.want)
			}
			if errors.Is(err, ErrForbiddenGlobal) != tc.forbidden {
				t.Errorf("errors.Is(ErrForbiddenGlobal) = %v, want %v (%v)", !tc.forbidden, tc.forbidden, err)
			}
			if strings.Count(err.Error(), "\n") != 0 {
				t.Errorf("error spans lines: %q", err)
			}
		})
	}
	if _, err := os.Stat(sentinel); err == nil && !existed {
		t.Fatalf("%s was created: a payload ran", sentinel)
	}
}

func runPickle(b []byte) (any, error) {
	return unpickle(b, &torchHooks{budget: baseBudget})
}

func TestPickleValues(t *testing.T) {
	dict := func(kv ...any) *Dict {
		d := NewDict()
		for i := 0; i < len(kv); i += 2 {
			if err := d.Set(kv[i], kv[i+1]); err != nil {
				t.Fatal(err)
			}
		}
		return d
	}
	big78 := new(big.Int).Neg(new(big.Int).Lsh(big.NewInt(1), 78)) // 0xc0 << 72 in 10 bytes
	cases := []struct {
		name string
		pkl  []byte
		want any
	}{
		{"none", []byte("\x80\x02N."), nil},
		{"bools", []byte("\x80\x02\x88\x89\x86."), Tuple{true, false}},
		{"binints", newPk().op(opMark).int(-5).op(opBinInt1, 200, opBinInt2, 0x34, 0x12).op(opTuple).bytes(), Tuple{int64(-5), int64(200), int64(0x1234)}},
		{"long1 negative", []byte("\x80\x02\x8a\x02\x00\xff."), int64(-256)},
		{"long1 empty", []byte("\x80\x02\x8a\x00."), int64(0)},
		{"long4 big", []byte("\x80\x02\x8b\x0a\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\xc0."), big78},
		{"float", newPk().float(1.5).bytes(), 1.5},
		{"protocol 0 text", []byte("(I12\nI01\nL-7L\nF2.5\nVa\\u00e9b\nS'x\\n\\'y'\nt."), Tuple{int64(12), true, int64(-7), 2.5, "aéb", "x\n'y"}},
		{"protocol 0 memo", []byte("(lp0\nI1\nag0\na."), nil}, // self-referencing list: checked below
		{"short strings and bytes", []byte("\x80\x03\x8c\x02hiC\x02\x01\x02\x86."), Tuple{"hi", []byte{1, 2}}},
		{"unicode8 and bytes8 and bytearray8", []byte("\x80\x05\x8d\x01\x00\x00\x00\x00\x00\x00\x00a\x8e\x01\x00\x00\x00\x00\x00\x00\x00b\x96\x00\x00\x00\x00\x00\x00\x00\x00\x87."),
			Tuple{"a", []byte("b"), []byte{}}},
		{"frame, memoize", []byte("\x80\x04\x95\x07\x00\x00\x00\x00\x00\x00\x00K\x07\x94h\x00\x86."), Tuple{int64(7), int64(7)}},
		{"dup pop popmark", []byte("\x80\x02K\x01\x32(K\x02K\x031\x86."), Tuple{int64(1), int64(1)}},
		{"dict and setitems", newPk().op(opEmptyDict, opMark).str("a").int(1).str("b").op(opEmptyList, opMark).int(2).int(3).op(opAppends).op(opSetItems).bytes(),
			dict("a", int64(1), "b", &List{Items: []any{int64(2), int64(3)}})},
		{"dict opcode, key merging 1 == 1.0 == True", newPk().op(opMark).int(1).str("x").float(1).str("y").op(opNewTrue).str("z").op(opDict).bytes(),
			dict(int64(1), "z")},
		{"tuple keys", newPk().op(opEmptyDict).ints(1, 2).str("v").op(opSetItem).bytes(), dict(Tuple{int64(1), int64(2)}, "v")},
		{"OrderedDict of pairs", newPk().global("collections", "OrderedDict").op(opEmptyList).str("k").int(4).op(opTuple2, opAppend, opTuple1, opReduce).bytes(),
			dict("k", int64(4))},
		{"OrderedDict NEWOBJ", newPk().global("collections", "OrderedDict").op(opEmptyTuple, opNewObj).bytes(), dict()},
		{"OrderedDict _metadata via BUILD", newPk().global("collections", "OrderedDict").op(opEmptyTuple, opReduce, opEmptyDict).str("_metadata").op(opEmptyDict, opSetItem, opBuild).bytes(),
			&Dict{keys: nil, vals: nil, index: map[string]int{}, Attrs: dict("_metadata", dict())}},
		{"codecs.encode bytes", newPk().global("_codecs", "encode").str("\u00ff\x01").str("latin1").op(opTuple2, opReduce).bytes(), []byte{0xff, 1}},
		{"torch.Size", newPk().global("torch", "Size").ints(2, 3).op(opTuple1, opReduce).bytes(), Tuple{int64(2), int64(3)}},
		{"torch.device", newPk().global("torch", "device").str("cuda").int(1).op(opTuple2, opReduce).bytes(), "cuda:1"},
		{"dtype as value", newPk().global("torch", "bfloat16").bytes(), Global{"torch", "bfloat16"}},
		{"storage type as value", newPk().global("torch", "HalfStorage").bytes(), Global{"torch", "HalfStorage"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := runPickle(tc.pkl)
			if err != nil {
				t.Fatal(err)
			}
			if tc.name == "protocol 0 memo" {
				l, ok := got.(*List)
				if !ok || len(l.Items) != 2 || l.Items[1] != any(l) {
					t.Fatalf("got %#v, want a list holding itself", got)
				}
				if _, err := flatten(l); err == nil || !strings.Contains(err.Error(), "cycle") {
					t.Errorf("flatten of a cycle: %v", err)
				}
				return
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %#v, want %#v", got, tc.want)
			}
		})
	}
}

func TestPickleErrors(t *testing.T) {
	cases := []struct {
		name string
		pkl  []byte
		want string
	}{
		{"empty", nil, "no STOP"},
		{"no stop", []byte("\x80\x02N"), "no STOP"},
		{"protocol 6", []byte("\x80\x06N."), "protocol 6"},
		{"unknown opcode", []byte("\x80\x02\xff."), "unknown opcode"},
		{"underflow", []byte("\x80\x02."), "underflow"},
		{"tuple2 underflow", []byte("\x80\x02K\x01\x86."), "underflow"},
		{"no mark", []byte("\x80\x02t."), "MARK missing"},
		{"truncated binunicode", []byte("\x80\x02X\xff\x00\x00\x00ab"), "truncated"},
		{"truncated long4", []byte("\x80\x02\x8b\xff\xff\xff\x7f"), "truncated"},
		{"negative long4", []byte("\x80\x02\x8b\xff\xff\xff\xff."), "negative"},
		{"memo miss", []byte("\x80\x02h\x05."), "memo key 5"},
		{"append to dict", []byte("\x80\x02}K\x01a."), "not a list"},
		{"setitem on list", []byte("\x80\x02]K\x01K\x02s."), "not a dict"},
		{"odd setitems", []byte("\x80\x02}(K\x01u."), "odd"},
		{"unhashable key", []byte("\x80\x02}]K\x01s."), "unhashable"},
		{"set", []byte("\x80\x04\x8f."), "sets"},
		{"ext", []byte("\x80\x02\x82\x01."), "extension"},
		{"buffer", []byte("\x80\x05\x97."), "out-of-band"},
		{"obj", []byte("\x80\x02(o."), "OBJ"},
		{"build on list", newPk().op(opEmptyList, opEmptyDict).str("a").int(1).op(opSetItem, opBuild).bytes(), "BUILD"},
		{"reduce non-tuple args", newPk().global("collections", "OrderedDict").op(opEmptyList, opReduce).bytes(), "not a tuple"},
		{"call a string", newPk().str("os.system").op(opEmptyTuple, opReduce).bytes(), "cannot call a str"},
		{"forbidden global", newPk().global("os", "system").bytes(), "os.system"},
		{"forbidden torch name", newPk().global("torch", "load").bytes(), "torch.load"},
		{"torchscript class", newPk().global("__torch__.torchvision.models.resnet", "ResNet").bytes(), "TorchScript"},
		{"numpy", newPk().global("numpy.core.multiarray", "scalar").bytes(), "numpy"},
		{"stack global needs strings", []byte("\x80\x04K\x01K\x02\x93."), "two strings"},
		{"persistent id not a storage", newPk().str("x").op(opBinPersID).bytes(), "not a storage"},
		{"text persistent id", []byte("Pfoo\n."), "not a storage"},
		{"unsupported storage", newPk().op(opMark).str("storage").global("torch", "ComplexFloatStorage").bytes(), "ComplexFloatStorage"},
		{"rebuild arity", newPk().global("torch._utils", "_rebuild_tensor_v2").op(opEmptyTuple, opReduce).bytes(), "want 6 or 7"},
		{"rebuild non-storage", newPk().global("torch._utils", "_rebuild_tensor").op(opMark, opNone).int(0).ints(1).ints(1).op(opTuple, opReduce).bytes(), "storage is a None"},
		{"parameter of a string", newPk().global("torch._utils", "_rebuild_parameter").op(opMark).str("x").op(opNewFalse, opNone, opTuple, opReduce).bytes(), "not a tensor"},
		{"from_type of a model class", newPk().global("torch._tensor", "_rebuild_from_type_v2").op(opMark).global("torch.nn.parameter", "Parameter").global("torch", "Size").op(opEmptyTuple, opNone, opTuple, opReduce).bytes(), "not allowed"},
		{"dtype called", newPk().global("torch", "float32").op(opEmptyTuple, opReduce).bytes(), "torch.float32 cannot be called"},
		{"device of an int", newPk().global("torch", "device").int(0).op(opTuple1, opReduce).bytes(), "device of a int"},
		{"codecs other encoding", newPk().global("_codecs", "encode").str("a").str("rot13").op(opTuple2, opReduce).bytes(), "rot13"},
		{"ordered dict of non-pairs", newPk().global("collections", "OrderedDict").op(opMark).int(1).op(opTuple, opTuple1, opReduce).bytes(), "pairs"},
		{"inst", []byte("(ios\nsystem\n."), "os.system"},
		{"bad text int", []byte("Ix\n."), "bad integer"},
		{"bad string literal", []byte("Sabc\n."), "not quoted"},
		{"deep key", deepTupleKey(5000), "too large"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v, err := runPickle(tc.pkl)
			if err == nil {
				t.Fatalf("accepted: %#v", v)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q, want it to mention %q", err, tc.want)
			}
		})
	}
}

// deepTupleKey nests a tuple depth times and uses it as a dict key.
func deepTupleKey(depth int) []byte {
	p := newPk().op(opEmptyDict, opEmptyTuple)
	for range depth {
		p.op(opTuple1)
	}
	return p.op(opNone, opSetItem).bytes()
}

// TestViews checks strided, offset, shared, expanded and reduced-precision
// tensors against values computed by hand, and refuses views outside their
// storage.
func TestViews(t *testing.T) {
	vals := make([]float32, 12)
	for i := range vals {
		vals[i] = float32(i)
	}
	half := []byte{}
	for _, v := range []float32{1, -2, 0.5, 65504} {
		h := safetensors.Float32ToHalf(v)
		half = append(half, byte(h), byte(h>>8))
	}
	st := map[string][]byte{"0": f32bytes(vals...), "1": half}
	cases := []struct {
		name  string
		build func(p *pk)
		want  []float32
		shape []int
		err   string
	}{
		{"contiguous", func(p *pk) { p.tensor("FloatStorage", "0", 12, 0, []int32{3, 4}, []int32{4, 1}) }, vals, []int{3, 4}, ""},
		{"transposed", func(p *pk) { p.tensor("FloatStorage", "0", 12, 0, []int32{4, 3}, []int32{1, 4}) },
			[]float32{0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11}, []int{4, 3}, ""},
		{"offset slice", func(p *pk) { p.tensor("FloatStorage", "0", 12, 5, []int32{3}, []int32{2}) }, []float32{5, 7, 9}, []int{3}, ""},
		{"expanded stride 0", func(p *pk) { p.tensor("FloatStorage", "0", 12, 2, []int32{2, 3}, []int32{0, 1}) }, []float32{2, 3, 4, 2, 3, 4}, []int{2, 3}, ""},
		{"scalar", func(p *pk) { p.tensor("FloatStorage", "0", 12, 11, nil, nil) }, []float32{11}, []int{}, ""},
		{"empty", func(p *pk) { p.tensor("FloatStorage", "0", 12, 100, []int32{0, 5}, []int32{5, 1}) }, []float32{}, []int{0, 5}, ""},
		{"size-1 dim with odd stride", func(p *pk) { p.tensor("FloatStorage", "0", 12, 0, []int32{1, 4}, []int32{99, 1}) }, vals[:4], []int{1, 4}, ""},
		{"half", func(p *pk) { p.tensor("HalfStorage", "1", 4, 0, []int32{4}, []int32{1}) }, []float32{1, -2, 0.5, 65504}, []int{4}, ""},
		{"past the end", func(p *pk) { p.tensor("FloatStorage", "0", 12, 1, []int32{3, 4}, []int32{4, 1}) }, nil, nil, "reaches element 12"},
		{"negative stride", func(p *pk) { p.tensor("FloatStorage", "0", 12, 0, []int32{3}, []int32{-1}) }, nil, nil, "negative"},
		{"negative offset", func(p *pk) { p.tensor("FloatStorage", "0", 12, -1, []int32{3}, []int32{1}) }, nil, nil, "negative storage offset"},
		{"rank mismatch", func(p *pk) { p.tensor("FloatStorage", "0", 12, 0, []int32{3}, []int32{1, 1}) }, nil, nil, "differ in length"},
		{"huge size", func(p *pk) { p.tensor("FloatStorage", "0", 12, 0, []int32{1 << 20, 1 << 20}, []int32{0, 0}) }, nil, nil, "too often"},
		{"overflowing stride", func(p *pk) {
			p.tensor("FloatStorage", "0", 12, 0, []int32{1 << 21, 2}, []int32{1 << 30, 1 << 30})
		}, nil, nil, "out of range"},
		{"too many elements", func(p *pk) {
			p.tensor("FloatStorage", "0", 12, 0, []int32{1 << 30, 1 << 30, 1 << 30}, []int32{0, 0, 0})
		}, nil, nil, "too many elements"},
		{"storage larger than its record", func(p *pk) { p.tensor("FloatStorage", "0", 13, 0, []int32{1}, []int32{1}) }, nil, nil, "needs 52 bytes"},
		{"missing storage", func(p *pk) { p.tensor("FloatStorage", "7", 1, 0, []int32{1}, []int32{1}) }, nil, nil, "no record"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := newPk().op(opEmptyDict).str("t")
			tc.build(p)
			p.op(opSetItem)
			raw := zipCheckpoint(t, "archive", p.bytes(), st)
			c, err := Read(bytes.NewReader(raw), int64(len(raw)))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			x := c.Tensor("t")
			if x == nil || !slices.Equal(x.Shape, tc.shape) || !slices.Equal(x.F32, tc.want) {
				t.Fatalf("got %+v, want shape %v values %v", x, tc.shape, tc.want)
			}
		})
	}
}

func TestSharedStorageAndByteOrder(t *testing.T) {
	// Two views of one storage, and a nested list.
	p := newPk().op(opEmptyDict, opMark)
	p.str("a").tensor("FloatStorage", "0", 4, 0, []int32{2}, []int32{1})
	p.str("b").op(opEmptyList).tensor("FloatStorage", "0", 4, 2, []int32{2}, []int32{1}).op(opAppend)
	p.op(opSetItems)
	raw := zipCheckpoint(t, "anything", p.bytes(), map[string][]byte{"0": f32bytes(1, 2, 3, 4)})
	c, err := Read(bytes.NewReader(raw), int64(len(raw)))
	if err != nil {
		t.Fatal(err)
	}
	if c.Record != "anything" || !slices.Equal(c.Tensor("a").F32, []float32{1, 2}) || !slices.Equal(c.Tensor("b.0").F32, []float32{3, 4}) {
		t.Fatalf("got record %q, tensors %+v", c.Record, c.Tensors)
	}
	// The same storage key under two dtypes is refused.
	p = newPk().op(opMark)
	p.tensor("FloatStorage", "0", 4, 0, []int32{2}, []int32{1})
	p.tensor("HalfStorage", "0", 8, 0, []int32{2}, []int32{1})
	raw = zipCheckpoint(t, "archive", p.op(opTuple).bytes(), map[string][]byte{"0": f32bytes(1, 2, 3, 4)})
	if _, err := Read(bytes.NewReader(raw), int64(len(raw))); err == nil || !strings.Contains(err.Error(), "used as") {
		t.Errorf("storage under two dtypes: %v", err)
	}
	// Big-endian files (byteorder record) are decoded.
	p = newPk().tensor("FloatStorage", "0", 2, 0, []int32{2}, []int32{1})
	be := []byte{0x3f, 0x80, 0, 0, 0x40, 0, 0, 0} // 1, 2 big-endian
	raw = zipCheckpointWith(t, p.bytes(), map[string][]byte{"archive/data/0": be, "archive/byteorder": []byte("big")})
	c, err = Read(bytes.NewReader(raw), int64(len(raw)))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.Tensors[0].F32, []float32{1, 2}) || c.Tensors[0].Name != "" {
		t.Errorf("big-endian: %+v", c.Tensors[0])
	}
}

// zipCheckpointWith packs archive/data.pkl and arbitrary extra records.
func zipCheckpointWith(t *testing.T, pkl []byte, extra map[string][]byte) []byte {
	t.Helper()
	return repack(t, zipCheckpoint(t, "archive", pkl, nil), extra)
}

func TestNotACheckpoint(t *testing.T) {
	tar := make([]byte, 600)
	copy(tar[257:], "ustar")
	cases := []struct {
		name string
		data []byte
		want string
	}{
		{"legacy pickle", []byte("\x80\x02\x8a\x0alf\x9c\xfc"), "legacy PyTorch format"},
		{"legacy tar", tar, "tar-format"},
		{"text", []byte("hello"), "not a PyTorch checkpoint"},
		{"empty", nil, "not a PyTorch checkpoint"},
		{"broken zip", []byte("PK\x03\x04garbage"), "zip"},
		{"zip without data.pkl", repack(t, nil, map[string][]byte{"a/b.txt": nil}), "without a DIR/data.pkl"},
		{"two records", repack(t, nil, map[string][]byte{"a/data.pkl": nil, "b/data.pkl": nil}), "2 data.pkl records"},
		{"bad byteorder", repack(t, nil, map[string][]byte{"a/data.pkl": []byte("N."), "a/byteorder": []byte("middle")}), "byteorder"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Read(bytes.NewReader(tc.data), int64(len(tc.data)))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
	if _, err := ReadFile(filepath.Join(fixtures, "does-not-exist.pth")); err == nil {
		t.Error("missing file accepted")
	}
}

func TestAllowedGlobals(t *testing.T) {
	g := AllowedGlobals()
	for _, want := range []string{"collections.OrderedDict", "torch._utils._rebuild_tensor_v2", "torch.BFloat16Storage"} {
		if !slices.Contains(g, want) {
			t.Errorf("AllowedGlobals lacks %s", want)
		}
	}
	for _, bad := range []string{"os.system", "builtins.eval", "builtins.getattr", "torch.load"} {
		if slices.Contains(g, bad) {
			t.Errorf("AllowedGlobals holds %s", bad)
		}
	}
}
