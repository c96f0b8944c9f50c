package torchpt

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/big"
	"os"
	"strconv"
	"strings"

	"github.com/siam-ssl/siam/safetensors"
)

// Checkpoint is a file written by torch.save, read without Python.
type Checkpoint struct {
	// Root is the saved object: usually a *Dict (a state dict, or a dict
	// holding one under "state_dict", "model", ...). See values.go for the Go
	// types it can contain.
	Root any
	// Record is the archive's top directory ("archive", or the file's base
	// name for PyTorch < 2).
	Record string
	// Tensors lists every tensor reachable from Root in pickle order, each
	// named by its dotted path (dict keys and list indices joined by ".").
	// Views of one storage, shared tensors and non-contiguous tensors are
	// all materialised as separate contiguous arrays.
	Tensors []*Tensor
}

// Limits on what a file may make the reader allocate.
const (
	// MaxPickleSize bounds the data.pkl record.
	MaxPickleSize = 1 << 30
	// maxWalk bounds the number of nodes Tensors visits (a pickle can share
	// sub-trees so that a naive walk is exponential).
	maxWalk = 1 << 22
	// maxDepth bounds the nesting of containers (and catches cycles).
	maxDepth = 100
	// baseBudget is how many tensor elements may be materialised beyond twice
	// the elements of the storages read (views may repeat elements: stride 0).
	baseBudget = 1 << 24
)

// ReadFile reads the torch.save checkpoint at path. Errors name the path.
func ReadFile(path string) (*Checkpoint, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	c, err := Read(f, st.Size())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// IsZip reports whether head (the first bytes of a file) starts a zip archive,
// the container of torch.save since PyTorch 1.6.
func IsZip(head []byte) bool { return bytes.HasPrefix(head, []byte("PK\x03\x04")) }

// Read reads a torch.save checkpoint of the given size from r: the zip
// archive of PyTorch >= 1.6 (DIR/data.pkl plus one DIR/data/KEY record per
// storage). The pickle may use only the names in AllowedGlobals; anything
// else (os.system, builtins.eval, a model class...) is an error naming it,
// raised before anything further is read. Nothing is ever imported or
// executed: every allowed name maps to Go code that builds data.
func Read(r io.ReaderAt, size int64) (*Checkpoint, error) {
	head := make([]byte, 512)
	n, _ := r.ReadAt(head, 0)
	head = head[:n]
	if !IsZip(head) {
		return nil, notZip(head)
	}
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return nil, fmt.Errorf("torch checkpoint: %w", err)
	}
	files := make(map[string]*zip.File, len(zr.File))
	var records []string
	for _, f := range zr.File {
		files[f.Name] = f
		if dir, ok := strings.CutSuffix(f.Name, "/data.pkl"); ok && dir != "" && !strings.Contains(dir, "/") {
			records = append(records, dir)
		} else if f.Name == "data.pkl" {
			records = append(records, "")
		}
	}
	switch len(records) {
	case 0:
		return nil, errors.New("torch checkpoint: zip archive without a DIR/data.pkl record (not written by torch.save?)")
	case 1:
	default:
		return nil, fmt.Errorf("torch checkpoint: %d data.pkl records (%s)", len(records), strings.Join(records, ", "))
	}
	rec := records[0]
	at := func(name string) string {
		if rec == "" {
			return name
		}
		return rec + "/" + name
	}
	bigEndian := false
	if f := files[at("byteorder")]; f != nil {
		b, err := readEntry(f, 64, size)
		if err != nil {
			return nil, fmt.Errorf("torch checkpoint: byteorder: %w", err)
		}
		switch strings.TrimSpace(string(b)) {
		case "little":
		case "big":
			bigEndian = true
		default:
			return nil, fmt.Errorf("torch checkpoint: byteorder %.20q", b)
		}
	}
	pkl, err := readEntry(files[at("data.pkl")], MaxPickleSize, size)
	if err != nil {
		return nil, fmt.Errorf("torch checkpoint: data.pkl: %w", err)
	}
	storages := map[string]*storage{}
	h := &torchHooks{budget: baseBudget}
	h.load = func(key string, dt safetensors.DType, numel int64) (*storage, error) {
		if s, ok := storages[key]; ok {
			if s.dtype != dt || s.numel != numel {
				return nil, fmt.Errorf("storage %s used as %d x %s and %d x %s", key, s.numel, s.dtype, numel, dt)
			}
			return s, nil
		}
		f := files[at("data/"+key)]
		if f == nil {
			return nil, fmt.Errorf("storage %s: no record %s in the archive", key, at("data/"+key))
		}
		need := numel * int64(dt.Size())
		if numel > 1<<50 || need > int64(f.UncompressedSize64) {
			return nil, fmt.Errorf("storage %s: %d x %s needs %d bytes, the record holds %d", key, numel, dt, need, f.UncompressedSize64)
		}
		raw, err := readEntry(f, int64(f.UncompressedSize64), size)
		if err != nil {
			return nil, fmt.Errorf("storage %s: %w", key, err)
		}
		if int64(len(raw)) < need {
			return nil, fmt.Errorf("storage %s: record holds %d bytes, want %d", key, len(raw), need)
		}
		s := &storage{key: key, dtype: dt, numel: numel, raw: raw[:need], bigEndian: bigEndian}
		storages[key] = s
		h.budget += 2 * numel
		return s, nil
	}
	root, err := unpickle(pkl, h)
	if err != nil {
		return nil, fmt.Errorf("torch checkpoint %s: %w", at("data.pkl"), err)
	}
	c := &Checkpoint{Root: root, Record: rec}
	if c.Tensors, err = flatten(root); err != nil {
		return nil, fmt.Errorf("torch checkpoint: %w", err)
	}
	return c, nil
}

