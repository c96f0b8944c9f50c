package nn

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/siam-ssl/siam/internal/cputime"
	"github.com/siam-ssl/siam/tensor"
	"github.com/siam-ssl/siam/tensor/tensortest"
)

const vitFixture = "../testdata/torch/vit_tiny.safetensors"

// vitParityTol is the parity tolerance, relative to each tensor's largest
// reference magnitude (the per-op fixtures' metric). PyTorch's own float32 run
// misses the float64 reference by 5.1e-7 at worst (scripts/gen_fixtures.py).
const vitParityTol = 1e-4

// loadViTFixture reads the fixture and builds the ViT it describes, frozen patch
// projection or not, with the fixture's weights loaded.
func loadViTFixture(t *testing.T, frozenPatch bool) (*ViT, *Collection, map[string]*tensor.Tensor, map[string]string) {
	t.Helper()
	values, meta, err := LoadTensors(vitFixture)
	if err != nil {
		t.Fatalf("%v (regenerate with /usr/bin/python3 scripts/gen_fixtures.py)", err)
	}
	atoi := func(k string) int {
		v, err := strconv.Atoi(meta[k])
		if err != nil {
			t.Fatalf("metadata %s: %v", k, err)
		}
		return v
	}
	cfg := ViTConfig{Depth: atoi("depth"), Dim: atoi("dim"), Heads: atoi("heads"), PatchSize: atoi("patch"),
		ImageSize: atoi("size"), InChannels: atoi("channels"), FrozenPatch: frozenPatch}
	var col Collection
	v, err := NewViT(&col, "", cfg, rand.New(rand.NewPCG(3, 4)))
	if err != nil {
		t.Fatal(err)
	}
	if err := col.LoadStateDict(values); err != nil {
		t.Fatal(err)
	}
	return v, &col, values, meta
}

// vitStep runs the fixture's step: forward, loss = sum of squares, backward.
func vitStep(t *testing.T, v *ViT, col *Collection, x *tensor.Tensor) (out *tensor.Tensor, loss float32) {
	t.Helper()
	col.ZeroGrad()
	g := tensor.NewGraph()
	out = v.Forward(g, x)
	l := g.Sum(g.Mul(out, out))
	if err := g.Backward(l); err != nil {
		t.Fatal(err)
	}
	return out.Clone(), l.Item()
}

// vitCompare checks got against want with the parity metric.
func vitCompare(t *testing.T, name string, got []float32, want *tensor.Tensor) {
	t.Helper()
	if len(got) != want.Numel() {
		t.Fatalf("%s: %d values, want %d", name, len(got), want.Numel())
	}
	var maxRef, maxErr float64
	for i, w := range want.Data {
		maxRef = math.Max(maxRef, math.Abs(float64(w)))
		d := math.Abs(float64(got[i]) - float64(w))
		if math.IsNaN(d) {
			d = math.Inf(1)
		}
		maxErr = math.Max(maxErr, d)
	}
	if maxErr > vitParityTol*maxRef {
		t.Errorf("%s: max |got-want| %.3g exceeds %g * %.3g", name, maxErr, vitParityTol, maxRef)
	}
}

