package matrixio

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/siam-ssl/siam/npy"
	"github.com/siam-ssl/siam/safetensors"
)

var want23 = []float64{1, 2, 3, 4, 5, 6}

func writeFile(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func npyBytes(t *testing.T, a *npy.Array) []byte {
	var buf bytes.Buffer
	if err := npy.Write(&buf, a); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func stBytes(t *testing.T, ts ...safetensors.Tensor) []byte {
	var buf bytes.Buffer
	if err := safetensors.Write(&buf, ts, nil); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestLoadFormats(t *testing.T) {
	f32 := []float32{1, 2, 3, 4, 5, 6}
	cases := []struct {
		name string
		file string
		data []byte
		opts Options
	}{
		{"npy f4", "a.npy", npyBytes(t, &npy.Array{Shape: []int{2, 3}, F32: f32}), Options{}},
		{"npy f8 upper ext", "a.NPY", npyBytes(t, &npy.Array{Shape: []int{2, 3}, F64: want23}), Options{}},
		{"npy i8", "a.npy", npyBytes(t, &npy.Array{Shape: []int{2, 3}, I64: []int64{1, 2, 3, 4, 5, 6}}), Options{}},
		{"st single", "a.safetensors", stBytes(t, safetensors.Tensor{Name: "emb", Shape: []int{2, 3}, F32: f32}), Options{}},
		{"st named", "a.safetensors", stBytes(t,
			safetensors.Tensor{Name: "emb", Shape: []int{2, 3}, F32: f32},
			safetensors.Tensor{Name: "other", Shape: []int{1}, F32: []float32{9}}), Options{TensorName: "emb"}},
		{"st f16", "a.safetensors", stBytes(t, safetensors.Tensor{Name: "h", DType: safetensors.F16, Shape: []int{2, 3}, F32: f32}), Options{}},
		{"csv", "a.csv", []byte("1,2,3\n4,5,6\n"), Options{}},
		{"csv header crlf bom", "a.csv", []byte("\ufeffx, y ,z\r\n1, 2,3\r\n\r\n4,5 ,6e0\r\n"), Options{}},
		{"csv no final newline", "a.csv", []byte("1,2,3\n4,5,6"), Options{}},
		{"tsv header", "a.tsv", []byte("a\tb\tc\n1\t2\t3\n4\t5\t6\n"), Options{}},
		{"csv quoted", "a.csv", []byte("\"1\",2,3\n4,\"5\",6\n"), Options{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := writeFile(t, c.file, c.data)
			r, k, d, err := Load(p, c.opts)
			if err != nil {
				t.Fatal(err)
			}
			if r != 2 || k != 3 || !reflect.DeepEqual(d, want23) {
				t.Fatalf("got %dx%d %v", r, k, d)
			}
		})
	}
	// F64 safetensors keep full precision.
	p := writeFile(t, "x.safetensors", stBytes(t, safetensors.Tensor{Name: "x", DType: safetensors.F64, Shape: []int{1, 2},
		Raw: append(le64(math.Pi), le64(1.0/3)...)}))
	if _, _, d, err := Load(p, Options{}); err != nil || d[0] != math.Pi || d[1] != 1.0/3 {
		t.Fatalf("F64: %v %v", d, err)
	}
}

func le64(v float64) []byte {
	b := make([]byte, 8)
	u := math.Float64bits(v)
	for i := range b {
		b[i] = byte(u >> (8 * i))
	}
	return b
}

func TestLoadErrors(t *testing.T) {
	nan := float32(math.NaN())
	inf := math.Inf(1)
	cases := []struct {
		name string
		file string
		data []byte
		opts Options
		want string
	}{
		{"ext", "a.txt", []byte("1"), Options{}, "unknown extension"},
		{"npy 1d", "a.npy", npyBytes(t, &npy.Array{Shape: []int{3}, F32: []float32{1, 2, 3}}), Options{}, "1 dimensions"},
		{"npy 3d", "a.npy", npyBytes(t, &npy.Array{Shape: []int{1, 1, 1}, F32: []float32{1}}), Options{}, "3 dimensions"},
		{"npy empty", "a.npy", npyBytes(t, &npy.Array{Shape: []int{0, 3}, F32: []float32{}}), Options{}, "empty"},
		{"npy nan", "a.npy", npyBytes(t, &npy.Array{Shape: []int{2, 2}, F32: []float32{1, 2, 3, nan}}), Options{}, "row 1, column 1"},
		{"npy inf", "a.npy", npyBytes(t, &npy.Array{Shape: []int{2, 2}, F64: []float64{1, inf, 3, 4}}), Options{}, "+Inf at row 0, column 1"},
		{"npy corrupt", "a.npy", []byte("\x93NUMPY\x01\x00"), Options{}, "header length"},
		{"st ambiguous", "a.safetensors", stBytes(t,
			safetensors.Tensor{Name: "a", Shape: []int{1, 1}, F32: []float32{1}},
			safetensors.Tensor{Name: "b", Shape: []int{1, 1}, F32: []float32{1}}), Options{}, "2 tensors (a, b)"},
		{"st missing", "a.safetensors", stBytes(t, safetensors.Tensor{Name: "a", Shape: []int{1, 1}, F32: []float32{1}}), Options{TensorName: "z"}, `no tensor named "z"`},
		{"st 1d", "a.safetensors", stBytes(t, safetensors.Tensor{Name: "a", Shape: []int{2}, F32: []float32{1, 2}}), Options{}, `tensor "a" has 1 dimensions`},
		{"st nan", "a.safetensors", stBytes(t, safetensors.Tensor{Name: "a", Shape: []int{1, 2}, F32: []float32{1, nan}}), Options{}, `tensor "a": value NaN at row 0, column 1`},
		{"st empty file", "a.safetensors", stBytes(t), Options{}, "0 tensors"},
		{"csv empty", "a.csv", nil, Options{}, "no data rows"},
		{"csv header only", "a.csv", []byte("x,y\n"), Options{}, "no data rows"},
		{"csv ragged", "a.csv", []byte("1,2\n3,4\n5\n"), Options{}, "line 3 has 1 fields, expected 2"},
		{"csv text", "a.csv", []byte("1,2\n3,abc\n"), Options{}, `line 2, column 2: "abc" is not a number`},
		{"csv nan", "a.csv", []byte("x,y\n1,2\n\n3,NaN\n"), Options{}, "line 4, column 2"},
		{"csv inf first row", "a.csv", []byte("1,-Inf\n1,2\n"), Options{}, "line 1, column 2"},
		{"csv overflow", "a.csv", []byte("1,1e999\n"), Options{}, "overflows"},
		{"csv empty field", "a.csv", []byte("1,2\n3,\n"), Options{}, "line 2, column 2"},
		{"tsv with commas", "a.tsv", []byte("1,2\n3,4\n"), Options{}, "line 2, column 1"},
		{"csv bad quote", "a.csv", []byte("1,\"2\n"), Options{}, "matrixio"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := writeFile(t, c.file, c.data)
			_, _, _, err := Load(p, c.opts)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want %q", err, c.want)
			}
			if !strings.Contains(err.Error(), p) {
				t.Fatalf("err %v does not name the file", err)
			}
		})
	}
	if _, _, _, err := Load(filepath.Join(t.TempDir(), "missing.csv"), Options{}); err == nil {
		t.Fatal("missing file loaded")
	}
}

func FuzzCSV(f *testing.F) {
	f.Add([]byte("1,2,3\n4,5,6\n"), true)
	f.Add([]byte("a\tb\n1\t2\n"), false)
	f.Add([]byte("\"1\",  2e3 ,-0x1p3\r\n"), true)
	f.Add([]byte("x\n1\nNaN\n"), true)
	f.Fuzz(func(t *testing.T, data []byte, comma bool) {
		sep := '\t'
		if comma {
			sep = ','
		}
		rows, cols, d, err := ReadCSV(bytes.NewReader(data), sep)
		if err != nil {
			return
		}
		if rows < 1 || cols < 1 || len(d) != rows*cols {
			t.Fatalf("%dx%d matrix with %d values", rows, cols, len(d))
		}
		if len(d) > len(data) {
			t.Fatalf("%d values from %d bytes", len(d), len(data))
		}
		for _, v := range d {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				t.Fatalf("non-finite value %v accepted", v)
			}
		}
	})
}