// readEntry reads a whole zip record, refusing records larger than limit or,
// when compressed, expanding beyond 64 times the archive plus 1 MiB.
func readEntry(f *zip.File, limit, archive int64) ([]byte, error) {
	if f == nil {
		return nil, errors.New("record missing")
	}
	if f.Method != zip.Store {
		limit = min(limit, 64*archive+1<<20)
	}
	if f.UncompressedSize64 > uint64(limit) {
		return nil, fmt.Errorf("record of %d bytes is too large", f.UncompressedSize64)
	}
	rc, err := f.Open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	var buf bytes.Buffer
	if f.Method == zip.Store && f.UncompressedSize64 <= uint64(archive) {
		buf.Grow(int(f.UncompressedSize64) + bytes.MinRead) // stored: the size is real
	}
	if _, err := buf.ReadFrom(io.LimitReader(rc, limit+1)); err != nil {
		return nil, err
	}
	b := buf.Bytes()
	if int64(len(b)) > limit {
		return nil, errors.New("record is larger than its header says")
	}
	return b, nil
}

// notZip explains why a file that is not a zip archive cannot be read.
func notZip(head []byte) error {
	switch {
	case len(head) >= 2 && head[0] == 0x80 && head[1] <= 5:
		return errors.New("legacy PyTorch format (torch.save before PyTorch 1.6, or _use_new_zipfile_serialization=False): " +
			"re-save it with a recent PyTorch, e.g. torch.save(torch.load(f, map_location='cpu'), 'new.pth')")
	case len(head) >= 262 && string(head[257:262]) == "ustar":
		return errors.New("legacy tar-format PyTorch checkpoint: re-save it with a recent PyTorch")
	}
	return errors.New("not a PyTorch checkpoint (torch.save writes a zip archive since PyTorch 1.6)")
}

// flatten lists the tensors reachable from v with their dotted paths.
func flatten(v any) ([]*Tensor, error) {
	var out []*Tensor
	seen := map[string]bool{}
	visits := 0
	var walk func(v any, path string, depth int) error
	walk = func(v any, path string, depth int) error {
		if visits++; visits > maxWalk {
			return errors.New("object tree too large (shared sub-trees?)")
		}
		if depth > maxDepth {
			return fmt.Errorf("containers nested deeper than %d (or a cycle) at %q", maxDepth, path)
		}
		join := func(k string) string {
			if path == "" {
				return k
			}
			return path + "." + k
		}
		switch x := v.(type) {
		case *Tensor:
			if seen[path] {
				return fmt.Errorf("two tensors named %q", path)
			}
			seen[path] = true
			t := *x
			t.Name = path
			out = append(out, &t)
		case *Dict:
			for i := 0; i < x.Len(); i++ {
				var k string
				switch key := x.Key(i).(type) {
				case string:
					k = key
				case int64:
					k = strconv.FormatInt(key, 10)
				case *big.Int:
					k = key.String()
				case bool:
					k = strconv.FormatBool(key)
				default:
					continue // tensors under other keys are not addressable by name
				}
				if err := walk(x.Value(i), join(k), depth+1); err != nil {
					return err
				}
			}
		case *List:
			for i, it := range x.Items {
				if err := walk(it, join(strconv.Itoa(i)), depth+1); err != nil {
					return err
				}
			}
		case Tuple:
			for i, it := range x {
				if err := walk(it, join(strconv.Itoa(i)), depth+1); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if err := walk(v, "", 0); err != nil {
		return nil, err
	}
	return out, nil
}

// Tensor returns the tensor with the given dotted name, or nil.
func (c *Checkpoint) Tensor(name string) *Tensor {
	for _, t := range c.Tensors {
		if t.Name == name {
			return t
		}
	}
	return nil
}

// Scalars returns the top-level entries of a dict checkpoint that are strings,
// numbers or booleans (a SimSiam or MoCo release stores "epoch" and "arch"
// there), formatted as strings; empty when Root is not a dict.
func (c *Checkpoint) Scalars() map[string]string {
	out := map[string]string{}
	d, ok := c.Root.(*Dict)
	if !ok {
		return out
	}
	for i := 0; i < d.Len(); i++ {
		k, ok := d.Key(i).(string)
		if !ok {
			continue
		}
		switch v := d.Value(i).(type) {
		case string:
			out[k] = v
		case int64:
			out[k] = strconv.FormatInt(v, 10)
		case *big.Int:
			out[k] = v.String()
		case float64:
			out[k] = strconv.FormatFloat(v, 'g', -1, 64)
		case bool:
			out[k] = strconv.FormatBool(v)
		}
	}
	return out
}
