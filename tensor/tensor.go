package tensor

import (
	"fmt"
	"strings"
)

// Tensor is a dense, contiguous, row-major float32 array. Grad holds the gradient of
// the loss with respect to it once Backward has reached it (nil before).
type Tensor struct {
	shape []int
	// Data is the tensor's storage, len(Data) == product of the shape.
	Data []float32
	// Grad is the accumulated gradient, same length as Data, or nil.
	Grad []float32
	// Name labels parameters (state-dict key) and appears in error messages.
	Name string

	requiresGrad bool
	param        bool
}

// New returns a zero tensor of the given shape, owned by the Go heap (not an arena).
func New(shape ...int) *Tensor {
	return &Tensor{shape: append([]int(nil), shape...), Data: make([]float32, numel(shape))}
}

// FromData wraps data (not copied) as a tensor of the given shape. It reports an
// error when the length does not match the shape.
func FromData(data []float32, shape ...int) (*Tensor, error) {
	if err := checkShape(shape); err != nil {
		return nil, err
	}
	if n := numel(shape); n != len(data) {
		return nil, fmt.Errorf("tensor: %d values do not fill shape %v (%d)", len(data), shape, n)
	}
	return &Tensor{shape: append([]int(nil), shape...), Data: data}, nil
}

// NewParam returns a trainable zero tensor: Backward accumulates into its Grad,
// which persists across steps until ZeroGrad.
func NewParam(name string, shape ...int) *Tensor {
	t := New(shape...)
	t.Name = name
	t.requiresGrad = true
	t.param = true
	t.Grad = make([]float32, len(t.Data))
	return t
}

// Shape returns the tensor's dimensions. The slice must not be modified.
func (t *Tensor) Shape() []int { return t.shape }

// Dim returns dimension i; negative i counts from the end.
func (t *Tensor) Dim(i int) int {
	if i < 0 {
		i += len(t.shape)
	}
	return t.shape[i]
}

// Rank returns the number of dimensions.
func (t *Tensor) Rank() int { return len(t.shape) }

// Numel returns the number of elements.
func (t *Tensor) Numel() int { return len(t.Data) }

// RequiresGrad reports whether gradients flow into this tensor.
func (t *Tensor) RequiresGrad() bool { return t.requiresGrad }

// IsParam reports whether the tensor is a trainable parameter (made by NewParam).
func (t *Tensor) IsParam() bool { return t.param }

// SetRequiresGrad marks a leaf tensor (an input) as needing its gradient, e.g. for
// gradient checks. Parameters always require gradients.
func (t *Tensor) SetRequiresGrad(v bool) {
	if !t.param {
		t.requiresGrad = v
	}
}

// ZeroGrad clears the accumulated gradient of a parameter or leaf.
func (t *Tensor) ZeroGrad() { clear(t.Grad) }

// Item returns the single value of a one-element tensor (0 for any other).
func (t *Tensor) Item() float32 {
	if len(t.Data) != 1 {
		return 0
	}
	return t.Data[0]
}

// Clone returns a heap copy of the values, detached from any graph.
func (t *Tensor) Clone() *Tensor {
	return &Tensor{shape: append([]int(nil), t.shape...), Data: append([]float32(nil), t.Data...), Name: t.Name}
}

// String prints the shape and name, not the values.
func (t *Tensor) String() string {
	if t == nil {
		return "<nil tensor>"
	}
	if t.Name != "" {
		return fmt.Sprintf("%s%v", t.Name, t.shape)
	}
	return fmt.Sprint(t.shape)
}

func numel(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

func checkShape(shape []int) error {
	for _, d := range shape {
		if d < 0 {
			return fmt.Errorf("tensor: negative dimension in shape %v", shape)
		}
	}
	return nil
}

// SameShape reports whether two shapes are equal.
func SameShape(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// ShapeError is the error an op records when its inputs do not fit: it names the op,
// the shapes it was given and what is wrong.
type ShapeError struct {
	Op     string
	Shapes [][]int
	Msg    string
}

// Error formats as "conv2d: shapes [8 3 32 32], [16 4 3 3]: input channels 3 != 4".
func (e *ShapeError) Error() string {
	var b strings.Builder
	b.WriteString(e.Op)
	if len(e.Shapes) > 0 {
		b.WriteString(": shapes ")
		for i, s := range e.Shapes {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprint(&b, s)
		}
	}
	b.WriteString(": ")
	b.WriteString(e.Msg)
	return b.String()
}