// TestViTParity runs the tiny ViT of testdata/torch/vit_tiny.safetensors (depth
// 2, dim 32, 2 heads, 4x4 patches of 16x16x3 images, batch 4; bench/torch_vit.py's
// model) forward and backward and compares the representation, the loss and the
// gradient of every parameter with PyTorch's float64 reference. The state-dict
// names must be the fixture's (timm's), and the sin-cos position embedding Go
// builds must be PyTorch's.
func TestViTParity(t *testing.T) {
	v, col, values, meta := loadViTFixture(t, false)
	var names, trainable []string
	if err := json.Unmarshal([]byte(meta["names"]), &names); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(meta["trainable"]), &trainable); err != nil {
		t.Fatal(err)
	}
	var ours, ourParams []string
	for _, p := range col.StateDict() {
		ours = append(ours, p.Name)
	}
	for _, p := range col.Params {
		ourParams = append(ourParams, p.Name)
	}
	slices.Sort(names)
	slices.Sort(ours)
	slices.Sort(trainable)
	slices.Sort(ourParams)
	if !slices.Equal(names, ours) {
		t.Fatalf("state dict names\n%v\nwant (PyTorch)\n%v", ours, names)
	}
	if !slices.Equal(trainable, ourParams) {
		t.Fatalf("trainable %v, want %v", ourParams, trainable)
	}

	// Go's own position embedding (rows 1..) against PyTorch's float32 one.
	cfg := v.Config
	pe := SinCosPosEmbed(cfg.Grid(), cfg.Dim)
	want := values["pos_embed"].Data
	for i, w := range want[:cfg.Dim] {
		if w != 0 {
			t.Fatalf("fixture's class-token position row is not zero at %d: %g", i, w)
		}
	}
	for i, g := range pe {
		if d := math.Abs(float64(g - want[cfg.Dim+i])); d > 1e-6 {
			t.Fatalf("pos_embed[%d] = %g, PyTorch %g", cfg.Dim+i, g, want[cfg.Dim+i])
		}
	}

	out, loss := vitStep(t, v, col, values["x"])
	vitCompare(t, "out", out.Data, values["out"])
	vitCompare(t, "loss", []float32{loss}, values["loss"])
	checked := 0
	for _, p := range col.Params {
		w, ok := values["grad/"+p.Name]
		if !ok {
			t.Errorf("fixture has no gradient for %s", p.Name)
			continue
		}
		vitCompare(t, "grad/"+p.Name, p.Grad, w)
		checked++
	}
	for name := range values {
		if g, ok := strings.CutPrefix(name, "grad/"); ok && !slices.Contains(trainable, g) {
			t.Errorf("fixture gradient %s belongs to no trainable parameter", name)
		}
	}
	if checked != len(trainable) {
		t.Errorf("checked %d gradients, fixture has %d", checked, len(trainable))
	}
	for _, f := range col.Frozen {
		if f.Grad != nil {
			t.Errorf("frozen %s got a gradient", f.Name)
		}
	}
}

// TestViTFrozenPatch: with MoCo v3's frozen patch projection the projection is
// no parameter (optimisers never see it), gets no gradient, stays in the state
// dict, and every other gradient is unchanged.
func TestViTFrozenPatch(t *testing.T) {
	v, col, values, _ := loadViTFixture(t, false)
	vf, colf, _, _ := loadViTFixture(t, true)
	for _, name := range []string{"patch_embed.proj.weight", "patch_embed.proj.bias"} {
		if slices.ContainsFunc(colf.Params, func(p *tensor.Tensor) bool { return p.Name == name }) {
			t.Errorf("%s is a trainable parameter with FrozenPatch", name)
		}
		if _, ok := colf.Lookup(name); !ok {
			t.Errorf("%s missing from the state dict with FrozenPatch", name)
		}
	}
	out, _ := vitStep(t, v, col, values["x"])
	outf, _ := vitStep(t, vf, colf, values["x"])
	if !slices.Equal(out.Data, outf.Data) {
		t.Fatal("freezing the patch projection changed the forward pass")
	}
	for _, pf := range colf.Params {
		p, _ := col.Lookup(pf.Name)
		if !slices.Equal(p.Grad, pf.Grad) {
			t.Errorf("%s: gradient differs with the patch projection frozen", pf.Name)
		}
	}
	for _, f := range colf.Frozen {
		if f.Grad != nil {
			t.Errorf("frozen %s got a gradient", f.Name)
		}
	}
}

// TestViTGradCheck checks a small ViT's input gradient (through the patch
// convolution, attention, LayerNorms and GELU) against finite differences.
func TestViTGradCheck(t *testing.T) {
	var col Collection
	v, err := NewViT(&col, "", ViTConfig{Depth: 2, Dim: 8, Heads: 2, PatchSize: 2, ImageSize: 4, InChannels: 2},
		rand.New(rand.NewPCG(5, 6)))
	if err != nil {
		t.Fatal(err)
	}
	// Non-trivial biases, norms and class token (the init leaves them 0 or 1).
	rng := rand.New(rand.NewPCG(7, 8))
	for _, p := range col.Params {
		if p.Rank() == 1 || strings.HasSuffix(p.Name, "cls_token") {
			for i := range p.Data {
				p.Data[i] += float32(0.3 * rng.NormFloat64())
			}
		}
	}
	x := tensortest.Rand(9, 3, 2, 4, 4)
	tensortest.CheckGrad(t, func(g *tensor.Graph, in []*tensor.Tensor) *tensor.Tensor {
		return v.Forward(g, in[0])
	}, []*tensor.Tensor{x}, tensortest.Options{Eps: 1e-2, MaxChecks: 96})
}

