package train

import (
	"strings"
	"testing"
)

func TestBenchEmbed(t *testing.T) {
	r, err := BenchEmbed(EmbedConfig{Width: 2, Size: 8, Channels: 3, Batch: 4, Batches: 3, Warmup: 1})
	if err != nil {
		t.Fatal(err)
	}
	if r.Bench != "embed" || r.FeatureDim != 16 || r.Batch != 4 || r.Threads < 1 {
		t.Fatalf("unexpected result %+v", r)
	}
	if !(r.ImagesPerS > 0 && r.BatchSMin <= r.BatchSMedian && r.BatchSMedian <= r.BatchSMax && r.FLOPsPerImage > 0) {
		t.Fatalf("inconsistent timings %+v", r)
	}
	if !(r.FeatureMeanAbs > 0) {
		t.Fatalf("features are all zero: %+v", r)
	}
	for _, bad := range []EmbedConfig{
		{Width: 0, Size: 8, Channels: 3, Batch: 4, Batches: 1},
		{Width: 2, Size: 2, Channels: 3, Batch: 4, Batches: 1},
		{Width: 2, Size: 8, Channels: 3, Batch: 0, Batches: 1},
		{Width: 2, Size: 8, Channels: 3, Batch: 4, Batches: 0},
		{Width: 2, Size: 8, Channels: 3, Batch: 4, Batches: 1, Warmup: -1},
	} {
		if _, err := BenchEmbed(bad); err == nil || !strings.Contains(err.Error(), "bench embed") {
			t.Fatalf("%+v: want a bench embed error, got %v", bad, err)
		}
	}
}
