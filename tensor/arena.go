package tensor

// arena hands out float32 buffers by exact length and takes all of them back at
// reset; a training step that repeats the same shapes allocates nothing after its
// first run.
type arena struct {
	free  map[int][][]float32
	used  [][]float32
	index map[*float32]int // position in used of each handed-out buffer
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
	if a.index == nil {
		a.index = make(map[*float32]int)
	}
	a.index[&b[0]] = len(a.used)
	a.used = append(a.used, b)
	return b
}

// release hands one buffer back before reset, so a later get of the same length
// can reuse it within the same step (a gradient that is dead once consumed).
func (a *arena) release(b []float32) {
	if len(b) == 0 {
		return
	}
	i, ok := a.index[&b[0]]
	if !ok {
		return
	}
	last := len(a.used) - 1
	moved := a.used[last]
	a.used[i] = moved
	a.index[&moved[0]] = i
	a.used[last] = nil
	a.used = a.used[:last]
	delete(a.index, &b[0])
	a.free[len(b)] = append(a.free[len(b)], b)
}

// releaseSince hands back every buffer handed out since len(used) was mark,
// except keep (nil: none): the buffers of a finished no-gradient scope. Buffers
// taken before mark stay in place (release only ever moves later buffers to
// earlier slots), so scopes nest.
func (a *arena) releaseSince(mark int, keep []float32) {
	if mark > len(a.used) {
		return
	}
	j := mark
	for i := mark; i < len(a.used); i++ {
		b := a.used[i]
		if len(keep) > 0 && &b[0] == &keep[0] {
			a.used[j] = b
			a.index[&b[0]] = j
			j++
			continue
		}
		delete(a.index, &b[0])
		a.free[len(b)] = append(a.free[len(b)], b)
	}
	clear(a.used[j:])
	a.used = a.used[:j]
}

func (a *arena) reset() {
	for i, b := range a.used {
		a.free[len(b)] = append(a.free[len(b)], b)
		a.used[i] = nil
	}
	a.used = a.used[:0]
	clear(a.index)
}