// TestViTStepReusesArena: repeated training steps on one graph allocate their
// buffers once.
func TestViTStepReusesArena(t *testing.T) {
	var col Collection
	v, err := NewViT(&col, "", ViTConfig{Depth: 2, Dim: 16, Heads: 2, PatchSize: 4, ImageSize: 16, InChannels: 3},
		rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		t.Fatal(err)
	}
	x := tensortest.Rand(3, 4, 3, 16, 16)
	g := tensor.NewGraph()
	var sizes []int64
	for range 3 {
		out := v.Forward(g, x)
		if err := g.Backward(g.Sum(g.Mul(out, out))); err != nil {
			t.Fatal(err)
		}
		sizes = append(sizes, g.ArenaBytes())
		g.Reset()
	}
	if sizes[1] != sizes[0] || sizes[2] != sizes[0] {
		t.Fatalf("arena grew across steps: %v", sizes)
	}
}

func TestSinCosPosEmbed(t *testing.T) {
	pe := SinCosPosEmbed(3, 8)
	if len(pe) != 9*8 {
		t.Fatalf("%d values", len(pe))
	}
	// Patch 0 (row 0, column 0): sin 0 = 0, cos 0 = 1 in every band.
	if want := []float32{0, 0, 1, 1, 0, 0, 1, 1}; !slices.Equal(pe[:8], want) {
		t.Errorf("patch 0: %v, want %v", pe[:8], want)
	}
	// Patch 5 = row 1, column 2; frequencies 1 and 1/100 (p = 2).
	want := []float64{math.Sin(1), math.Sin(0.01), math.Cos(1), math.Cos(0.01), math.Sin(2), math.Sin(0.02), math.Cos(2), math.Cos(0.02)}
	for i, w := range want {
		if d := math.Abs(float64(pe[5*8+i]) - w); d > 1e-6 {
			t.Errorf("patch 5 value %d = %g, want %g", i, pe[5*8+i], w)
		}
	}
}

func TestNewBackboneViT(t *testing.T) {
	rng := func() *rand.Rand { return rand.New(rand.NewPCG(1, 1)) }
	cases := []struct {
		spec                           BackboneSpec
		depth, dim, heads, patch, toks int
	}{
		{BackboneSpec{Arch: "vit-tiny", ImageSize: 32}, 12, 192, 3, 4, 65},
		{BackboneSpec{Arch: "vit-s", ImageSize: 28, InChannels: 1}, 12, 384, 6, 4, 50},
		{BackboneSpec{Arch: "ViT-S", ImageSize: 224}, 12, 384, 6, 16, 197},
		{BackboneSpec{Arch: "vit-s", ImageSize: 32, ViTDepth: 6, ViTHeads: 3}, 6, 384, 3, 4, 65}, // A.4's variants
		{BackboneSpec{Arch: "vit", ImageSize: 32, ViTDepth: 2, ViTDim: 64, ViTHeads: 4, PatchSize: 8}, 2, 64, 4, 8, 17},
	}
	for i, c := range cases {
		got, err := vitSpec(c.spec)
		if err != nil {
			t.Fatalf("%+v: %v", c.spec, err)
		}
		if got.Depth != c.depth || got.Dim != c.dim || got.Heads != c.heads || got.PatchSize != c.patch ||
			got.Tokens() != c.toks {
			t.Errorf("%+v: got %+v (%d tokens)", c.spec, got, got.Tokens())
		}
		if i != 0 && i != len(cases)-1 {
			continue // building the ViT-S variants adds seconds and checks nothing more
		}
		var col Collection
		b, err := NewBackbone(&col, "backbone.", c.spec, rng())
		if err != nil {
			t.Fatalf("%+v: %v", c.spec, err)
		}
		if b.(*ViT).Config != got || b.FeatureDim() != c.dim {
			t.Errorf("%+v: built %+v, feature dim %d", c.spec, b.(*ViT).Config, b.FeatureDim())
		}
		if _, ok := col.Lookup("backbone.blocks.0.attn.qkv.weight"); !ok {
			t.Errorf("%+v: no backbone.blocks.0.attn.qkv.weight", c.spec)
		}
		if len(col.BNs) != 0 {
			t.Errorf("a ViT has no batch norm")
		}
	}
	for _, name := range []string{"vit-s", "vit-tiny", "vit"} {
		if !slices.Contains(ArchNames(), name) {
			t.Errorf("ArchNames lacks %s", name)
		}
	}
}

