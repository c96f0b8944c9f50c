package order_test

import (
	"fmt"

	"github.com/siam-ssl/siam/order"
)

// A hybrid run over 12 examples in 3 chunks: 6 steps of 4, two per chunk. The
// first chunk is trained single-pass; from step 2 (the start of chunk 1's slot)
// the sampler switches to epochs over the whole set.
func Example() {
	kind, err := order.ParseKind("hybrid")
	if err != nil {
		panic(err)
	}
	s, err := order.New(order.Config{Kind: kind, N: 12, Steps: 6, Batch: 4, Chunks: 3, SwitchAt: 1, Seed: 1})
	if err != nil {
		panic(err)
	}
	fmt.Println("chunk 0 holds", s.ChunkIndices(0), "switch at step", s.SwitchStep())
	for step := range s.Steps() {
		fmt.Println(step, s.Chunk(step), s.Batch(step))
	}
	// Output:
	// chunk 0 holds [5 10 0 6] switch at step 2
	// 0 0 [10 5 6 0]
	// 1 0 [5 10 0 6]
	// 2 1 [6 4 2 3]
	// 3 1 [10 9 5 11]
	// 4 2 [8 1 0 7]
	// 5 2 [11 1 5 2]
}
