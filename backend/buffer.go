package backend

// Buffer is a span of float32 storage owned by one backend: either host memory
// (a Go slice, which a host backend such as backend/cpu hands out, so that reading
// it from the host is a zero-copy view) or device memory behind an opaque handle
// that only the owning backend interprets. A Buffer is a small value (no
// allocation to pass or slice it); the zero Buffer is empty.
type Buffer struct {
	host   []float32
	handle any
	off, n int
}

// HostBuffer wraps a host slice (not copied) as a Buffer. It is how a host backend
// makes its buffers, and how tensor wraps data it was given.
func HostBuffer(s []float32) Buffer { return Buffer{host: s, n: len(s)} }

// DeviceBuffer returns a Buffer of n floats at element offset off of the device
// allocation h. Only the backend that made h interprets it.
func DeviceBuffer(h any, off, n int) Buffer { return Buffer{handle: h, off: off, n: n} }

// Len returns the number of float32 elements.
func (b Buffer) Len() int { return b.n }

// Bytes returns the size in bytes (4 per element).
func (b Buffer) Bytes() int64 { return 4 * int64(b.n) }

// IsHost reports whether the buffer is host memory (HostView succeeds).
func (b Buffer) IsHost() bool { return b.handle == nil }

// HostView returns the host slice behind a host buffer (shared, not copied), or
// (nil, false) for device memory: callers that need the values then Download.
func (b Buffer) HostView() ([]float32, bool) {
	if b.handle != nil {
		return nil, false
	}
	return b.host, true
}

// Handle returns the device allocation and element offset of a device buffer
// (nil for host memory).
func (b Buffer) Handle() (h any, off int) { return b.handle, b.off }

// Slice returns elements [i, j) of the buffer, sharing its storage.
func (b Buffer) Slice(i, j int) Buffer {
	if i < 0 || j < i || j > b.n {
		panic("backend: Buffer.Slice out of range")
	}
	if b.handle == nil {
		return Buffer{host: b.host[i:j:j], n: j - i}
	}
	return Buffer{handle: b.handle, off: b.off + i, n: j - i}
}