func TestNewBackboneViTErrors(t *testing.T) {
	cases := []struct {
		spec BackboneSpec
		frag string
	}{
		{BackboneSpec{Arch: "vit-s", ImageSize: 30}, "patch size 4 does not divide the input size 30"},
		{BackboneSpec{Arch: "vit-tiny", ImageSize: 32, PatchSize: 5}, "patch size 5 does not divide"},
		{BackboneSpec{Arch: "vit-s"}, "input size"},
		{BackboneSpec{Arch: "vit", ImageSize: 32, ViTDepth: 2}, "vit needs its depth, dim and heads"},
		{BackboneSpec{Arch: "vit-s", ImageSize: 32, ViTHeads: 5}, "5 heads do not divide dim 384"},
		{BackboneSpec{Arch: "vit", ImageSize: 32, ViTDepth: 1, ViTDim: 6, ViTHeads: 2}, "multiple of 4"},
		{BackboneSpec{Arch: "vit-m", ImageSize: 32}, "vit-s, vit-tiny, vit"},
	}
	for _, c := range cases {
		var col Collection
		_, err := NewBackbone(&col, "", c.spec, rand.New(rand.NewPCG(1, 1)))
		if err == nil || !strings.Contains(err.Error(), c.frag) {
			t.Errorf("%+v: error %v, want one mentioning %q", c.spec, err, c.frag)
		}
		if err != nil && strings.Contains(err.Error(), "\n") {
			t.Errorf("%+v: error spans lines: %q", c.spec, err)
		}
	}
}

func TestViTForwardRejectsWrongInput(t *testing.T) {
	var col Collection
	b, err := NewBackbone(&col, "", BackboneSpec{Arch: "vit", ImageSize: 8, ViTDepth: 1, ViTDim: 8, ViTHeads: 2}, rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		t.Fatal(err)
	}
	for _, shape := range [][]int{{2, 3, 16, 16}, {2, 1, 8, 8}, {3, 8, 8}} {
		g := tensor.NewGraph()
		out := b.Forward(g, tensor.New(shape...))
		if g.Err() == nil || !strings.Contains(g.Err().Error(), "want input [N,3,8,8]") || out.Numel() != 0 {
			t.Errorf("input %v: error %v", shape, g.Err())
		}
	}
	g := tensor.NewGraph()
	out := b.Forward(g, tensor.New(2, 3, 8, 8))
	if err := g.Err(); err != nil || !tensor.SameShape(out.Shape(), []int{2, 8}) {
		t.Fatalf("valid input: %v %v", err, out.Shape())
	}
}

// TestViTFLOPs: ViT-S/16 at 224x224 is DeiT-S's 4.6 G multiply-adds.
func TestViTFLOPs(t *testing.T) {
	cfg, err := vitSpec(BackboneSpec{Arch: "vit-s", ImageSize: 224})
	if err != nil {
		t.Fatal(err)
	}
	b := &ViT{Config: cfg}
	if f := b.FLOPs(224, 224); math.Abs(f/2e9-4.6) > 0.05 {
		t.Errorf("FLOPs %.4g, want about 2 x 4.6e9", f)
	}
	if f := b.FLOPs(32, 32); f != 0 {
		t.Errorf("FLOPs at another size %g, want 0", f)
	}
}

// BenchmarkViTTinyStep is one vit-tiny forward + backward (loss = sum of squares
// of the representation) on a batch of 64 32x32 colour images: the Go side of
// bench/torch_vit.py's default run.
//
//	go test ./nn/ -run XXX -bench ViTTinyStep -benchtime 5x
func BenchmarkViTTinyStep(b *testing.B) {
	var col Collection
	v, err := NewBackbone(&col, "", BackboneSpec{Arch: "vit-tiny", ImageSize: 32}, rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		b.Fatal(err)
	}
	x := tensortest.Rand(3, 64, 3, 32, 32)
	g := tensor.NewGraph()
	step := func() {
		col.ZeroGrad()
		out := v.Forward(g, x)
		if err := g.Backward(g.Sum(g.Mul(out, out))); err != nil {
			b.Fatal(err)
		}
		g.Reset()
	}
	step() // warm the arena
	cpu0 := cputime.Now()
	b.ResetTimer()
	for b.Loop() {
		step()
	}
	b.ReportMetric(64*float64(b.N)/b.Elapsed().Seconds(), "img/s")
	// CPU seconds per step: on a shared host less sensitive than wall time to
	// the other processes (it still pays for their cache and core contention).
	b.ReportMetric((cputime.Now()-cpu0).Seconds()/float64(b.N), "cpu-s/op")
}
