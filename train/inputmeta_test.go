package train

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/siam-ssl/siam/data"
	"github.com/siam-ssl/siam/safetensors"
)

func TestInputMeta(t *testing.T) {
	color := &data.Dataset{Name: "c", N: 4, C: 3, H: 20, W: 20, Classes: 2, Pixels: make([]uint8, 4*3*20*20), Labels: make([]int, 4)}
	for i := range color.Pixels {
		color.Pixels[i] = uint8(i * 7)
	}
	gray, _, err := data.Open("")
	if err != nil {
		t.Fatal(err)
	}
	gm, gs := gray.ChannelStats()
	cm, cs := color.ChannelStats()
	tests := []struct {
		name      string
		ds        *data.Dataset
		augment   string
		want      InputSpec
		featureDm string
	}{
		{"embedded, auto: its own statistics", gray, "auto", InputSpec{1, 28, 28, gm, gs}, "128"},
		{"colour, auto", color, "auto", InputSpec{3, 20, 20, cm, cs}, "128"},
		{"colour, color32 preset: resized to 32, CIFAR statistics", color, "color32", InputSpec{3, 32, 32, data.CIFAR10Mean, data.CIFAR10Std}, "128"},
		{"colour, gray28 preset: one statistic for every channel", color, "gray28", InputSpec{3, 28, 28,
			[]float32{data.FashionMNISTMean[0], data.FashionMNISTMean[0], data.FashionMNISTMean[0]},
			[]float32{data.FashionMNISTStd[0], data.FashionMNISTStd[0], data.FashionMNISTStd[0]}}, "128"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			c.Augment = tc.augment
			meta := InputMeta(c, tc.ds)
			got, err := ParseInputSpec(meta)
			if err != nil {
				t.Fatal(err)
			}
			if got.Channels != tc.want.Channels || got.Height != tc.want.Height || got.Width != tc.want.Width ||
				!slices.Equal(got.Mean, tc.want.Mean) || !slices.Equal(got.Std, tc.want.Std) {
				t.Errorf("spec %+v, want %+v", got, tc.want)
			}
			if meta[MetaFeatureDim] != tc.featureDm || meta[MetaStem] != "cifar" || meta[MetaArch] != "resnet18" || meta[MetaBackbonePrefix] != "backbone." {
				t.Errorf("meta %v", meta)
			}
		})
	}
	for _, bad := range []map[string]string{
		{},
		{MetaInputChannels: "3", MetaInputHeight: "32", MetaInputWidth: "32", MetaInputMean: "[0.5]", MetaInputStd: "[1,1,1]"},
		{MetaInputChannels: "1", MetaInputHeight: "x", MetaInputWidth: "32", MetaInputMean: "[0.5]", MetaInputStd: "[1]"},
		{MetaInputChannels: "1", MetaInputHeight: "8", MetaInputWidth: "8", MetaInputMean: "[0.5]", MetaInputStd: "[0]"},
	} {
		if _, err := ParseInputSpec(bad); err == nil {
			t.Errorf("%v: no error", bad)
		}
	}
}

// TestCheckpointHasInputMeta: every checkpoint a run writes says how to feed the
// model, with the statistics the run's own evaluation transform uses.
func TestCheckpointHasInputMeta(t *testing.T) {
	c := tinyConfig()
	c.Steps = 2
	dir := filepath.Join(t.TempDir(), "run")
	sum, err := Run(context.Background(), c, RunOptions{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	spec, err := ReadInputSpec(dir)
	if err != nil {
		t.Fatal(err)
	}
	r := AugmentRecipe(c, sum.Train)
	if spec.Channels != 1 || spec.Height != 28 || spec.Width != 28 || !slices.Equal(spec.Mean, r.Mean) || !slices.Equal(spec.Std, r.Std) {
		t.Errorf("spec %+v, recipe mean %v std %v", spec, r.Mean, r.Std)
	}
	f, err := safetensors.ReadFile(filepath.Join(dir, CheckpointFile))
	if err != nil {
		t.Fatal(err)
	}
	if f.Metadata["format"] != checkpointKind || !strings.Contains(f.Metadata[MetaInputTransform], "pixel/255") {
		t.Errorf("metadata %v", f.Metadata)
	}
	if _, ck, err := ReadCheckpointMeta(dir); err != nil || ck.Step != 2 {
		t.Errorf("checkpoint still reads: %v %+v", err, ck)
	}
}
