package nn

import (
	"fmt"

	"github.com/siam-ssl/siam/safetensors"
	"github.com/siam-ssl/siam/tensor"
)

// SaveTensors writes named tensors and metadata to a safetensors file atomically.
func SaveTensors(path string, ts []*tensor.Tensor, meta map[string]string) error {
	out := make([]safetensors.Tensor, 0, len(ts))
	seen := make(map[string]bool, len(ts))
	for _, t := range ts {
		if t.Name == "" || seen[t.Name] {
			return fmt.Errorf("save %s: tensor name %q empty or repeated", path, t.Name)
		}
		seen[t.Name] = true
		out = append(out, safetensors.Tensor{Name: t.Name, DType: safetensors.F32, Shape: append([]int{}, t.Shape()...), F32: t.Data})
	}
	return safetensors.WriteFile(path, out, meta)
}

// LoadTensors reads every float tensor of a safetensors file (integer tensors such
// as num_batches_tracked are skipped) with the file's metadata.
func LoadTensors(path string) (map[string]*tensor.Tensor, map[string]string, error) {
	f, err := safetensors.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	out := make(map[string]*tensor.Tensor, f.Len())
	for _, name := range f.Names() {
		st, err := f.Get(name)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", path, err)
		}
		if !st.DType.IsFloat() {
			continue
		}
		t, err := tensor.FromData(st.F32, st.Shape...)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: tensor %s: %w", path, name, err)
		}
		t.Name = name
		out[name] = t
	}
	return out, f.Metadata, nil
}
