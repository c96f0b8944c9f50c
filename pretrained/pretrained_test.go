package pretrained

import (
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/siam-ssl/siam/nn"
	"github.com/siam-ssl/siam/safetensors"
	"github.com/siam-ssl/siam/tensor"
)

const fixtures = "../testdata/torchpt"

// parityTol is the relative tolerance of features against PyTorch's:
// max |a-b| <= parityTol * max |b|.
const parityTol = 1e-4

func readRef(t *testing.T) *safetensors.File {
	t.Helper()
	f, err := safetensors.ReadFile(filepath.Join(fixtures, "features.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func get(t *testing.T, f *safetensors.File, name string) *safetensors.Tensor {
	t.Helper()
	x, err := f.Get(name)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

// features runs m on the images in eval mode on a no-grad graph.
func features(t *testing.T, m *Model, img *safetensors.Tensor) *tensor.Tensor {
	t.Helper()
	g := tensor.NewGraph()
	g.SetNoGrad(true)
	y := m.Represent(g, g.Input(img.F32, img.Shape...))
	if err := g.Err(); err != nil {
		t.Fatal(err)
	}
	return y
}

func relErr(got, want []float32) float64 {
	var d, s float64
	for i := range want {
		d = max(d, math.Abs(float64(got[i])-float64(want[i])))
		s = max(s, math.Abs(float64(want[i])))
	}
	return d / max(s, 1e-12)
}

// TestFeaturesMatchPyTorch loads every release-style fixture and compares its
// features on fixed images with the ones PyTorch computed (eval mode, no_grad).
func TestFeaturesMatchPyTorch(t *testing.T) {
	ref := readRef(t)
	cases := []struct {
		file, images, stats string
		root, arch          string
		width               int
		stem                nn.Stem
		ignored             bool // heads present below the root
	}{
		{"simsiam_r50_w2.pth.tar", "images48", "imagenet", "state_dict.module.encoder.", "resnet50", 2, nn.ImageNetStem, true},
		{"mocov3_r18_w2.pth.tar", "images48", "imagenet", "state_dict.module.base_encoder.", "resnet18", 2, nn.ImageNetStem, true},
		{"torchvision_r18_w4.pth", "images48", "imagenet", "", "resnet18", 4, nn.ImageNetStem, true},
		{"half_r18_w4_cifar.pt", "images32", "cifar", "", "resnet18", 4, nn.CIFARStem, true},
		{"bf16_r18_w4_cifar.pt", "images32", "cifar", "", "resnet18", 4, nn.CIFARStem, true},
		{"f64_r18_w2_cifar.pth", "images32", "cifar", "", "resnet18", 2, nn.CIFARStem, true},
		{"strided_r18_w2.pth", "images48", "imagenet", "", "resnet18", 2, nn.ImageNetStem, true},
		{"siam_r18_w2_cifar.safetensors", "images32", "cifar", "backbone.", "resnet18", 2, nn.CIFARStem, false},
	}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			m, err := Load(filepath.Join(fixtures, tc.file), Options{})
			if err != nil {
				t.Fatal(err)
			}
			s := m.Spec
			if m.Root != tc.root || s.Arch != tc.arch || s.Width != tc.width || s.Stem != tc.stem || s.InChannels != 3 || s.WidthMult != 1 {
				t.Fatalf("built %s, want %s width %d stem %d from %q", m.Describe(), tc.arch, tc.width, tc.stem, tc.root)
			}
			if (m.Ignored > 0) != tc.ignored {
				t.Errorf("%d head tensors ignored", m.Ignored)
			}
			if m.Training() {
				t.Error("model starts in training mode")
			}
			if err := m.SetInput(get(t, ref, tc.stats+"_mean").F32, get(t, ref, tc.stats+"_std").F32); err != nil {
				t.Fatal(err)
			}
			stem := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(tc.file, ".tar"), filepath.Ext(strings.TrimSuffix(tc.file, ".tar"))), ".pth")
			want := get(t, ref, stem)
			got := features(t, m, get(t, ref, tc.images))
			if !slices.Equal(got.Shape(), want.Shape) {
				t.Fatalf("features %v, want %v", got.Shape(), want.Shape)
			}
			if e := relErr(got.Data, want.F32); e > parityTol {
				t.Errorf("features differ from PyTorch's: relative error %.3g > %g", e, parityTol)
			} else {
				t.Logf("relative error %.2g", e)
			}
		})
	}
}

