package sweep_test

import (
	"fmt"

	"github.com/siam-ssl/siam/sweep"
)

func ExampleParse() {
	s, err := sweep.Parse([]byte(`
base: {data: fashion-mnist, width: 8, steps: 3000, batch: 256}
grid: {order: [multi, hybrid], seed: [1, 2]}
eval: [knn, collapse]
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, p := range s.Points {
		fmt.Println(p.Index, p.Name, p.Config.Order, p.Config.Seed, p.Config.Width)
	}
	fmt.Println(s.Evals, (sweep.Shard{Index: 1, Count: 2}).Takes(3))
	// Output:
	// 0 order=multi,seed=1 multi 1 8
	// 1 order=multi,seed=2 multi 2 8
	// 2 order=hybrid,seed=1 hybrid 1 8
	// 3 order=hybrid,seed=2 hybrid 2 8
	// [collapse knn] true
}
