package nn

import (
	"encoding/json"
	"math/rand/v2"
	"os"
	"slices"
	"testing"
)

// paramCounts is testdata/torch/param_counts.json, written by
// scripts/gen_fixtures.py from torchvision-equivalent PyTorch models (checked
// there against torchvision's and timm's published counts).
type paramCounts struct {
	ResNet map[string]struct {
		Preset     string `json:"preset"`
		WidthMult  int    `json:"width_mult"`
		Block      string `json:"block"`
		Layers     []int  `json:"layers"`
		Backbone   int    `json:"backbone"`
		WithFC1000 int    `json:"with_fc1000"`
	} `json:"resnet"`
	ViT map[string]struct {
		Arch       string `json:"arch"`
		Size       int    `json:"size"`
		Channels   int    `json:"channels"`
		Patch      int    `json:"patch"`
		Backbone   int    `json:"backbone"`
		WithFC1000 int    `json:"with_fc1000"`
		NotTrained int    `json:"not_trained"`
	} `json:"vit"`
}

func loadParamCounts(t *testing.T) paramCounts {
	t.Helper()
	raw, err := os.ReadFile("../testdata/torch/param_counts.json")
	if err != nil {
		t.Fatalf("%v (regenerate with /usr/bin/python3 scripts/gen_fixtures.py)", err)
	}
	var pc paramCounts
	if err := json.Unmarshal(raw, &pc); err != nil {
		t.Fatal(err)
	}
	return pc
}

func numel(c *Collection, frozen bool) int {
	n := c.NumParams()
	if frozen {
		for _, f := range c.Frozen {
			n += f.Numel()
		}
	}
	return n
}

// TestPresetParamCounts compares every ResNet preset's parameter count, as
// torchvision builds it (ImageNet stem, 3 channels), plus a 1000-class fc with
// PyTorch's. Every preset must be in the file, and bottleneck26 at 2x too. The
// full-size count is ResNetConfig.NumParams (building the 69M-parameter models
// would take most of this package's test time); TestNumParamsMatchesBuild checks
// that it counts exactly what NewResNet builds.
func TestPresetParamCounts(t *testing.T) {
	pc := loadParamCounts(t)
	covered := map[string]bool{}
	for key, want := range pc.ResNet {
		t.Run(key, func(t *testing.T) {
			cfg, err := Preset(want.Preset)
			if err != nil {
				t.Fatal(err)
			}
			block := map[BlockKind]string{Basic: "basic", Bottleneck: "bottleneck"}[cfg.Block]
			if block != want.Block || !slices.Equal(cfg.Depths, want.Layers) {
				t.Fatalf("preset is %s %v, PyTorch built %s %v", block, cfg.Depths, want.Block, want.Layers)
			}
			cfg.Stem, cfg.WidthMult = ImageNetStem, want.WidthMult
			got := cfg.NumParams()
			fc := cfg.FeatureDim()*1000 + 1000
			if got != want.Backbone || got+fc != want.WithFC1000 {
				t.Errorf("%d parameters (+ fc %d = %d), PyTorch %d (with fc %d)", got, fc, got+fc, want.Backbone, want.WithFC1000)
			}
			covered[want.Preset] = true
			if want.Preset == "bottleneck26" && want.WidthMult == 2 {
				covered["bottleneck26 2x"] = true
			}
		})
	}
	for _, name := range append(PresetNames(), "bottleneck26 2x") {
		if !covered[name] {
			t.Errorf("%s has no count in param_counts.json", name)
		}
	}
}

// TestNumParamsMatchesBuild checks ResNetConfig.NumParams against the networks
// NewResNet builds, for every preset at multipliers 1 and 2, both stems (with 1
// and 3 channels) and three base widths. The count is a quadratic polynomial in the
// base width, so agreeing at three widths means agreeing at every width (64
// included).
func TestNumParamsMatchesBuild(t *testing.T) {
	for _, name := range PresetNames() {
		for _, mult := range []int{1, 2} {
			for _, w := range []int{2, 4, 8} {
				for _, sc := range []struct {
					stem Stem
					ch   int
				}{{CIFARStem, 1}, {ImageNetStem, 3}} {
					cfg, _ := Preset(name)
					cfg.Width, cfg.WidthMult, cfg.Stem, cfg.InChannels = w, mult, sc.stem, sc.ch
					var col Collection
					if _, err := NewResNet(&col, "", cfg, rand.New(rand.NewPCG(1, 1))); err != nil {
						t.Fatal(err)
					}
					if got, want := cfg.NumParams(), col.NumParams(); got != want {
						t.Fatalf("%s w%d x%d %+v: NumParams %d, built %d", name, w, mult, sc, got, want)
					}
				}
			}
		}
	}
}

// TestViTParamCounts builds the ViT presets and compares them with PyTorch's
// counts (timm's parameters(): the frozen position embedding included); only
// the position embedding is untrained by default. ViTConfig.NumParams must
// agree, with and without the frozen patch projection.
func TestViTParamCounts(t *testing.T) {
	pc := loadParamCounts(t)
	covered := map[string]bool{}
	for key, want := range pc.ViT {
		t.Run(key, func(t *testing.T) {
			for _, frozenPatch := range []bool{false, true} {
				if frozenPatch && want.Size > 32 {
					continue // the small inputs cover the frozen variant at a tenth of the cost
				}
				var col Collection
				b, err := NewBackbone(&col, "", BackboneSpec{Arch: want.Arch, ImageSize: want.Size,
					InChannels: want.Channels, FrozenPatch: frozenPatch}, rand.New(rand.NewPCG(1, 1)))
				if err != nil {
					t.Fatal(err)
				}
				cfg := b.(*ViT).Config
				if cfg.PatchSize != want.Patch {
					t.Errorf("patch %d, PyTorch %d", cfg.PatchSize, want.Patch)
				}
				got, frozen := numel(&col, true), numel(&col, true)-col.NumParams()
				fc := b.FeatureDim()*1000 + 1000
				patch := cfg.Dim*cfg.InChannels*cfg.PatchSize*cfg.PatchSize + cfg.Dim
				wantFrozen := want.NotTrained
				if frozenPatch {
					wantFrozen += patch
				}
				if got != want.Backbone || got+fc != want.WithFC1000 || frozen != wantFrozen {
					t.Errorf("frozen patch %v: %d values (%d frozen), + fc %d = %d; PyTorch %d (%d frozen), with fc %d",
						frozenPatch, got, frozen, fc, got+fc, want.Backbone, wantFrozen, want.WithFC1000)
				}
				if tr, fr := cfg.NumParams(); tr != col.NumParams() || fr != frozen {
					t.Errorf("frozen patch %v: NumParams (%d, %d), built (%d, %d)", frozenPatch, tr, fr, col.NumParams(), frozen)
				}
			}
			covered[want.Arch] = true
		})
	}
	for _, a := range []string{"vit-s", "vit-tiny"} {
		if !covered[a] {
			t.Errorf("%s has no count in param_counts.json", a)
		}
	}
}