// TestMomentumEncoderByPrefix: --prefix picks MoCo v3's momentum encoder,
// which holds other weights than the base encoder loaded by default.
func TestMomentumEncoderByPrefix(t *testing.T) {
	ref := readRef(t)
	path := filepath.Join(fixtures, "mocov3_r18_w2.pth.tar")
	base, err := Load(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"module.momentum_encoder.", "module.momentum_encoder", "state_dict.module.momentum_encoder."} {
		mom, err := Load(path, Options{Prefix: p, PrefixSet: true})
		if err != nil {
			t.Fatal(err)
		}
		if mom.Root != "state_dict.module.momentum_encoder." {
			t.Errorf("--prefix %q: root %q", p, mom.Root)
		}
		img := get(t, ref, "images48")
		a, b := features(t, base, img), features(t, mom, img)
		if relErr(a.Data, b.Data) < 1e-3 {
			t.Errorf("--prefix %q: momentum encoder gives the base encoder's features", p)
		}
	}
}

// TestGrayInput: a one-channel image is repeated into the three channels.
func TestGrayInput(t *testing.T) {
	m, err := Load(filepath.Join(fixtures, "torchvision_r18_w4.pth"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.SetInput([]float32{0.5, 0.4, 0.3}, []float32{0.2, 0.25, 0.3}); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	gray := make([]float32, 2*16*16)
	for i := range gray {
		gray[i] = rng.Float32()
	}
	rgb := make([]float32, 0, 3*len(gray))
	for i := range 2 {
		for range 3 {
			rgb = append(rgb, gray[i*256:(i+1)*256]...)
		}
	}
	a := features(t, m, &safetensors.Tensor{Shape: []int{2, 1, 16, 16}, F32: gray})
	b := features(t, m, &safetensors.Tensor{Shape: []int{2, 3, 16, 16}, F32: rgb})
	if !slices.Equal(a.Data, b.Data) {
		t.Error("gray input differs from the same image repeated in three channels")
	}
	g := tensor.NewGraph()
	m.Represent(g, g.Input(make([]float32, 2*2*4*4), 2, 2, 4, 4))
	if g.Err() == nil || !strings.Contains(g.Err().Error(), "want images [N,3,H,W]") {
		t.Errorf("2-channel input: %v", g.Err())
	}
}

func TestSetInput(t *testing.T) {
	m := &Model{Spec: nn.BackboneSpec{InChannels: 3}}
	for _, tc := range []struct {
		mean, std []float32
		ok        bool
	}{
		{nil, nil, true},
		{[]float32{0.5}, []float32{0.5}, true},
		{[]float32{0.1, 0.2, 0.3}, []float32{1, 1, 1}, true},
		{[]float32{0.1, 0.2}, []float32{1, 1}, false},
		{[]float32{0.1}, nil, false},
		{[]float32{0.1}, []float32{0}, false},
		{[]float32{0.1}, []float32{float32(math.NaN())}, false},
	} {
		if err := m.SetInput(tc.mean, tc.std); (err == nil) != tc.ok {
			t.Errorf("SetInput(%v, %v) = %v", tc.mean, tc.std, err)
		}
	}
}

// fakeWeights holds a resnet18 of width 2 below each prefix, plus extra tensors.
func fakeWeights(t *testing.T, arch string, prefixes []string, extra map[string][]int) *Weights {
	t.Helper()
	c := &nn.Collection{}
	if _, err := nn.NewBackbone(c, "", nn.BackboneSpec{Arch: arch, Width: 2, Stem: nn.CIFARStem}, rand.New(rand.NewPCG(1, 1))); err != nil {
		t.Fatal(err)
	}
	w := &Weights{Path: "fake.pth", Tensors: map[string]Tensor{}}
	for _, p := range prefixes {
		for _, x := range c.StateDict() {
			w.add(p+x.Name, x.Shape(), x.Data)
		}
	}
	for n, s := range extra {
		size := 1
		for _, d := range s {
			size *= d
		}
		w.add(n, s, make([]float32, size))
	}
	return w
}

func TestKeyMapping(t *testing.T) {
	cases := []struct {
		name     string
		w        *Weights
		o        Options
		root     string
		err      []string
		arch     string
		extraLen int
	}{
		{"root", fakeWeights(t, "resnet18", []string{""}, nil), Options{}, "", nil, "resnet18", 0},
		{"online beats momentum and target", fakeWeights(t, "resnet18", []string{"module.momentum_encoder.", "online.backbone.", "target_net.backbone."}, nil), Options{}, "online.backbone.", nil, "resnet18", 0},
		{"moco v1 query encoder", fakeWeights(t, "resnet50", []string{"module.encoder_q.", "module.encoder_k."}, map[string][]int{"module.encoder_q.fc.0.weight": {4, 4}}), Options{}, "module.encoder_q.", nil, "resnet50", 0},
		{"only a momentum encoder", fakeWeights(t, "resnet18", []string{"momentum_encoder."}, nil), Options{}, "momentum_encoder.", nil, "resnet18", 0},
		{"siam run: backbone beats optimizer momentum", fakeWeights(t, "resnet18", []string{"backbone.", "sgd.momentum.backbone."}, map[string][]int{"projector.0.weight": {4, 16}}), Options{}, "backbone.", nil, "resnet18", 0},
		{"ambiguous", fakeWeights(t, "resnet18", []string{"student.backbone.", "teacher.backbone."}, nil), Options{}, "", []string{"several backbones", `"student.backbone."`, "--prefix"}, "", 0},
		{"prefix picks one", fakeWeights(t, "resnet18", []string{"student.backbone.", "teacher.backbone."}, nil), Options{Prefix: "teacher.backbone", PrefixSet: true}, "teacher.backbone.", nil, "resnet18", 0},
		{"prefix below a wrapper", fakeWeights(t, "resnet18", []string{"model.module.encoder."}, nil), Options{Prefix: "module.encoder.", PrefixSet: true}, "model.module.encoder.", nil, "resnet18", 0},
		{"prefix matches two sub-trees", fakeWeights(t, "resnet18", []string{"a.enc.", "b.enc."}, nil), Options{Prefix: "enc.", PrefixSet: true}, "", []string{"several sub-trees"}, "", 0},
		{"prefix absent", fakeWeights(t, "resnet18", []string{"backbone."}, nil), Options{Prefix: "encoder.", PrefixSet: true}, "", []string{`--prefix "encoder."`, `"backbone."`}, "", 0},
		{"empty prefix set", fakeWeights(t, "resnet18", []string{"", "x."}, nil), Options{Prefix: "", PrefixSet: true}, "", nil, "resnet18", 0},
		{"no backbone", &Weights{Path: "x.pth", Names: []string{"a"}, Tensors: map[string]Tensor{"a": {Shape: []int{1}}}}, Options{}, "", []string{"no ResNet backbone", "first names: a"}, "", 0},
		{"unexpected tensor", fakeWeights(t, "resnet18", []string{""}, map[string][]int{"layer1.0.se.weight": {2}}), Options{}, "", []string{"1 unexpected: layer1.0.se.weight [2]"}, "", 0},
		{"wrong arch", fakeWeights(t, "resnet50", []string{""}, nil), Options{Arch: "resnet18"}, "", []string{"do not fit resnet18", "unexpected", "shape mismatches", "more)", "the file holds resnet50 (Bottleneck [3 4 6 3], width 2", "leave out --arch"}, "", 0},
		{"wrong arch, missing", fakeWeights(t, "resnet18", []string{""}, nil), Options{Arch: "resnet50"}, "", []string{"missing: layer1.0.conv3.weight [8 2 1 1]", "the file holds resnet18"}, "", 0},
		{"wrong width", fakeWeights(t, "resnet18", []string{""}, nil), Options{Width: 4}, "", []string{"shape mismatches: conv1.weight [2 3 3 3] in the file, [4 3 3 3] in the model"}, "", 0},
		{"wrong stem", fakeWeights(t, "resnet18", []string{""}, nil), Options{Stem: "imagenet"}, "", []string{"conv1.weight [2 3 3 3] in the file, [2 3 7 7] in the model"}, "", 0},
		{"bad stem", fakeWeights(t, "resnet18", []string{""}, nil), Options{Stem: "vit"}, "", []string{`stem "vit"`}, "", 0},
		{"unknown arch flag", fakeWeights(t, "resnet18", []string{""}, nil), Options{Arch: "resnet1000"}, "", []string{"unknown architecture"}, "", 0},
		{"depths with no preset", dropStage(fakeWeights(t, "resnet34", []string{""}, nil)), Options{}, "", []string{"matches no architecture", "Basic [3 4 5 3]"}, "", 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, err := FromWeights(tc.w, tc.o)
			if tc.err != nil {
				if err == nil {
					t.Fatalf("built %s", m.Describe())
				}
				for _, s := range tc.err {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error %q lacks %q", err, s)
					}
				}
				if strings.Contains(err.Error(), "\n") {
					t.Errorf("error spans lines: %q", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if m.Root != tc.root || m.Spec.Arch != tc.arch {
				t.Errorf("built %s, want %s from %q", m.Describe(), tc.arch, tc.root)
			}
		})
	}
}

// dropStage removes the last block of resnet34's third stage (depths 3 4 5 3).
func dropStage(w *Weights) *Weights {
	out := &Weights{Path: w.Path, Tensors: map[string]Tensor{}}
	for _, n := range w.Names {
		if !strings.HasPrefix(n, "layer3.5.") {
			out.add(n, w.Tensors[n].Shape, w.Tensors[n].Data)
		}
	}
	return out
}

func TestLoadErrors(t *testing.T) {
	cases := []struct{ file, want string }{
		{"evil_os_system.pth", "posix.system"},
		{"evil_global_os_system.pth", "os.system"},
		{"does-not-exist.pth", "no such file"},
		{"features.safetensors", "no ResNet backbone"},
	}
	for _, tc := range cases {
		if _, err := Load(filepath.Join(fixtures, tc.file), Options{}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.file, err, tc.want)
		}
	}
}

func TestReadWeightsFormats(t *testing.T) {
	for _, tc := range []struct{ file, format, first string }{
		{"simsiam_r50_w2.pth.tar", "torch", "state_dict.module.encoder.conv1.weight"},
		{"siam_r18_w2_cifar.safetensors", "safetensors", "backbone.bn1.bias"},
	} {
		w, err := ReadWeights(filepath.Join(fixtures, tc.file))
		if err != nil {
			t.Fatal(err)
		}
		if w.Format != tc.format || w.Names[0] != tc.first {
			t.Errorf("%s: format %s, first %s", tc.file, w.Format, w.Names[0])
		}
		for _, n := range w.Names {
			if strings.HasSuffix(n, "num_batches_tracked") {
				t.Errorf("%s: integer tensor %s kept", tc.file, n)
			}
		}
	}
	w, _ := ReadWeights(filepath.Join(fixtures, "simsiam_r50_w2.pth.tar"))
	if w.Meta["arch"] != "resnet50" || w.Meta["epoch"] != "100" {
		t.Errorf("meta %v", w.Meta)
	}
}

func ExampleLoad() {
	m, err := Load("../testdata/torchpt/simsiam_r50_w2.pth.tar", Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(m.Describe())
	fmt.Println("features:", m.FeatureDim(), "epoch:", m.Meta["epoch"])
	// Output:
	// resnet50 (width 2, imagenet stem, 3 channels) from "state_dict.module.encoder."
	// features: 64 epoch: 100
}
