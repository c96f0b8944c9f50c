package data

import (
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"
)

// ErrLoaderClosed is returned by Next after Close.
var ErrLoaderClosed = errors.New("data: loader closed")

// LoaderConfig configures a Loader.
type LoaderConfig struct {
	Dataset *Dataset
	Recipe  Recipe
	// Sampler returns the dataset indices of the batch for a step; it is called
	// once per step, in step order, from a single goroutine, ahead of the
	// trainer by up to Prefetch steps. The loader copies the result, so the
	// sampler may reuse its slice. An empty result ends the stream.
	Sampler func(step int) []int
	// Batch is the largest batch Sampler returns; it sizes the buffers.
	Batch int
	// Start is the first step; Steps, when > 0, is one past the last step.
	Start, Steps int
	// Seed fixes every augmentation: sample i of step s draws from a PCG
	// seeded by SampleSeeds(Seed, s, i), whatever the number of workers.
	Seed uint64
	// Workers augment in parallel (default GOMAXPROCS).
	Workers int
	// Prefetch is how many batches are prepared ahead (default 2).
	Prefetch int
	// SingleView makes one view per sample (X2 stays nil), e.g. for a linear probe.
	SingleView bool
}

// Batch is one step's augmented views in NCHW float32 layout. It belongs to
// the Loader and stays valid until the next call of Next or Close, after
// which its buffers are reused.
type Batch struct {
	Step       int
	N, C, H, W int
	Indices    []int     // dataset index of each sample
	Labels     []int     // label of each sample (for probes and monitoring only)
	X1, X2     []float32 // N*C*H*W each; X2 is nil with SingleView

	x1buf, x2buf []float32
	orig         []int // the sampler's indices (Indices may name replacements)
	wg           sync.WaitGroup
	err          error
	werrMu       sync.Mutex
	werr         error // first worker error (streamed sets)
}

// chunk is a contiguous run of samples of one batch for one worker.
type chunk struct {
	b      *Batch
	lo, hi int
}

// Loader prepares batches of augmented view pairs in background goroutines
// and hands them out in step order. Next and Close must be called from one
// goroutine (the trainer's).
type Loader struct {
	cfg        LoaderConfig
	free       chan *Batch
	ready      chan *Batch
	work       chan chunk
	quit       chan struct{}
	wg         sync.WaitGroup
	cur        *Batch
	closed     bool
	c, oh, ow  int
	viewValues int
}

// NewLoader validates cfg and starts the dispatcher and worker goroutines.
func NewLoader(cfg LoaderConfig) (*Loader, error) {
	ds := cfg.Dataset
	if err := ds.Validate(); err != nil {
		return nil, err
	}
	if ds.N == 0 {
		return nil, fmt.Errorf("data: loader: %s is empty", ds.Name)
	}
	if ds.Files != nil && ds.C != 3 {
		return nil, fmt.Errorf("data: loader: streamed dataset %s has %d channels, want 3", ds.Name, ds.C)
	}
	if cfg.Sampler == nil || cfg.Batch <= 0 {
		return nil, errors.New("data: loader: needs a Sampler and Batch > 0")
	}
	if cfg.Workers <= 0 {
		cfg.Workers = runtime.GOMAXPROCS(0)
	}
	if cfg.Prefetch <= 0 {
		cfg.Prefetch = 2
	}
	augs := make([]*Augmenter, cfg.Workers)
	for i := range augs {
		a, err := NewAugmenter(cfg.Recipe, ds.C, ds.H, ds.W)
		if err != nil {
			return nil, err
		}
		augs[i] = a
	}
	c, oh, ow := cfg.Recipe.OutShape(ds.C, ds.H, ds.W)
	l := &Loader{cfg: cfg, c: c, oh: oh, ow: ow, viewValues: c * oh * ow,
		free:  make(chan *Batch, cfg.Prefetch+1),
		ready: make(chan *Batch, cfg.Prefetch),
		work:  make(chan chunk, 4*cfg.Workers*cfg.Prefetch),
		quit:  make(chan struct{}),
	}
	for range cfg.Prefetch + 1 {
		b := &Batch{x1buf: make([]float32, cfg.Batch*l.viewValues),
			Indices: make([]int, 0, cfg.Batch), Labels: make([]int, 0, cfg.Batch)}
		if !cfg.SingleView {
			b.x2buf = make([]float32, cfg.Batch*l.viewValues)
		}
		l.free <- b
	}
	l.wg.Add(1 + cfg.Workers)
	go l.dispatch()
	for _, a := range augs {
		go l.worker(a)
	}
	return l, nil
}

// dispatch fills free buffers step by step: it calls the sampler, splits the
// batch into chunks for the workers and queues the batch in step order.
func (l *Loader) dispatch() {
	defer l.wg.Done()
	defer close(l.ready)
	cfg := &l.cfg
	for step := cfg.Start; cfg.Steps <= 0 || step < cfg.Steps; step++ {
		var b *Batch
		select {
		case b = <-l.free:
		case <-l.quit:
			return
		}
		idx := cfg.Sampler(step)
		if len(idx) == 0 {
			l.free <- b
			return
		}
		b.Step, b.N, b.C, b.H, b.W, b.err = step, len(idx), l.c, l.oh, l.ow, nil
		if b.err = l.fill(b, idx); b.err != nil {
			l.send(b)
			return
		}
		per := max(1, (b.N+4*cfg.Workers-1)/(4*cfg.Workers))
		b.wg.Add((b.N + per - 1) / per)
		for lo := 0; lo < b.N; lo += per {
			select {
			case l.work <- chunk{b, lo, min(lo+per, b.N)}:
			case <-l.quit:
				return
			}
		}
		if !l.send(b) {
			return
		}
	}
}

