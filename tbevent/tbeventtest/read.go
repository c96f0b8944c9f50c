// Package tbeventtest reads TensorBoard event files for tests, independently of
// package tbevent's writer: its own bitwise CRC-32C, its own framing checks and a
// strict protowire parse of exactly the fields tbevent documents (an unknown
// field or a wrong wire type is an error, so a writer bug cannot hide).
package tbeventtest

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"

	"google.golang.org/protobuf/encoding/protowire"
)

// Event is a decoded Event record.
type Event struct {
	WallTime      float64
	Step          int64
	FileVersion   string
	HasSummary    bool
	Scalars       map[string]float32
	Histograms    map[string]Histogram
	SessionStatus int
	SessionMsg    string
}

// Histogram is a decoded HistogramProto.
type Histogram struct {
	Min, Max, Num, Sum, SumSquares float64
	BucketLimit, Bucket            []float64
}

// crc32c is CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), bit by bit.
func crc32c(b []byte) uint32 {
	c := ^uint32(0)
	for _, x := range b {
		c ^= uint32(x)
		for range 8 {
			if c&1 != 0 {
				c = c>>1 ^ 0x82F63B78
			} else {
				c >>= 1
			}
		}
	}
	return ^c
}

func masked(b []byte) uint32 {
	c := crc32c(b)
	return (c>>15 | c<<17) + 0xa282ead8
}

// ReadFile decodes every record of an event file, checking both CRCs of each.
func ReadFile(path string) ([]Event, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []Event
	for off := 0; off < len(b); {
		if len(b)-off < 12 {
			return out, fmt.Errorf("%s: record at byte %d: truncated header", path, off)
		}
		n := binary.LittleEndian.Uint64(b[off:])
		if got, want := binary.LittleEndian.Uint32(b[off+8:]), masked(b[off:off+8]); got != want {
			return out, fmt.Errorf("%s: record at byte %d: length CRC %#x, want %#x", path, off, got, want)
		}
		if n > uint64(len(b)-off-16) {
			return out, fmt.Errorf("%s: record at byte %d: length %d past the end", path, off, n)
		}
		data := b[off+12 : off+12+int(n)]
		if got, want := binary.LittleEndian.Uint32(b[off+12+int(n):]), masked(data); got != want {
			return out, fmt.Errorf("%s: record at byte %d: data CRC %#x, want %#x", path, off, got, want)
		}
		e, err := parseEvent(data)
		if err != nil {
			return out, fmt.Errorf("%s: record at byte %d: %w", path, off, err)
		}
		out = append(out, e)
		off += 16 + int(n)
	}
	if len(out) == 0 || out[0].FileVersion != "brain.Event:2" {
		return out, fmt.Errorf("%s: first record is not file_version brain.Event:2", path)
	}
	return out, nil
}

// fields walks the fields of one message, calling fn with each number, wire
// type and raw value.
func fields(b []byte, fn func(num protowire.Number, typ protowire.Type, v []byte) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		m := protowire.ConsumeFieldValue(num, typ, b[n:])
		if m < 0 {
			return protowire.ParseError(m)
		}
		if err := fn(num, typ, b[n:n+m]); err != nil {
			return fmt.Errorf("field %d: %w", num, err)
		}
		b = b[n+m:]
	}
	return nil
}

func want(typ, w protowire.Type) error {
	if typ != w {
		return fmt.Errorf("wire type %d, want %d", typ, w)
	}
	return nil
}

func double(typ protowire.Type, v []byte) (float64, error) {
	if err := want(typ, protowire.Fixed64Type); err != nil {
		return 0, err
	}
	x, _ := protowire.ConsumeFixed64(v)
	return math.Float64frombits(x), nil
}

func bytesOf(typ protowire.Type, v []byte) ([]byte, error) {
	if err := want(typ, protowire.BytesType); err != nil {
		return nil, err
	}
	x, _ := protowire.ConsumeBytes(v)
	return x, nil
}

