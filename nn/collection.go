package nn

import (
	"fmt"

	"github.com/siam-ssl/siam/tensor"
)

// Collection gathers a model's named tensors as its layers are built: trainable
// parameters, frozen weights, buffers (BN running statistics) and the BN layers
// themselves, so one call switches train/eval mode or lists the state dict.
type Collection struct {
	Params []*tensor.Tensor
	// Frozen holds weights that are part of the model but never trained: a ViT's
	// fixed position embedding and, with MoCo v3's trick, its random patch
	// projection. They need no gradient (Grad stays nil), no optimiser sees them
	// (optimisers take Params), and the state dict and checkpoints carry them. A
	// momentum (EMA) copy of the model should copy them, not average them.
	Frozen  []*tensor.Tensor
	Buffers []*tensor.Tensor
	BNs     []*tensor.BatchNorm
}

func (c *Collection) param(name string, shape ...int) *tensor.Tensor {
	p := tensor.NewParam(name, shape...)
	c.Params = append(c.Params, p)
	return p
}

func (c *Collection) frozen(name string, shape ...int) *tensor.Tensor {
	f := tensor.New(shape...)
	f.Name = name
	c.Frozen = append(c.Frozen, f)
	return f
}

func (c *Collection) buffer(name string, shape ...int) *tensor.Tensor {
	b := tensor.New(shape...)
	b.Name = name
	c.Buffers = append(c.Buffers, b)
	return b
}

// SetTraining switches every batch-norm layer between batch statistics (true) and
// running statistics (false).
func (c *Collection) SetTraining(v bool) {
	for _, bn := range c.BNs {
		bn.Training = v
	}
}

// ZeroGrad clears every parameter's gradient.
func (c *Collection) ZeroGrad() {
	for _, p := range c.Params {
		p.ZeroGrad()
	}
}

// StateDict lists parameters, then frozen weights, then buffers, each named as
// in PyTorch.
func (c *Collection) StateDict() []*tensor.Tensor {
	out := make([]*tensor.Tensor, 0, len(c.Params)+len(c.Frozen)+len(c.Buffers))
	out = append(out, c.Params...)
	out = append(out, c.Frozen...)
	return append(out, c.Buffers...)
}

// NumParams counts trainable scalars (Params; not Frozen, not Buffers).
func (c *Collection) NumParams() int {
	n := 0
	for _, p := range c.Params {
		n += p.Numel()
	}
	return n
}

// Add appends another collection's tensors (a sub-model built separately).
func (c *Collection) Add(o *Collection) {
	c.Params = append(c.Params, o.Params...)
	c.Frozen = append(c.Frozen, o.Frozen...)
	c.Buffers = append(c.Buffers, o.Buffers...)
	c.BNs = append(c.BNs, o.BNs...)
}

// Lookup returns the tensor of the state dict with the given name.
func (c *Collection) Lookup(name string) (*tensor.Tensor, bool) {
	for _, t := range c.StateDict() {
		if t.Name == name {
			return t, true
		}
	}
	return nil, false
}

// LoadStateDict copies values into the collection's tensors by name. Every tensor
// of the collection must be present with the same shape (extra entries, such as
// PyTorch's num_batches_tracked, are ignored); otherwise nothing is changed and the
// error names the first mismatch — e.g. a checkpoint of another architecture.
func (c *Collection) LoadStateDict(values map[string]*tensor.Tensor) error {
	for _, t := range c.StateDict() {
		v, ok := values[t.Name]
		if !ok {
			return fmt.Errorf("state dict: missing %s %v", t.Name, t.Shape())
		}
		if !tensor.SameShape(v.Shape(), t.Shape()) {
			return fmt.Errorf("state dict: %s has shape %v, model expects %v", t.Name, v.Shape(), t.Shape())
		}
	}
	for _, t := range c.StateDict() {
		copy(t.Data, values[t.Name].Data)
	}
	return nil
}
