package nn

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/siam-ssl/siam/tensor"
)

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