// fill copies the batch's indices and labels and sizes its views.
func (l *Loader) fill(b *Batch, idx []int) error {
	ds := l.cfg.Dataset
	if len(idx) > l.cfg.Batch {
		return fmt.Errorf("data: loader: sampler returned %d indices at step %d, more than Batch %d", len(idx), b.Step, l.cfg.Batch)
	}
	b.Indices, b.Labels, b.orig = b.Indices[:0], b.Labels[:0], b.orig[:0]
	b.werr = nil
	for _, i := range idx {
		if i < 0 || i >= ds.N {
			return fmt.Errorf("data: loader: sampler index %d at step %d outside [0,%d)", i, b.Step, ds.N)
		}
		b.Indices = append(b.Indices, i)
		b.orig = append(b.orig, i)
		b.Labels = append(b.Labels, ds.Labels[i])
	}
	b.X1 = b.x1buf[:b.N*l.viewValues]
	if b.x2buf != nil {
		b.X2 = b.x2buf[:b.N*l.viewValues]
	}
	return nil
}

// send queues b for Next, reporting false when the loader is closing.
func (l *Loader) send(b *Batch) bool {
	select {
	case l.ready <- b:
		return true
	case <-l.quit:
		return false
	}
}

// worker augments chunks with its own Augmenter and re-seeded generator.
func (l *Loader) worker(a *Augmenter) {
	defer l.wg.Done()
	rng := newSampleRNG()
	ds, sz := l.cfg.Dataset, l.viewValues
	var sc streamScratch
	for {
		select {
		case ch := <-l.work:
			b := ch.b
			for i := ch.lo; i < ch.hi; i++ {
				if ds.Files != nil {
					if err := l.streamSample(a, &sc, rng, b, i); err != nil {
						b.werrMu.Lock()
						if b.werr == nil {
							b.werr = err
						}
						b.werrMu.Unlock()
					}
					continue
				}
				rng.reseed(l.cfg.Seed, b.Step, i)
				img := ds.Image(b.Indices[i])
				a.Augment(b.X1[i*sz:(i+1)*sz], img, rng.Rand)
				if b.X2 != nil {
					a.Augment(b.X2[i*sz:(i+1)*sz], img, rng.Rand)
				}
			}
			b.wg.Done()
		case <-l.quit:
			return
		}
	}
}

// streamSample reads, decodes and augments sample i of a batch of a streamed
// dataset. Both views are planned on the full-size image (RandomResizedCrop
// of the original, as torchvision does) and sampled from one decode. A file
// that cannot be read or decoded is reported once (Dataset.BadFiles counts
// it) and replaced by the next readable image of the batch, in batch order,
// with the slot's own random stream: the result depends only on (seed,
// step, slot) and on which files are unreadable, never on timing. An error
// is returned only when no image of the batch can be read.
func (l *Loader) streamSample(a *Augmenter, sc *streamScratch, rng sampleRNG, b *Batch, i int) error {
	ds, sz := l.cfg.Dataset, l.viewValues
	var p1, p2 viewPlan
	for k := 0; k < b.N; k++ {
		idx := b.orig[(i+k)%b.N]
		err := sc.loadScaled(ds.Files, idx, func(w, h int) int {
			// Plan both views on the full-size image, then decode at the
			// coarsest scale both crops allow.
			rng.reseed(l.cfg.Seed, b.Step, i)
			a.plan(&p1, h, w, rng.Rand)
			shift := a.planLevel(&p1)
			if b.X2 != nil {
				a.plan(&p2, h, w, rng.Rand)
				shift = min(shift, a.planLevel(&p2))
			}
			return shift
		})
		if err != nil {
			ds.Files.report(idx, err)
			continue
		}
		a.viewDecoded(b.X1[i*sz:(i+1)*sz], &sc.img, &p1, &sc.tab)
		if b.X2 != nil {
			a.viewDecoded(b.X2[i*sz:(i+1)*sz], &sc.img, &p2, &sc.tab)
		}
		b.Indices[i], b.Labels[i] = idx, ds.Labels[idx]
		return nil
	}
	return fmt.Errorf("data: loader: step %d: no image of the batch could be read (%s first)", b.Step, ds.Files.Store.Path(b.orig[i]))
}

// BadFiles returns how many distinct unreadable files the dataset has met
// (see Dataset.BadFiles); each was reported once and replaced.
func (l *Loader) BadFiles() int { return l.cfg.Dataset.BadFiles() }

// Next returns the next step's batch, waiting for it if needed; io.EOF after
// the last step. A bad sampler result (index out of range, too many indices)
// is returned once as an error and ends the stream. The previous batch's
// buffers are recycled by this call.
func (l *Loader) Next() (*Batch, error) {
	if l.closed {
		return nil, ErrLoaderClosed
	}
	if l.cur != nil {
		l.free <- l.cur
		l.cur = nil
	}
	b, ok := <-l.ready
	if !ok {
		return nil, io.EOF
	}
	if b.err != nil {
		return nil, b.err
	}
	b.wg.Wait()
	l.cur = b
	if b.werr != nil {
		return nil, b.werr
	}
	return b, nil
}

// Close stops the background goroutines and waits for them; batches already
// handed out become invalid. It is safe to call more than once.
func (l *Loader) Close() error {
	if l.closed {
		return nil
	}
	l.closed = true
	close(l.quit)
	l.wg.Wait()
	return nil
}
