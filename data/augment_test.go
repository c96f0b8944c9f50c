package data

import (
	"math"
	"math/rand/v2"
	"testing"
)

// synth builds a deterministic dataset of n c x h x w images with varied pixels.
func synth(n, c, h, w int) *Dataset {
	ds := &Dataset{Name: "synth", N: n, C: c, H: h, W: w, Classes: 10, Labels: make([]int, n),
		Pixels: make([]uint8, n*c*h*w)}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range ds.Pixels {
		ds.Pixels[i] = uint8(rng.IntN(256))
	}
	for i := range ds.Labels {
		ds.Labels[i] = i % 10
	}
	return ds
}

func augmentOnce(t *testing.T, r Recipe, ds *Dataset, seed uint64, i int) []float32 {
	t.Helper()
	a, err := NewAugmenter(r, ds.C, ds.H, ds.W)
	if err != nil {
		t.Fatal(err)
	}
	rng := newSampleRNG()
	rng.reseed(seed, 0, i)
	out := make([]float32, a.OutSize())
	a.Augment(out, ds.Image(i), rng.Rand)
	return out
}

func equalF(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return false
		}
	}
	return true
}

func TestAugmentDeterminismAndRange(t *testing.T) {
	full := SimSiamImageNet(32)
	full.Size = 24 // exercise resizing to a different size
	for _, tc := range []struct {
		name string
		r    Recipe
		ds   *Dataset
	}{
		{"gray28", SimSiamGray28(), synth(8, 1, 28, 28)},
		{"color32", SimSiamColor32(), synth(8, 3, 32, 32)},
		{"imagenet-resize", full, synth(8, 3, 40, 36)},
		{"gray jitter", func() Recipe { r := SimSiamColor32(); r.Mean, r.Std = nil, nil; return r }(), synth(8, 1, 28, 28)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a1 := augmentOnce(t, tc.r, tc.ds, 7, 3)
			a2 := augmentOnce(t, tc.r, tc.ds, 7, 3)
			b := augmentOnce(t, tc.r, tc.ds, 8, 3)
			if !equalF(a1, a2) {
				t.Fatal("same seed gave different views")
			}
			if equalF(a1, b) {
				t.Fatal("different seeds gave identical views")
			}
			c, h, w := tc.r.OutShape(tc.ds.C, tc.ds.H, tc.ds.W)
			if len(a1) != c*h*w {
				t.Fatalf("len %d, want %d", len(a1), c*h*w)
			}
			// Undo the normalisation: every value must lie in [0,1].
			a, _ := NewAugmenter(tc.r, tc.ds.C, tc.ds.H, tc.ds.W)
			for s := uint64(0); s < 50; s++ {
				v := augmentOnce(t, tc.r, tc.ds, s, int(s)%tc.ds.N)
				for i, x := range v {
					ch := i / (h * w)
					raw := (x - a.off[ch]) / a.scale[ch]
					if !(raw >= -1e-5 && raw <= 1+1e-5) {
						t.Fatalf("seed %d value %d = %v outside [0,1]", s, i, raw)
					}
				}
			}
		})
	}
}

func TestCropParamsScale(t *testing.T) {
	r := SimSiamColor32()
	a, err := NewAugmenter(r, 3, 32, 32)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	var sum float64
	const n = 5000
	for range n {
		top, left, ch, cw := a.cropParams(rng, 32, 32)
		if top < 0 || left < 0 || top+ch > 32 || left+cw > 32 || ch < 1 || cw < 1 {
			t.Fatalf("crop %d,%d %dx%d outside the image", top, left, ch, cw)
		}
		frac := float64(ch*cw) / 1024
		// Rounding each side to whole pixels moves the area a little.
		if frac < 0.2*0.85 || frac > 1 {
			t.Fatalf("crop area fraction %v outside (0.2, 1)", frac)
		}
		if ratio := float64(cw) / float64(ch); ratio < 0.75*0.85 || ratio > 4.0/3/0.85 {
			t.Fatalf("crop ratio %v outside (3/4, 4/3)", ratio)
		}
		sum += frac
	}
	// Uniform area in [0.2,1] has mean 0.6; rejected large crops pull it lower.
	if mean := sum / n; mean < 0.45 || mean > 0.65 {
		t.Fatalf("mean crop fraction %v", mean)
	}
}

