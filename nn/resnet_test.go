package nn

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/siam-ssl/siam/tensor"
)

// Parameter counts of torchvision's backbones without the fc layer (ImageNet stem,
// 3 input channels): resnet18 11,176,512; resnet34 21,284,672; resnet50 23,508,032;
// wide_resnet50_2 66,834,240.
func TestPresetParamCounts(t *testing.T) {
	cases := []struct {
		name string
		mult int
		want int
		dim  int
	}{
		{"resnet18", 1, 11176512, 512},
		{"resnet34", 1, 21284672, 512},
		{"resnet50", 1, 23508032, 2048},
		{"resnet50", 2, 66834240, 2048},
		{"bottleneck26", 1, 0, 2048},
		{"basic50", 1, 0, 512},
	}
	for _, c := range cases {
		cfg, err := Preset(c.name)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Stem, cfg.WidthMult = ImageNetStem, c.mult
		var col Collection
		r, err := NewResNet(&col, "", cfg, rand.New(rand.NewPCG(1, 1)))
		if err != nil {
			t.Fatal(err)
		}
		if c.want != 0 && col.NumParams() != c.want {
			t.Errorf("%s x%d: %d params, want %d", c.name, c.mult, col.NumParams(), c.want)
		}
		if r.Config.FeatureDim() != c.dim {
			t.Errorf("%s: feature dim %d, want %d", c.name, r.Config.FeatureDim(), c.dim)
		}
	}
}

func TestStateDictNamesFollowTorchvision(t *testing.T) {
	cfg, _ := Preset("resnet18")
	cfg.Width = 8
	var col Collection
	if _, err := NewResNet(&col, "backbone.", cfg, rand.New(rand.NewPCG(1, 1))); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"backbone.conv1.weight", "backbone.bn1.running_var", "backbone.layer1.0.conv2.weight",
		"backbone.layer2.0.downsample.0.weight", "backbone.layer4.1.bn2.bias",
	} {
		if _, ok := col.Lookup(want); !ok {
			t.Errorf("missing %s", want)
		}
	}
	if _, ok := col.Lookup("backbone.layer1.0.downsample.0.weight"); ok {
		t.Error("layer1.0 must have an identity shortcut")
	}
}

func TestLoadStateDictRejectsOtherArchitecture(t *testing.T) {
	small, _ := Preset("resnet18")
	small.Width = 4
	wide := small
	wide.Width = 8
	var a, b Collection
	NewResNet(&a, "", small, rand.New(rand.NewPCG(1, 1)))
	NewResNet(&b, "", wide, rand.New(rand.NewPCG(1, 1)))
	values := map[string]*tensor.Tensor{}
	for _, t := range b.StateDict() {
		values[t.Name] = t
	}
	err := a.LoadStateDict(values)
	if err == nil || !strings.Contains(err.Error(), "conv1.weight") {
		t.Fatalf("want a shape error naming conv1.weight, got %v", err)
	}
	before := a.Params[0].Data[0]
	if a.Params[0].Data[0] != before {
		t.Fatal("a failed load must change nothing")
	}
}

func TestBadConfigs(t *testing.T) {
	if _, err := Preset("resnet19"); err == nil {
		t.Error("unknown preset must fail")
	}
	bad := []ResNetConfig{{}, {Depths: []int{2}, Width: 0, InChannels: 3}, {Depths: []int{0}, Width: 4, InChannels: 3}}
	for _, c := range bad {
		var col Collection
		if _, err := NewResNet(&col, "", c, rand.New(rand.NewPCG(1, 1))); err == nil {
			t.Errorf("config %+v must fail", c)
		}
	}
}
