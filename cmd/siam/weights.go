package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"

	"github.com/siam-ssl/siam/atomicfile"
	"github.com/siam-ssl/siam/data"
	"github.com/siam-ssl/siam/eval"
	"github.com/siam-ssl/siam/evalrun"
	"github.com/siam-ssl/siam/nn"
	"github.com/siam-ssl/siam/pretrained"
)

// weightsFlags are the flags that measure a backbone trained elsewhere, read
// from a PyTorch checkpoint or a safetensors file, in place of a run folder.
type weightsFlags struct {
	files                      []string // every --weights file (collapse takes several)
	file                       string   // the single --weights of eval
	arch, stem, prefix, out    string
	width, size                int
	mean, std                  []float32
	prefixSet, meanSet, stdSet bool
}

// add registers the flags; many allows several --weights files (collapse).
func (wf *weightsFlags) add(cmd *cobra.Command, many bool) {
	f := cmd.Flags()
	if many {
		f.StringSliceVar(&wf.files, "weights", nil, "PyTorch checkpoint (.pth, .pth.tar, .pt) or .safetensors file(s) holding a ResNet backbone, instead of a run folder")
	} else {
		f.StringVar(&wf.file, "weights", "", "PyTorch checkpoint (.pth, .pth.tar, .pt) or .safetensors file holding a ResNet backbone, instead of --checkpoint")
	}
	f.StringVar(&wf.arch, "arch", "", "--weights: architecture ("+strings.Join(nn.ArchNames(), ", ")+"; default: read off the weights)")
	f.StringVar(&wf.stem, "stem", "", "--weights: imagenet (7x7 conv + max-pool) or cifar (3x3 conv, stride 1, no max-pool); default: read off the weights")
	f.IntVar(&wf.width, "width", 0, "--weights: ResNet base width (64 = standard; default: read off the weights)")
	f.StringVar(&wf.prefix, "prefix", "", `--weights: sub-tree holding the backbone, e.g. module.encoder. (default: found automatically; "" = top level)`)
	f.Float32SliceVar(&wf.mean, "mean", nil, "--weights: per-channel input mean, e.g. 0.485,0.456,0.406 (default: ImageNet's for 3-channel ImageNet-stem models, else the dataset's)")
	f.Float32SliceVar(&wf.std, "std", nil, "--weights: per-channel input std, e.g. 0.229,0.224,0.225 (default: as --mean)")
	f.IntVar(&wf.size, "size", 0, "--weights: images are SIZE x SIZE (ImageFolder trees decoded at it, others resized; default: the dataset's own size)")
	if f.Lookup("out") == nil { // siam embed's --out is its output file
		f.StringVar(&wf.out, "out", "", "--weights: folder for results.jsonl (default: beside the file, FILE without extension + .siam)")
	}
}

// resolve reads which optional flags were given.
func (wf *weightsFlags) resolve(cmd *cobra.Command) {
	if wf.file != "" {
		wf.files = []string{wf.file}
	}
	f := cmd.Flags()
	wf.prefixSet, wf.meanSet, wf.stdSet = f.Changed("prefix"), f.Changed("mean"), f.Changed("std")
}

// used reports whether --weights was given.
func (wf *weightsFlags) used() bool { return len(wf.files) > 0 }

// weightsInfo describes a backbone loaded with --weights, for records and messages.
type weightsInfo struct {
	Model *pretrained.Model
	Size  int
}

// weightsFileExts are stripped from a weights file's name to name its results folder.
var weightsFileExts = []string{".pth.tar", ".pth", ".pt", ".tar", ".safetensors", ".ckpt", ".bin"}

// weightsOutDir is the default results folder of a weights file: beside it,
// its name without extension plus ".siam".
func weightsOutDir(file string) string {
	base := filepath.Base(file)
	for _, ext := range weightsFileExts {
		if b, ok := strings.CutSuffix(base, ext); ok && b != "" {
			base = b
			break
		}
	}
	return filepath.Join(filepath.Dir(file), base+".siam")
}