func TestEvalAndFlip(t *testing.T) {
	ds := synth(2, 3, 8, 8)
	r := Recipe{Name: "flip", FlipP: 1}
	a, err := NewAugmenter(r, 3, 8, 8)
	if err != nil {
		t.Fatal(err)
	}
	ev := make([]float32, a.OutSize())
	a.Eval(ev, ds.Image(1))
	if !equalF(ev, ds.ImageFloat(1, nil)) {
		t.Fatal("eval with no normalisation is not the identity")
	}
	fl := make([]float32, a.OutSize())
	a.Augment(fl, ds.Image(1), rand.New(rand.NewPCG(1, 1)))
	for c := 0; c < 3; c++ {
		for y := 0; y < 8; y++ {
			for x := 0; x < 8; x++ {
				if fl[c*64+y*8+x] != ev[c*64+y*8+7-x] {
					t.Fatalf("flip mismatch at %d,%d,%d", c, y, x)
				}
			}
		}
	}
	// Normalisation: a recipe's eval view has mean (v - mean)/std.
	g := SimSiamGray28()
	g.Size = 0 // keep the 8x8 input size
	ag, _ := NewAugmenter(g, 1, 8, 8)
	img := make([]uint8, 64)
	for i := range img {
		img[i] = 255
	}
	out := make([]float32, 64)
	ag.Eval(out, img)
	want := (1 - FashionMNISTMean[0]) / FashionMNISTStd[0]
	if math.Abs(float64(out[5]-want)) > 1e-5 {
		t.Fatalf("normalised %v, want %v", out[5], want)
	}
}

func TestColorOps(t *testing.T) {
	a, _ := NewAugmenter(Recipe{Name: "ops"}, 3, 4, 4)
	base := make([]float32, 48)
	rng := rand.New(rand.NewPCG(5, 6))
	for i := range base {
		base[i] = rng.Float32()
	}
	x := append([]float32{}, base...)
	a.hue(x, 0)
	for i := range x {
		if math.Abs(float64(x[i]-base[i])) > 1e-5 {
			t.Fatalf("hue shift 0 changed value %d: %v -> %v", i, base[i], x[i])
		}
	}
	x = append(x[:0], base...)
	a.hue(x, 1.0/3) // a third of a turn maps pure red to pure green
	copy(x, []float32{1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	a.hue(x, 1.0/3)
	if math.Abs(float64(x[0])) > 1e-5 || math.Abs(float64(x[16]-1)) > 1e-5 || math.Abs(float64(x[32])) > 1e-5 {
		t.Fatalf("red shifted by 1/3 turn = %v %v %v, want green", x[0], x[16], x[32])
	}
	x = append(x[:0], base...)
	a.grayscale(x)
	for i := 0; i < 16; i++ {
		if x[i] != x[16+i] || x[i] != x[32+i] {
			t.Fatal("grayscale channels differ")
		}
	}
	x = append(x[:0], base...)
	a.saturation(x, 1)
	a.contrast(x, 1)
	for i := range x {
		if math.Abs(float64(x[i]-base[i])) > 1e-6 {
			t.Fatal("factor 1 saturation/contrast changed the view")
		}
	}
	for i := range x {
		x[i] = 0.3
	}
	a.blur(x, 1.5)
	for i := range x {
		if math.Abs(float64(x[i]-0.3)) > 1e-5 {
			t.Fatal("blur changed a constant image")
		}
	}
	if blurKernelSize(224) != 23 || blurKernelSize(32) != 3 || blurKernelSize(64) != 7 {
		t.Fatal("kernel sizes")
	}
	for i, want := range map[int]int{-1: 1, -3: 3, 4: 2, 5: 1, 0: 0} {
		if got := reflect(i, 4); got != want {
			t.Fatalf("reflect(%d, 4) = %d, want %d", i, got, want)
		}
	}
}

func TestRecipeValidate(t *testing.T) {
	for _, r := range []Recipe{SimSiamGray28(), SimSiamColor32(), SimSiamImageNet(64), SimSiamColor32().Probe()} {
		if err := r.Validate(len(r.Mean)); err != nil {
			t.Errorf("%s: %v", r.Name, err)
		}
	}
	bad := []Recipe{
		{Name: "scale", ScaleMin: 0.5, ScaleMax: 0.2, RatioMin: 1, RatioMax: 1},
		{Name: "p", FlipP: 2},
		{Name: "hue", Hue: 0.6},
		{Name: "blur", BlurP: 0.5},
		{Name: "std", Std: []float32{0}},
		{Name: "mean", Mean: []float32{1, 2}},
	}
	for _, r := range bad {
		if err := r.Validate(3); err == nil {
			t.Errorf("%s: accepted", r.Name)
		}
	}
	ds := synth(4, 3, 96, 96)
	if r := RecipeFor(ds); r.Size != 96 || r.BlurP == 0 || len(r.Mean) != 3 {
		t.Fatalf("RecipeFor(96px colour) = %+v", r)
	}
}

func BenchmarkAugmentColor32(b *testing.B) {
	ds := synth(64, 3, 32, 32)
	a, _ := NewAugmenter(SimSiamColor32(), 3, 32, 32)
	out := make([]float32, a.OutSize())
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; b.Loop(); i++ {
		a.Augment(out, ds.Image(i%64), rng)
	}
}

func BenchmarkAugmentGray28(b *testing.B) {
	ds := synth(64, 1, 28, 28)
	a, _ := NewAugmenter(SimSiamGray28(), 1, 28, 28)
	out := make([]float32, a.OutSize())
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; b.Loop(); i++ {
		a.Augment(out, ds.Image(i%64), rng)
	}
}

// refHue is a direct transcription of torchvision's _rgb2hsv / _hsv2rgb.
func refHue(r, g, b, h float64) (float64, float64, float64) {
	maxc, minc := math.Max(r, math.Max(g, b)), math.Min(r, math.Min(g, b))
	cr := maxc - minc
	if cr == 0 {
		return r, g, b
	}
	v, s := maxc, cr/maxc
	var hh float64
	switch maxc {
	case r:
		hh = (g - b) / cr
	case g:
		hh = 2 + (b-r)/cr
	default:
		hh = 4 + (r-g)/cr
	}
	hh = hh/6 + h
	hh -= math.Floor(hh)
	i := math.Floor(hh * 6)
	f := hh*6 - i
	p, q, t := v*(1-s), v*(1-s*f), v*(1-s*(1-f))
	switch int(i) % 6 {
	case 0:
		return v, t, p
	case 1:
		return q, v, p
	case 2:
		return p, v, t
	case 3:
		return p, q, v
	case 4:
		return t, p, v
	}
	return v, p, q
}

func TestHueMatchesReference(t *testing.T) {
	a, _ := NewAugmenter(Recipe{Name: "hue"}, 3, 16, 16)
	rng := rand.New(rand.NewPCG(9, 9))
	x := make([]float32, 3*256)
	for trial := 0; trial < 50; trial++ {
		for i := range x {
			x[i] = rng.Float32()
		}
		base := append([]float32{}, x...)
		h := float32(rng.Float64()-0.5) * 0.99
		a.hue(x, h)
		for i := 0; i < 256; i++ {
			wr, wg, wb := refHue(float64(base[i]), float64(base[256+i]), float64(base[512+i]), float64(h))
			for c, w := range []float64{wr, wg, wb} {
				if d := math.Abs(float64(x[c*256+i]) - w); d > 1e-5 {
					t.Fatalf("pixel %d channel %d: %v, reference %v (shift %v)", i, c, x[c*256+i], w, h)
				}
			}
		}
	}
}

// TestBlurMatchesDirectForm: the padded, four-wide blur computes exactly
// (bit for bit) the direct form sum_j w[j]*x[reflect(i+j-rad)], in tap order,
// over the kernel blur uses, for odd and even sides and small and large sigma.
func TestBlurMatchesDirectForm(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 9))
	for _, side := range []int{7, 32, 65, 224} {
		a, err := NewAugmenter(Recipe{Name: "blur", Size: side}, 3, side, side)
		if err != nil {
			t.Fatal(err)
		}
		for _, sigma := range []float64{0.1, 0.7, 2} {
			x := make([]float32, 3*side*side)
			for i := range x {
				x[i] = rng.Float32()
			}
			want := directBlur(x, side, sigma)
			a.blur(x, sigma)
			if !equalF(x, want) {
				t.Fatalf("side %d sigma %v: blur differs from the direct form", side, sigma)
			}
		}
	}
}

