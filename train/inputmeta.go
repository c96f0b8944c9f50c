package train

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/siam-ssl/siam/data"
	"github.com/siam-ssl/siam/nn"
	"github.com/siam-ssl/siam/safetensors"
)

// Checkpoint metadata keys that say how to feed the model, so its weights can be
// used elsewhere (PyTorch: see the README) without guessing. Values are strings,
// as safetensors metadata requires; lists are JSON arrays.
const (
	MetaInputChannels = "input_channels" // image channels, e.g. "3"
	MetaInputHeight   = "input_height"   // pixels the model was trained on
	MetaInputWidth    = "input_width"
	MetaInputMean     = "input_mean" // JSON array, one mean per channel, on the [0,1] scale
	MetaInputStd      = "input_std"  // JSON array, one std per channel
	// MetaInputTransform spells out the evaluation transform in words.
	MetaInputTransform = "input_transform"
	MetaArch           = "arch"            // ResNet preset, e.g. "resnet18"
	MetaStem           = "stem"            // "cifar" (3x3 conv1, no max-pool) or "imagenet" (7x7/2 + max-pool)
	MetaFeatureDim     = "feature_dim"     // size of the pooled representation
	MetaBackbonePrefix = "backbone_prefix" // prefix of the backbone's torchvision-named tensors
)

// InputTransform is the MetaInputTransform text.
const InputTransform = "x = (pixel/255 - mean[c]) / std[c] per channel c, NCHW float32; " +
	"evaluation resizes the whole image to input_height x input_width (bilinear; no crop when the size already matches)"

// InputSpec is how a model expects its images.
type InputSpec struct {
	Channels, Height, Width int
	Mean, Std               []float32 // one per channel
}

// InputMeta returns the checkpoint metadata entries that describe the model's
// input for a run of cfg on trainSet: channels, size and the per-channel
// normalisation of the run's evaluation transform (AugmentRecipe), plus the
// architecture, stem, feature size and the backbone's tensor-name prefix.
func InputMeta(cfg Config, trainSet *data.Dataset) map[string]string {
	meta := RecipeInputSpec(AugmentRecipe(cfg, trainSet), trainSet.C, trainSet.H, trainSet.W).Meta()
	meta[MetaInputTransform] = InputTransform
	meta[MetaArch], meta[MetaStem], meta[MetaBackbonePrefix] = strings.ToLower(cfg.Arch), strings.ToLower(cfg.Stem), "backbone."
	if arch, err := nn.Preset(cfg.Arch); err == nil {
		arch.Width, arch.WidthMult = cfg.Width, cfg.WidthMult
		meta[MetaFeatureDim] = strconv.Itoa(arch.FeatureDim())
	}
	return meta
}

// RecipeInputSpec is the input a model sees through r's evaluation transform
// from c x h x w images: r's output size and its mean and std, one per channel.
func RecipeInputSpec(r data.Recipe, c, h, w int) InputSpec {
	c, h, w = r.OutShape(c, h, w)
	return InputSpec{Channels: c, Height: h, Width: w, Mean: perChannel(r.Mean, c, 0), Std: perChannel(r.Std, c, 1)}
}

// Meta returns the spec's metadata entries.
func (s InputSpec) Meta() map[string]string {
	return map[string]string{
		MetaInputChannels: strconv.Itoa(s.Channels),
		MetaInputHeight:   strconv.Itoa(s.Height),
		MetaInputWidth:    strconv.Itoa(s.Width),
		MetaInputMean:     floatList(s.Mean),
		MetaInputStd:      floatList(s.Std),
	}
}

// perChannel expands a recipe's mean or std (nil: def; one value: every channel).
func perChannel(v []float32, c int, def float32) []float32 {
	out := make([]float32, c)
	for i := range out {
		switch {
		case len(v) == 0:
			out[i] = def
		case len(v) == 1:
			out[i] = v[0]
		default:
			out[i] = v[i]
		}
	}
	return out
}

// floatList writes float32s as a JSON array, each in its shortest exact form.
func floatList(v []float32) string {
	parts := make([]string, len(v))
	for i, x := range v {
		parts[i] = strconv.FormatFloat(float64(x), 'g', -1, 32)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// ParseInputSpec reads the input entries of checkpoint metadata. A checkpoint
// written before they existed has none: the error says so.
func ParseInputSpec(meta map[string]string) (InputSpec, error) {
	var s InputSpec
	if _, ok := meta[MetaInputChannels]; !ok {
		return s, fmt.Errorf("checkpoint metadata has no %s (written by an older siam)", MetaInputChannels)
	}
	for _, f := range []struct {
		key string
		dst *int
	}{{MetaInputChannels, &s.Channels}, {MetaInputHeight, &s.Height}, {MetaInputWidth, &s.Width}} {
		v, err := strconv.Atoi(meta[f.key])
		if err != nil || v < 1 {
			return s, fmt.Errorf("checkpoint metadata %s = %q: want a positive integer", f.key, meta[f.key])
		}
		*f.dst = v
	}
	for _, f := range []struct {
		key string
		dst *[]float32
	}{{MetaInputMean, &s.Mean}, {MetaInputStd, &s.Std}} {
		if err := json.Unmarshal([]byte(meta[f.key]), f.dst); err != nil || len(*f.dst) != s.Channels {
			return s, fmt.Errorf("checkpoint metadata %s = %q: want a JSON array of %d numbers", f.key, meta[f.key], s.Channels)
		}
	}
	for i, v := range s.Std {
		if !(v > 0) {
			return s, fmt.Errorf("checkpoint metadata %s: channel %d std %v is not positive", MetaInputStd, i, v)
		}
	}
	return s, nil
}

// ReadInputSpec reads the input spec of RUN_DIR's checkpoint (its metadata only).
func ReadInputSpec(dir string) (InputSpec, error) {
	path := filepath.Join(dir, CheckpointFile)
	f, err := safetensors.ReadFile(path)
	if err != nil {
		return InputSpec{}, err
	}
	s, err := ParseInputSpec(f.Metadata)
	if err != nil {
		return s, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}
