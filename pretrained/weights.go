package pretrained

import (
	"fmt"
	"io"
	"os"

	"github.com/siam-ssl/siam/safetensors"
	"github.com/siam-ssl/siam/torchpt"
)

// Weights are the float tensors of a weights file, by name, whatever its format.
type Weights struct {
	// Path is the file read.
	Path string
	// Format is "torch" (a torch.save zip archive) or "safetensors".
	Format string
	// Names lists the float tensors in file order (torch) or sorted (safetensors).
	// Names of a torch checkpoint are dotted paths from its root object, e.g.
	// "state_dict.module.encoder.conv1.weight".
	Names []string
	// Tensors maps every name of Names to its values (float32, contiguous).
	Tensors map[string]Tensor
	// Meta is the checkpoint's top-level scalars (torch: "epoch", "arch", ...)
	// or the safetensors metadata.
	Meta map[string]string
}

// Tensor is one float tensor of a weights file.
type Tensor struct {
	Shape []int
	Data  []float32
}

// ReadWeights reads the float tensors of a safetensors file or of a PyTorch
// checkpoint written by torch.save (.pth, .pth.tar, .pt: the zip format of
// PyTorch >= 1.6, read by package torchpt, which never executes anything).
// The format is told from the file's content, not its extension. Integer
// tensors (BatchNorm's num_batches_tracked) are left out.
func ReadWeights(path string) (*Weights, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	head := make([]byte, 16)
	n, err := io.ReadFull(f, head)
	f.Close()
	if err != nil && n == 0 {
		return nil, fmt.Errorf("%s: empty file", path)
	}
	head = head[:n]
	w := &Weights{Path: path, Tensors: map[string]Tensor{}, Meta: map[string]string{}}
	if !torchpt.IsZip(head) && len(head) > 8 && head[8] == '{' {
		st, err := safetensors.ReadFile(path)
		if err != nil {
			return nil, err
		}
		w.Format = "safetensors"
		for _, name := range st.Names() {
			info, _ := st.Info(name)
			if !info.DType.IsFloat() {
				continue
			}
			t, err := st.Get(name)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", path, err)
			}
			w.add(name, t.Shape, t.F32)
		}
		for k, v := range st.Metadata {
			w.Meta[k] = v
		}
		return w, nil
	}
	c, err := torchpt.ReadFile(path)
	if err != nil {
		return nil, err
	}
	w.Format = "torch"
	for _, t := range c.Tensors {
		if t.F32 != nil {
			w.add(t.Name, t.Shape, t.F32)
		}
	}
	w.Meta = c.Scalars()
	return w, nil
}

func (w *Weights) add(name string, shape []int, data []float32) {
	if _, dup := w.Tensors[name]; dup {
		return
	}
	w.Names = append(w.Names, name)
	w.Tensors[name] = Tensor{Shape: shape, Data: data}
}
