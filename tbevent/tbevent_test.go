package tbevent_test

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/siam-ssl/siam/tbevent"
	"github.com/siam-ssl/siam/tbevent/tbeventtest"
)

func TestMaskedCRC(t *testing.T) {
	// CRC-32C check value of "123456789" is 0xe3069283 (RFC 3720 B.4);
	// masked: rotate right by 15, add 0xa282ead8.
	c := uint32(0xe3069283)
	want := (c>>15 | c<<17) + 0xa282ead8
	if got := tbevent.MaskedCRC([]byte("123456789")); got != want {
		t.Fatalf("masked CRC %#x, want %#x", got, want)
	}
	rec := tbevent.AppendRecord(nil, []byte("abc"))
	if len(rec) != 8+4+3+4 || binary.LittleEndian.Uint64(rec) != 3 || string(rec[12:15]) != "abc" {
		t.Fatalf("record framing % x", rec)
	}
}

func TestWriterRoundTrip(t *testing.T) {
	dir := t.TempDir()
	t0 := time.Unix(1_700_000_000, 250_000_000)
	w, err := tbevent.Create(dir, t0)
	if err != nil {
		t.Fatal(err)
	}
	if ok, _ := regexp.MatchString(`^events\.out\.tfevents\.1700000000\.[^/]+$`, filepath.Base(w.Path())); !ok {
		t.Errorf("file name %s", filepath.Base(w.Path()))
	}
	scal := map[string]float64{"train/loss": -0.8125, "train/lr": 0.05, "monitor/auc": math.NaN(), "train/images_per_s": math.Inf(1)}
	hist := tbevent.NewHistogram([]float64{-2, -1, -1, 0, 3, math.NaN()}, 5)
	spec := tbevent.IndexHistogram([]float64{0.5, 0.3, 0.2})
	steps := []error{
		w.Scalars(10, t0.Add(time.Second), scal),
		w.Histogram(10, t0.Add(time.Second), "collapse/log10_sigma", hist),
		w.Histogram(10, t0.Add(time.Second), "collapse/spectrum", spec),
		w.Start(11, t0.Add(2*time.Second), "resumed"),
		w.Scalars(0, t0, map[string]float64{"zero": 0}),
		w.Close(),
	}
	for _, err := range steps {
		if err != nil {
			t.Fatal(err)
		}
	}
	ev, err := tbeventtest.ReadFile(w.Path())
	if err != nil {
		t.Fatal(err)
	}
	if len(ev) != 6 {
		t.Fatalf("%d events, want 6", len(ev))
	}
	if ev[0].WallTime != 1_700_000_000.25 || ev[0].Step != 0 {
		t.Errorf("file_version event %+v", ev[0])
	}
	e := ev[1]
	if e.Step != 10 || e.WallTime != 1_700_000_001.25 || len(e.Scalars) != len(scal) {
		t.Fatalf("scalar event %+v", e)
	}
	for k, v := range scal {
		got := e.Scalars[k]
		if math.Float32bits(got) != math.Float32bits(float32(v)) {
			t.Errorf("%s = %v, want %v", k, got, float32(v))
		}
	}
	h := ev[2].Histograms["collapse/log10_sigma"]
	if h.Min != -2 || h.Max != 3 || h.Num != 5 || h.Sum != -1 || h.SumSquares != 15 ||
		!slices.Equal(h.BucketLimit, []float64{-1, 0, 1, 2, 3}) || !slices.Equal(h.Bucket, []float64{3, 1, 0, 0, 1}) {
		t.Errorf("histogram %+v", h)
	}
	s := ev[3].Histograms["collapse/spectrum"]
	if !slices.Equal(s.Bucket, []float64{0.5, 0.3, 0.2}) || !slices.Equal(s.BucketLimit, []float64{1, 2, 3}) ||
		s.Num != 1 || math.Abs(s.Sum-1.7) > 1e-15 {
		t.Errorf("spectrum %+v", s)
	}
	if ev[4].SessionStatus != 1 || ev[4].Step != 11 || ev[4].SessionMsg != "resumed" {
		t.Errorf("session event %+v", ev[4])
	}
	if v, ok := ev[5].Scalars["zero"]; !ok || v != 0 {
		t.Errorf("a zero scalar must still be written: %+v", ev[5])
	}
	// A second file in the same second gets another name.
	w2, err := tbevent.Create(dir, t0)
	if err != nil {
		t.Fatal(err)
	}
	defer w2.Close()
	if w2.Path() == w.Path() {
		t.Fatal("second file overwrote the first")
	}
}

// TestReaderRejectsDamage makes sure the test reader notices a flipped byte and a
// torn record (so the other tests' passes mean something).
func TestReaderRejectsDamage(t *testing.T) {
	dir := t.TempDir()
	w, err := tbevent.Create(dir, time.Unix(1, 0))
	if err != nil {
		t.Fatal(err)
	}
	w.Scalars(1, time.Unix(2, 0), map[string]float64{"a": 1})
	w.Close()
	b, _ := os.ReadFile(w.Path())
	for i, damaged := range [][]byte{
		slices.Clone(b[:len(b)-3]), // torn
		func() []byte { c := slices.Clone(b); c[len(c)-6] ^= 1; return c }(), // data byte
		func() []byte { c := slices.Clone(b); c[3] ^= 1; return c }(),        // length
	} {
		p := filepath.Join(dir, fmt.Sprint("bad", i))
		os.WriteFile(p, damaged, 0o644)
		if _, err := tbeventtest.ReadFile(p); err == nil {
			t.Errorf("damage %d not detected", i)
		}
	}
}

func TestNewHistogramEdgeCases(t *testing.T) {
	if h := tbevent.NewHistogram(nil, 10); h.Num != 0 || len(h.Bucket) != 0 {
		t.Errorf("empty: %+v", h)
	}
	h := tbevent.NewHistogram([]float64{2, 2, 2}, 10)
	if h.Num != 3 || !slices.Equal(h.Bucket, []float64{3}) || !slices.Equal(h.BucketLimit, []float64{2}) {
		t.Errorf("constant: %+v", h)
	}
	vals := make([]float64, 1000)
	for i := range vals {
		vals[i] = math.Sin(float64(i))
	}
	h = tbevent.NewHistogram(vals, 0)
	var n float64
	for _, c := range h.Bucket {
		n += c
	}
	if len(h.Bucket) != 30 || n != 1000 || h.BucketLimit[29] != h.Max {
		t.Errorf("sin: %d buckets, %v counted", len(h.Bucket), n)
	}
}

// Example writes a scalar and the spectrum of a run's step 100 to a new event
// file, as `siam train` does under RUN_DIR/tb.
func Example() {
	dir, _ := os.MkdirTemp("", "tb")
	defer os.RemoveAll(dir)
	w, err := tbevent.Create(dir, time.Now())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer w.Close()
	sigma := []float64{4, 2, 1, 0.5}
	w.Scalars(100, time.Now(), map[string]float64{"train/loss": -0.91, "monitor/auc": 0.62})
	w.Histogram(100, time.Now(), "collapse/spectrum", tbevent.IndexHistogram(sigma))
	ev, _ := tbeventtest.ReadFile(w.Path())
	fmt.Println(len(ev), "events;", ev[0].FileVersion, ev[1].Scalars["monitor/auc"], ev[2].Histograms["collapse/spectrum"].Bucket)
	// Output: 3 events; brain.Event:2 0.62 [4 2 1 0.5]
}
