package data

import "fmt"

// EvalIter walks a dataset in order in fixed-size batches of evaluation views
// (no augmentation: resize if needed, then normalise), for feature extraction,
// k-NN and the collapse metric. Its buffers are reused between calls.
type EvalIter struct {
	ds     *Dataset
	aug    *Augmenter
	batch  int
	pos    int
	x      []float32
	labels []int
}

// NewEvalIter prepares an iterator over ds with r's evaluation transform.
func NewEvalIter(ds *Dataset, r Recipe, batch int) (*EvalIter, error) {
	if err := ds.Validate(); err != nil {
		return nil, err
	}
	if batch <= 0 {
		return nil, fmt.Errorf("data: eval batch %d must be > 0", batch)
	}
	a, err := NewAugmenter(r, ds.C, ds.H, ds.W)
	if err != nil {
		return nil, err
	}
	return &EvalIter{ds: ds, aug: a, batch: batch,
		x: make([]float32, batch*a.OutSize()), labels: make([]int, batch)}, nil
}

// Shape returns the channels, height and width of each view.
func (it *EvalIter) Shape() (c, h, w int) { return it.aug.c, it.aug.oh, it.aug.ow }

// Next returns the next batch's views (n*C*H*W values, NCHW), their labels and
// the index of the batch's first image; ok is false after the last image. The
// last batch may be short. The slices are overwritten by the next call.
func (it *EvalIter) Next() (x []float32, labels []int, first int, ok bool) {
	if it.pos >= it.ds.N {
		return nil, nil, it.pos, false
	}
	first = it.pos
	n := min(it.batch, it.ds.N-first)
	sz := it.aug.OutSize()
	for i := 0; i < n; i++ {
		it.aug.Eval(it.x[i*sz:(i+1)*sz], it.ds.Image(first+i))
		it.labels[i] = it.ds.Labels[first+i]
	}
	it.pos += n
	return it.x[:n*sz], it.labels[:n], first, true
}

// Reset rewinds the iterator to the first image.
func (it *EvalIter) Reset() { it.pos = 0 }