// loadWeights builds the backbone in file and opens the dataset (the
// embedded one when dataSpec is empty), returning them as a loadedRun whose
// Dir is the results folder. Images reach the model in [0,1] at --size; the
// model normalises them with --mean/--std (see pretrained.Model.Represent).
func loadWeights(wf *weightsFlags, file, dataSpec string) (*loadedRun, error) {
	if wf.size < 0 {
		return nil, fmt.Errorf("--size %d < 0", wf.size)
	}
	if wf.width < 0 {
		return nil, fmt.Errorf("--width %d < 0", wf.width)
	}
	if wf.meanSet != wf.stdSet {
		return nil, errors.New("--mean and --std go together")
	}
	m, err := pretrained.Load(file, pretrained.Options{Arch: wf.arch, Stem: wf.stem, Width: wf.width,
		Prefix: wf.prefix, PrefixSet: wf.prefixSet})
	if err != nil {
		return nil, err
	}
	tr, te, err := data.OpenWith(dataSpec, data.OpenOptions{ImageSize: wf.size}) // ImageFolder trees decode at --size
	if err != nil {
		return nil, err
	}
	if tr.C != m.InChannels() && tr.C != 1 {
		return nil, fmt.Errorf("dataset %s has %d-channel images; %s takes %d", dataName(dataSpec), tr.C, file, m.InChannels())
	}
	mean, std := wf.mean, wf.std
	if !wf.meanSet {
		if m.InChannels() == 3 && m.Spec.Stem == nn.ImageNetStem {
			mean, std = data.ImageNetMean, data.ImageNetStd
		} else {
			mean, std = tr.ChannelStats()
		}
	}
	if err := m.SetInput(mean, std); err != nil {
		return nil, fmt.Errorf("--mean/--std: %w", err)
	}
	size := wf.size
	if size == 0 {
		size = tr.H
	}
	dir := wf.out
	if dir == "" {
		dir = weightsOutDir(file)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	info := &weightsInfo{Model: m, Size: size}
	if err := info.writeConfig(dir); err != nil {
		return nil, err
	}
	return &loadedRun{Run: &evalrun.Run{Dir: dir, Data: dataSpec, Train: tr, Test: te,
		Recipe: data.Recipe{Name: "weights", Size: size}, Rep: m,
		Annotate: func(rec evalrun.Record) { info.annotate(rec) }}, Weights: info}, nil
}

// fields are what a result record says about the model measured.
func (w *weightsInfo) fields() map[string]any {
	m := w.Model
	abs, err := filepath.Abs(m.Path)
	if err != nil {
		abs = m.Path
	}
	f := map[string]any{"weights": abs, "arch": m.Spec.Arch, "width": m.Spec.Width, "width_mult": m.Spec.WidthMult,
		"stem": stemFlag(m.Spec.Stem), "in_channels": m.Spec.InChannels, "prefix": m.Root,
		"mean": m.Mean, "std": m.Std, "size": w.Size}
	if e, ok := m.Meta["epoch"]; ok {
		f["epoch"] = e
	}
	return f
}

// annotate adds the model's fields to a result record; a weights file has no
// training step.
func (w *weightsInfo) annotate(rec map[string]any) {
	delete(rec, "step")
	for k, v := range w.fields() {
		rec[k] = v
	}
}

// writeConfig describes the model in DIR/config.yaml, which siam report shows.
func (w *weightsInfo) writeConfig(dir string) error {
	f := w.fields()
	var node yaml.Node
	node.Kind = yaml.MappingNode
	for _, k := range []string{"weights", "arch", "width", "width_mult", "stem", "in_channels", "prefix", "epoch"} {
		v, ok := f[k]
		if !ok {
			continue
		}
		var kn, vn yaml.Node
		kn.SetString(k)
		if err := vn.Encode(v); err != nil {
			return err
		}
		node.Content = append(node.Content, &kn, &vn)
	}
	b, err := yaml.Marshal(&node)
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(filepath.Join(dir, "config.yaml"), b)
}

func stemFlag(s nn.Stem) string {
	if s == nn.ImageNetStem {
		return "imagenet"
	}
	return "cifar"
}

// representer is the model a loadedRun evaluates: the run's own model, or the
// backbone loaded with --weights.
func (r *loadedRun) representer() eval.Representer {
	if r.Rep != nil {
		return r.Rep
	}
	return r.Model
}

// title names what a loadedRun measures in messages.
func (r *loadedRun) title() string {
	if r.Weights != nil {
		return fmt.Sprintf("%s [%s]", r.Weights.Model.Path, r.Weights.Model.Describe())
	}
	return fmt.Sprintf("%s (step %d)", r.Dir, r.Step)
}
