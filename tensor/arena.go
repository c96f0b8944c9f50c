package tensor

// arena hands out float32 buffers by exact length and takes all of them back at
// reset; a training step that repeats the same shapes allocates nothing after its
// first run.
type arena struct {
	free  map[int][][]float32
	used  [][]float32
	bytes int64
}

func (a *arena) get(n int) []float32 {
	if n == 0 {
		return nil
	}
	if a.free == nil {
		a.free = make(map[int][][]float32)
	}
	var b []float32
	if l := a.free[n]; len(l) > 0 {
		b = l[len(l)-1]
		a.free[n] = l[:len(l)-1]
	} else {
		b = make([]float32, n)
		a.bytes += int64(4 * n)
	}
	a.used = append(a.used, b)
	return b
}

func (a *arena) reset() {
	for i, b := range a.used {
		a.free[len(b)] = append(a.free[len(b)], b)
		a.used[i] = nil
	}
	a.used = a.used[:0]
}
