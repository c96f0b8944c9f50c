package tbevent

import (
	"math"
	"slices"

	"google.golang.org/protobuf/encoding/protowire" // the protobuf wire format, from the official Go protobuf module
)

// FileVersion is the file_version of an event file's first record.
const FileVersion = "brain.Event:2"

// SessionStatus is SessionLog.status.
type SessionStatus int

// SessionLog statuses (event.proto).
const (
	SessionUnset      SessionStatus = 0
	SessionStart      SessionStatus = 1
	SessionStop       SessionStatus = 2
	SessionCheckpoint SessionStatus = 3
)

// Event is one record of an event file: exactly one of FileVersion, Values or
// Session is set.
type Event struct {
	WallTime    float64 // seconds since the Unix epoch
	Step        int64
	FileVersion string
	Values      []Value       // a Summary
	Session     SessionStatus // a SessionLog (with SessionMsg)
	SessionMsg  string
}

// Value is one Summary.Value: a scalar (Histo nil) or a histogram.
type Value struct {
	Tag    string
	Scalar float32 // simple_value; TensorBoard stores scalars as float32
	Histo  *Histogram
}

// Histogram is a HistogramProto: bucket i counts values in
// (BucketLimit[i-1], BucketLimit[i]].
type Histogram struct {
	Min, Max, Num, Sum, SumSquares float64
	BucketLimit, Bucket            []float64
}

// Event, SessionLog, Summary, Summary.Value and HistogramProto field numbers
// (see the package doc).
const (
	fEventWallTime    = 1
	fEventStep        = 2
	fEventFileVersion = 3
	fEventSummary     = 5
	fEventSessionLog  = 7

	fSessionStatus = 1
	fSessionMsg    = 3

	fSummaryValue = 1

	fValueTag    = 1
	fValueSimple = 2
	fValueHisto  = 5

	fHistoMin         = 1
	fHistoMax         = 2
	fHistoNum         = 3
	fHistoSum         = 4
	fHistoSumSquares  = 5
	fHistoBucketLimit = 6
	fHistoBucket      = 7
)

// Marshal encodes e as an Event protobuf.
func (e *Event) Marshal() []byte {
	var b []byte
	if e.WallTime != 0 {
		b = protowire.AppendTag(b, fEventWallTime, protowire.Fixed64Type)
		b = protowire.AppendFixed64(b, math.Float64bits(e.WallTime))
	}
	if e.Step != 0 {
		b = protowire.AppendTag(b, fEventStep, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(e.Step))
	}
	switch {
	case e.FileVersion != "":
		b = protowire.AppendTag(b, fEventFileVersion, protowire.BytesType)
		b = protowire.AppendString(b, e.FileVersion)
	case e.Session != SessionUnset:
		var s []byte
		s = protowire.AppendTag(s, fSessionStatus, protowire.VarintType)
		s = protowire.AppendVarint(s, uint64(e.Session))
		if e.SessionMsg != "" {
			s = protowire.AppendTag(s, fSessionMsg, protowire.BytesType)
			s = protowire.AppendString(s, e.SessionMsg)
		}
		b = protowire.AppendTag(b, fEventSessionLog, protowire.BytesType)
		b = protowire.AppendBytes(b, s)
	default: // a Summary, possibly empty
		var s []byte
		for i := range e.Values {
			s = protowire.AppendTag(s, fSummaryValue, protowire.BytesType)
			s = protowire.AppendBytes(s, e.Values[i].marshal())
		}
		b = protowire.AppendTag(b, fEventSummary, protowire.BytesType)
		b = protowire.AppendBytes(b, s)
	}
	return b
}

func (v *Value) marshal() []byte {
	var b []byte
	b = protowire.AppendTag(b, fValueTag, protowire.BytesType)
	b = protowire.AppendString(b, v.Tag)
	if v.Histo != nil {
		b = protowire.AppendTag(b, fValueHisto, protowire.BytesType)
		return protowire.AppendBytes(b, v.Histo.marshal())
	}
	// Always written (even 0): the oneof must say this is a scalar.
	b = protowire.AppendTag(b, fValueSimple, protowire.Fixed32Type)
	return protowire.AppendFixed32(b, math.Float32bits(v.Scalar))
}

func (h *Histogram) marshal() []byte {
	var b []byte
	for _, f := range []struct {
		n protowire.Number
		v float64
	}{{fHistoMin, h.Min}, {fHistoMax, h.Max}, {fHistoNum, h.Num}, {fHistoSum, h.Sum}, {fHistoSumSquares, h.SumSquares}} {
		if f.v != 0 || math.Signbit(f.v) {
			b = protowire.AppendTag(b, f.n, protowire.Fixed64Type)
			b = protowire.AppendFixed64(b, math.Float64bits(f.v))
		}
	}
	for _, f := range []struct {
		n  protowire.Number
		vs []float64
	}{{fHistoBucketLimit, h.BucketLimit}, {fHistoBucket, h.Bucket}} {
		if len(f.vs) == 0 {
			continue
		}
		p := make([]byte, 0, 8*len(f.vs))
		for _, v := range f.vs {
			p = protowire.AppendFixed64(p, math.Float64bits(v))
		}
		b = protowire.AppendTag(b, f.n, protowire.BytesType)
		b = protowire.AppendBytes(b, p)
	}
	return b
}

// NewHistogram returns the histogram of values (NaN and ±Inf left out) in n
// equal-width buckets between their minimum and maximum (n < 1 means 30), with
// the exact min, max, count, sum and sum of squares. An empty input gives an
// empty histogram.
func NewHistogram(values []float64, n int) *Histogram {
	if n < 1 {
		n = 30
	}
	h := &Histogram{Min: math.Inf(1), Max: math.Inf(-1)}
	var fin []float64
	for _, v := range values {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			continue
		}
		fin = append(fin, v)
		h.Min, h.Max = min(h.Min, v), max(h.Max, v)
		h.Num++
		h.Sum += v
		h.SumSquares += v * v
	}
	if len(fin) == 0 {
		return &Histogram{}
	}
	if h.Max == h.Min {
		n = 1
	}
	h.BucketLimit, h.Bucket = make([]float64, n), make([]float64, n)
	w := (h.Max - h.Min) / float64(n)
	for i := range h.BucketLimit {
		h.BucketLimit[i] = h.Min + w*float64(i+1)
	}
	h.BucketLimit[n-1] = h.Max
	for _, v := range fin {
		i, _ := slices.BinarySearch(h.BucketLimit, v) // first limit >= v
		h.Bucket[min(i, n-1)]++
	}
	return h
}

// IndexHistogram returns a histogram whose bucket i (covering (i, i+1]) holds
// weights[i]: it draws an indexed curve, such as a singular-value spectrum
// sigma_1..sigma_d, in TensorBoard's histogram view (x = index, height = weight),
// one curve per step. Min, max, num, sum and sum of squares describe the index
// distribution the weights define. Weights must be finite and >= 0.
func IndexHistogram(weights []float64) *Histogram {
	h := &Histogram{BucketLimit: make([]float64, len(weights)), Bucket: slices.Clone(weights)}
	for i, w := range weights {
		x := float64(i + 1)
		h.BucketLimit[i] = x
		h.Num += w
		h.Sum += w * x
		h.SumSquares += w * x * x
	}
	if len(weights) > 0 {
		h.Min, h.Max = 0, float64(len(weights))
	}
	return h
}