// directBlur is the reference: the kernel of blur (trimmed the same way),
// applied with a reflect call per tap.
func directBlur(x []float32, side int, sigma float64) []float32 {
	k := blurKernelSize(side)
	rad := k / 2
	var wts []float32
	var sum float32
	for i := -rad; i <= rad; i++ {
		v := float32(math.Exp(-float64(i*i) / (2 * sigma * sigma)))
		wts = append(wts, v)
		sum += v
	}
	for i := range wts {
		wts[i] /= sum
	}
	for rad > 0 && wts[0] < blurNegligible {
		wts = wts[1 : len(wts)-1]
		rad--
	}
	n := side * side
	out := append([]float32(nil), x...)
	tmp := make([]float32, n)
	for c := 0; c < 3; c++ {
		p := out[c*n : (c+1)*n]
		for y := 0; y < side; y++ {
			for xx := 0; xx < side; xx++ {
				var s float32
				for j, wt := range wts {
					s += wt * p[y*side+reflect(xx+j-rad, side)]
				}
				tmp[y*side+xx] = s
			}
		}
		for y := 0; y < side; y++ {
			for xx := 0; xx < side; xx++ {
				var s float32
				for j, wt := range wts {
					s += wt * tmp[reflect(y+j-rad, side)*side+xx]
				}
				p[y*side+xx] = s
			}
		}
	}
	return out
}
