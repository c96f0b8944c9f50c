package kernels_test

import (
	"fmt"

	"github.com/siam-ssl/siam/kernels"
)

// NearestL2 finds each query's nearest keys in squared Euclidean distance, on
// unnormalised vectors: for the query (1.2, 0) the key (1, 0) comes first, where
// a dot-product search (NearestNeighbors) would rank the longer key (3, 0) first.
func ExampleNearestL2() {
	keys := []float32{
		1, 0, // key 0
		3, 0, // key 1
		0, 5, // key 2
	}
	queries := []float32{1.2, 0, 0, 4}
	nb, err := kernels.NearestL2(queries, keys, 2, 2, 0)
	if err != nil {
		panic(err)
	}
	for q := range 2 {
		idx, negDist := nb.Row(q)
		fmt.Printf("query %d: keys %v at squared distances %.2f, %.2f\n", q, idx, -negDist[0], -negDist[1])
	}
	// Output:
	// query 0: keys [0 1] at squared distances 0.04, 3.24
	// query 1: keys [2 0] at squared distances 1.00, 17.00
}
