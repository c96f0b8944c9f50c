package pretrained

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/siam-ssl/siam/nn"
)

// Options say which backbone to build around a weights file. Zero values are
// read off the weights: the architecture from the blocks present, the stem
// from the first convolution's kernel (7x7: ImageNet stem; 3x3: CIFAR stem,
// stride 1 and no max-pool), the widths and input channels from its shapes.
type Options struct {
	// Arch is a name of nn.ArchNames() (resnet18, resnet50, ...); "" infers it.
	Arch string
	// Stem is "imagenet" or "cifar"; "" infers it.
	Stem string
	// Width is the ResNet base width (64 for the standard networks); 0 infers it.
	Width int
	// WidthMult is the inner-width multiplier (2 for wide_resnet50_2); 0 infers it.
	WidthMult int
	// Prefix is the sub-tree holding the backbone, e.g. "module.encoder." (also
	// found below a wrapper such as "state_dict."); used when PrefixSet.
	// Otherwise the backbone is found automatically (see keys.go).
	Prefix    string
	PrefixSet bool
}

// Model is a backbone with weights from a file: an eval.Representer, so that
// collapse, k-NN and linear-probe code measure it as they measure siam's own
// models. Its parameters are frozen by convention: nothing here trains them.
type Model struct {
	// Path is the weights file.
	Path string
	// Root is the prefix of the backbone's tensors in the file ("" at the top).
	Root string
	// Spec is the backbone built (architecture, widths, stem, input channels).
	Spec nn.BackboneSpec
	// Backbone is the network; Params holds its tensors (torchvision names).
	Backbone nn.Backbone
	Params   *nn.Collection
	// Ignored counts the file's tensors below Root that belong to heads (fc,
	// projector, predictor, ...) and were not loaded.
	Ignored int
	// Meta is the file's metadata (see Weights.Meta).
	Meta map[string]string
	// Mean and Std normalise each input channel inside Represent: (x-mean)/std
	// on images in [0,1]; nil means none. See SetInput.
	Mean, Std []float32

	training bool
}

// Load reads a weights file (safetensors or torch.save) and builds the
// backbone it holds. Missing or unexpected tensors and shape mismatches are
// reported together in one error (first few of each, with counts). The model
// starts in evaluation mode (BatchNorm on running statistics).
func Load(path string, o Options) (*Model, error) {
	w, err := ReadWeights(path)
	if err != nil {
		return nil, err
	}
	return FromWeights(w, o)
}

// spec is what inference reads off a root's tensors.
type inferred struct {
	block      nn.BlockKind
	depths     []int
	width      int
	mult       int
	inChannels int
	stem       nn.Stem
	arch       string // "" when no preset has this block and depths
}

// infer reads the ResNet configuration off the tensors below root.
func infer(w *Weights, root string) (inferred, error) {
	var in inferred
	stem, ok := w.Tensors[root+stemKey]
	if !ok || len(stem.Shape) != 4 {
		return in, fmt.Errorf("no 4-D %s%s", root, stemKey)
	}
	in.width, in.inChannels = stem.Shape[0], stem.Shape[1]
	switch k := stem.Shape[2]; k {
	case 7:
		in.stem = nn.ImageNetStem
	case 3:
		in.stem = nn.CIFARStem
	default:
		return in, fmt.Errorf("first convolution is %dx%d: neither the ImageNet (7x7) nor the CIFAR (3x3) stem", k, stem.Shape[3])
	}
	if _, ok := w.Tensors[root+"layer1.0.conv3.weight"]; ok {
		in.block = nn.Bottleneck
	}
	for s := 1; ; s++ {
		n := 0
		for ; ; n++ {
			if _, ok := w.Tensors[fmt.Sprintf("%slayer%d.%d.conv1.weight", root, s, n)]; !ok {
				break
			}
		}
		if n == 0 {
			break
		}
		in.depths = append(in.depths, n)
	}
	in.mult = 1
	if c, ok := w.Tensors[root+firstBlockKey]; ok && len(c.Shape) == 4 && in.width > 0 && c.Shape[0]%in.width == 0 && c.Shape[0] > 0 {
		in.mult = c.Shape[0] / in.width
	}
	for _, name := range nn.ArchNames() {
		cfg, err := nn.Preset(name)
		if err == nil && cfg.Block == in.block && slices.Equal(cfg.Depths, in.depths) {
			in.arch = name
			break
		}
	}
	return in, nil
}

// String describes an inferred configuration, e.g. "resnet50 (Bottleneck
// [3 4 6 3], width 64, imagenet stem, 3 channels)".
func (in inferred) String() string {
	kind := "Basic"
	if in.block == nn.Bottleneck {
		kind = "Bottleneck"
	}
	name := in.arch
	if name == "" {
		name = "a ResNet"
	}
	mult := ""
	if in.mult > 1 {
		mult = fmt.Sprintf(" x%d", in.mult)
	}
	return fmt.Sprintf("%s (%s %v, width %d%s, %s stem, %d channels)", name, kind, in.depths, in.width, mult, stemName(in.stem), in.inChannels)
}

func stemName(s nn.Stem) string {
	if s == nn.ImageNetStem {
		return "imagenet"
	}
	return "cifar"
}

// ParseStem converts "imagenet" or "cifar" (any case) to an nn.Stem.
func ParseStem(s string) (nn.Stem, error) {
	switch strings.ToLower(s) {
	case "imagenet":
		return nn.ImageNetStem, nil
	case "cifar":
		return nn.CIFARStem, nil
	}
	return 0, fmt.Errorf("stem %q: want imagenet or cifar", s)
}

