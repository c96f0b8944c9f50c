package data

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
)

// SubsetIndices picks round(fraction*n) distinct indices of [0,n) (at least
// one) uniformly at random with a PCG seeded by seed, returned in increasing
// order. It is not stratified by class: the paper's p% subsets are plain
// random draws.
func SubsetIndices(n int, fraction float64, seed uint64) ([]int, error) {
	if !(fraction > 0 && fraction <= 1) {
		return nil, fmt.Errorf("data: subset fraction %v outside (0, 1]", fraction)
	}
	if n <= 0 {
		return nil, fmt.Errorf("data: subset of an empty set")
	}
	k := int(math.Round(fraction * float64(n)))
	k = min(max(k, 1), n)
	perm := rand.New(rand.NewPCG(seed, 0x5eb5e7)).Perm(n)[:k]
	sort.Ints(perm)
	return perm, nil
}

// Subset returns a fixed random fraction of ds (see SubsetIndices) as a new
// dataset, for the "subset p%" ordering of SPEC §4; the same seed always picks
// the same images.
func Subset(ds *Dataset, fraction float64, seed uint64) (*Dataset, error) {
	idx, err := SubsetIndices(ds.N, fraction, seed)
	if err != nil {
		return nil, fmt.Errorf("%w (%s)", err, ds.Name)
	}
	out, err := ds.Select(idx)
	if err != nil {
		return nil, err
	}
	out.Name = fmt.Sprintf("%s[%g%%]", ds.Name, 100*fraction)
	return out, nil
}