func varint(typ protowire.Type, v []byte) (uint64, error) {
	if err := want(typ, protowire.VarintType); err != nil {
		return 0, err
	}
	x, _ := protowire.ConsumeVarint(v)
	return x, nil
}

var errUnknown = errors.New("unexpected field")

func parseEvent(b []byte) (Event, error) {
	e := Event{Scalars: map[string]float32{}, Histograms: map[string]Histogram{}}
	what := 0
	err := fields(b, func(num protowire.Number, typ protowire.Type, v []byte) error {
		var err error
		switch num {
		case 1:
			e.WallTime, err = double(typ, v)
		case 2:
			var x uint64
			x, err = varint(typ, v)
			e.Step = int64(x)
		case 3:
			what++
			var s []byte
			s, err = bytesOf(typ, v)
			e.FileVersion = string(s)
		case 5:
			what++
			e.HasSummary = true
			var s []byte
			if s, err = bytesOf(typ, v); err == nil {
				err = parseSummary(s, &e)
			}
		case 7:
			what++
			var s []byte
			if s, err = bytesOf(typ, v); err == nil {
				err = fields(s, func(num protowire.Number, typ protowire.Type, v []byte) error {
					switch num {
					case 1:
						x, err := varint(typ, v)
						e.SessionStatus = int(x)
						return err
					case 3:
						m, err := bytesOf(typ, v)
						e.SessionMsg = string(m)
						return err
					}
					return errUnknown
				})
			}
		default:
			return errUnknown
		}
		return err
	})
	if err == nil && what != 1 {
		err = fmt.Errorf("event sets %d of file_version/summary/session_log, want 1", what)
	}
	return e, err
}

func parseSummary(b []byte, e *Event) error {
	return fields(b, func(num protowire.Number, typ protowire.Type, v []byte) error {
		if num != 1 {
			return errUnknown
		}
		s, err := bytesOf(typ, v)
		if err != nil {
			return err
		}
		var tag string
		var scalar *float32
		var histo *Histogram
		err = fields(s, func(num protowire.Number, typ protowire.Type, v []byte) error {
			switch num {
			case 1:
				t, err := bytesOf(typ, v)
				tag = string(t)
				return err
			case 2:
				if err := want(typ, protowire.Fixed32Type); err != nil {
					return err
				}
				x, _ := protowire.ConsumeFixed32(v)
				f := math.Float32frombits(x)
				scalar = &f
				return nil
			case 5:
				h, err := bytesOf(typ, v)
				if err != nil {
					return err
				}
				histo = &Histogram{}
				return parseHisto(h, histo)
			}
			return errUnknown
		})
		if err != nil {
			return err
		}
		switch {
		case tag == "":
			return errors.New("value without a tag")
		case (scalar == nil) == (histo == nil):
			return fmt.Errorf("value %q: want exactly one of simple_value and histo", tag)
		case scalar != nil:
			e.Scalars[tag] = *scalar
		default:
			e.Histograms[tag] = *histo
		}
		return nil
	})
}

func parseHisto(b []byte, h *Histogram) error {
	return fields(b, func(num protowire.Number, typ protowire.Type, v []byte) error {
		var err error
		switch num {
		case 1:
			h.Min, err = double(typ, v)
		case 2:
			h.Max, err = double(typ, v)
		case 3:
			h.Num, err = double(typ, v)
		case 4:
			h.Sum, err = double(typ, v)
		case 5:
			h.SumSquares, err = double(typ, v)
		case 6, 7:
			p, err := bytesOf(typ, v)
			if err != nil {
				return err
			}
			if len(p)%8 != 0 {
				return fmt.Errorf("packed doubles of %d bytes", len(p))
			}
			vs := make([]float64, len(p)/8)
			for i := range vs {
				vs[i] = math.Float64frombits(binary.LittleEndian.Uint64(p[8*i:]))
			}
			if num == 6 {
				h.BucketLimit = vs
			} else {
				h.Bucket = vs
			}
		default:
			return errUnknown
		}
		return err
	})
}