// describe names a spec for messages.
func describe(s nn.BackboneSpec) string {
	mult := ""
	if s.WidthMult > 1 {
		mult = fmt.Sprintf(" x%d", s.WidthMult)
	}
	return fmt.Sprintf("%s (width %d%s, %s stem, %d channels)", s.Arch, s.Width, mult, stemName(s.Stem), s.InChannels)
}

// Describe names the model for messages and records, e.g.
// `resnet50 (width 64, imagenet stem, 3 channels) from "state_dict.module.encoder."`.
func (m *Model) Describe() string {
	return fmt.Sprintf("%s from %q", describe(m.Spec), m.Root)
}

// FromWeights builds the backbone that o and the tensors of w describe and
// loads its weights (see Load).
func FromWeights(w *Weights, o Options) (*Model, error) {
	root, err := findRoot(w, o.Prefix, o.PrefixSet)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", w.Path, err)
	}
	in, inferErr := infer(w, root)
	spec := nn.BackboneSpec{Arch: o.Arch, Width: o.Width, WidthMult: o.WidthMult}
	if inferErr == nil {
		if spec.Arch == "" {
			spec.Arch = in.arch
		}
		if spec.Width == 0 {
			spec.Width = in.width
		}
		if spec.WidthMult == 0 {
			spec.WidthMult = in.mult
		}
		spec.InChannels, spec.Stem = in.inChannels, in.stem
	}
	if o.Stem != "" {
		if spec.Stem, err = ParseStem(o.Stem); err != nil {
			return nil, err
		}
	}
	switch {
	case spec.Arch == "" && inferErr != nil:
		return nil, fmt.Errorf("%s: cannot tell the architecture under %q (%v): give --arch, --width and --stem", w.Path, root, inferErr)
	case spec.Arch == "":
		return nil, fmt.Errorf("%s: the weights under %q hold %s, which matches no architecture siam builds (%s)",
			w.Path, root, in, strings.Join(nn.ArchNames(), ", "))
	}
	if spec.Width == 0 || spec.InChannels == 0 {
		return nil, fmt.Errorf("%s: cannot tell the width and input channels under %q (%v): give --width", w.Path, root, inferErr)
	}
	c := &nn.Collection{}
	bb, err := nn.NewBackbone(c, "", spec, rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", w.Path, err)
	}
	m := &Model{Path: w.Path, Root: root, Spec: spec, Backbone: bb, Params: c, Meta: w.Meta}
	if err := m.load(w, in, inferErr == nil); err != nil {
		return nil, err
	}
	m.SetTraining(false)
	return m, nil
}

// maxListed is how many names of each kind a mismatch error shows.
const maxListed = 4

// load copies the tensors below m.Root into the model, or reports every
// missing, unexpected and mis-shaped tensor in one error.
func (m *Model) load(w *Weights, in inferred, inferredOK bool) error {
	var missing, mismatch []string
	want := map[string]bool{}
	for _, t := range m.Params.StateDict() {
		want[t.Name] = true
		v, ok := w.Tensors[m.Root+t.Name]
		switch {
		case !ok:
			missing = append(missing, fmt.Sprintf("%s %v", t.Name, t.Shape()))
		case !slices.Equal(v.Shape, t.Shape()):
			mismatch = append(mismatch, fmt.Sprintf("%s %v in the file, %v in the model", t.Name, v.Shape, t.Shape()))
		}
	}
	// Other networks nested below the root (a momentum encoder beside a
	// backbone saved at the top level) are not the backbone's business.
	var nested []string
	for _, r := range roots(w) {
		if r != m.Root && strings.HasPrefix(r, m.Root) {
			nested = append(nested, r)
		}
	}
	var unexpected []string
	for _, n := range w.Names {
		rel, ok := strings.CutPrefix(n, m.Root)
		if !ok || want[rel] {
			continue
		}
		if slices.ContainsFunc(nested, func(r string) bool { return strings.HasPrefix(n, r) }) {
			continue
		}
		if isHead(rel) {
			m.Ignored++
			continue
		}
		unexpected = append(unexpected, fmt.Sprintf("%s %v", rel, w.Tensors[n].Shape))
	}
	if len(missing)+len(mismatch)+len(unexpected) > 0 {
		var parts []string
		list := func(what string, xs []string) {
			if len(xs) == 0 {
				return
			}
			s := fmt.Sprintf("%d %s: %s", len(xs), what, strings.Join(xs[:min(maxListed, len(xs))], ", "))
			if len(xs) > maxListed {
				s += fmt.Sprintf(", ... (%d more)", len(xs)-maxListed)
			}
			parts = append(parts, s)
		}
		list("missing", missing)
		list("unexpected", unexpected)
		list("shape mismatches", mismatch)
		hint := ""
		if inferredOK {
			hint = fmt.Sprintf("; the file holds %s", in)
			if in.arch != "" {
				hint += ": leave out --arch/--width/--stem to build that"
			}
		}
		return fmt.Errorf("%s: the weights under %q do not fit %s: %s%s", m.Path, m.Root, describe(m.Spec), strings.Join(parts, "; "), hint)
	}
	for _, t := range m.Params.StateDict() {
		copy(t.Data, w.Tensors[m.Root+t.Name].Data)
	}
	return nil
}
