package tensor_test

import (
	"fmt"

	"github.com/siam-ssl/siam/tensor"
)

// A linear layer fitted by mean squared error: one forward pass, one backward pass,
// and the parameter gradients it leaves behind.
func Example() {
	w := tensor.NewParam("w", 1, 2) // [out, in], PyTorch layout
	copy(w.Data, []float32{0.5, -1})
	b := tensor.NewParam("b", 1)
	b.Data[0] = 0.25

	g := tensor.NewGraph()
	x := g.Input([]float32{1, 2, 3, 4}, 2, 2)
	target := g.Input([]float32{1, 0}, 2, 1)
	y := g.Linear(x, w, b) // x w^T + b = [[-1.25], [-2.25]]
	loss := g.MSE(y, target)
	if err := g.Backward(loss); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("loss", loss.Item(), "shape", loss.Shape())
	fmt.Println("dL/dw", w.Grad)
	fmt.Println("dL/db", b.Grad)
	// Output:
	// loss 5.0625 shape []
	// dL/dw [-9 -13.5]
	// dL/db [-4.5]
}
