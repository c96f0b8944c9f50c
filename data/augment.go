package data

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// Recipe describes the random view transform of SimSiam / MoCo v2 (SPEC §3),
// applied in this order: RandomResizedCrop (bilinear, with the horizontal flip
// folded in), ColorJitter with probability JitterP, RandomGrayscale, Gaussian
// blur, then Normalize. A zero probability switches an op off. The same value
// also defines the evaluation transform (resize if needed, normalise only).
type Recipe struct {
	Name string // for logs and run records
	// Size is the output side (Size x Size); 0 keeps the input height and width.
	Size int
	// ScaleMin, ScaleMax bound the crop area as a fraction of the image;
	// RatioMin, RatioMax bound its aspect ratio (width/height). ScaleMin 0
	// disables cropping: the whole image is resized.
	ScaleMin, ScaleMax float64
	RatioMin, RatioMax float64
	// FlipP is the probability of a horizontal flip.
	FlipP float64
	// JitterP is the probability of applying ColorJitter with these strengths
	// (torchvision semantics; the four ops run in a random order). One-channel
	// images get brightness and contrast only.
	JitterP                               float64
	Brightness, Contrast, Saturation, Hue float64
	// GrayP is the probability of converting a 3-channel view to grayscale
	// (kept as 3 equal channels).
	GrayP float64
	// BlurP is the probability of a Gaussian blur with sigma drawn uniformly in
	// [BlurSigmaMin, BlurSigmaMax] and an odd kernel of about 10% of the side.
	BlurP                      float64
	BlurSigmaMin, BlurSigmaMax float64
	// Mean and Std normalise each channel of the [0,1] view: (x-mean)/std.
	// One value applies to every channel; nil means mean 0, std 1.
	Mean, Std []float32
}

// Normalisation statistics of common datasets (pixels scaled to [0,1]).
var (
	FashionMNISTMean = []float32{0.2860}
	FashionMNISTStd  = []float32{0.3530}
	CIFAR10Mean      = []float32{0.4914, 0.4822, 0.4465}
	CIFAR10Std       = []float32{0.2470, 0.2435, 0.2616}
	ImageNetMean     = []float32{0.485, 0.456, 0.406}
	ImageNetStd      = []float32{0.229, 0.224, 0.225}
)

// SimSiamGray28 is the recipe for 28x28 one-channel images (Fashion-MNIST):
// RandomResizedCrop scale (0.2, 1), flip p 0.5, no colour ops and no blur
// (blur mostly erases 28-pixel images); Fashion-MNIST normalisation.
func SimSiamGray28() Recipe {
	return Recipe{Name: "simsiam-gray28", Size: 28, ScaleMin: 0.2, ScaleMax: 1, RatioMin: 3.0 / 4, RatioMax: 4.0 / 3,
		FlipP: 0.5, Mean: FashionMNISTMean, Std: FashionMNISTStd}
}

// SimSiamColor32 is the common CIFAR SimSiam recipe for 32x32 colour images:
// crop scale (0.2, 1), ColorJitter(0.4, 0.4, 0.4, 0.1) p 0.8, grayscale p 0.2,
// flip p 0.5, no blur at this size; CIFAR-10 normalisation.
func SimSiamColor32() Recipe {
	return Recipe{Name: "simsiam-color32", Size: 32, ScaleMin: 0.2, ScaleMax: 1, RatioMin: 3.0 / 4, RatioMax: 4.0 / 3,
		FlipP: 0.5, JitterP: 0.8, Brightness: 0.4, Contrast: 0.4, Saturation: 0.4, Hue: 0.1, GrayP: 0.2,
		Mean: CIFAR10Mean, Std: CIFAR10Std}
}

// SimSiamImageNet is the full MoCo v2 recipe of the paper (SPEC §3) at the
// given side: SimSiamColor32 plus Gaussian blur sigma in [0.1, 2] with p 0.5
// and ImageNet normalisation; meant for ImageFolder trees at 64 px and up.
func SimSiamImageNet(size int) Recipe {
	r := SimSiamColor32()
	r.Name, r.Size = fmt.Sprintf("simsiam-imagenet%d", size), size
	r.BlurP, r.BlurSigmaMin, r.BlurSigmaMax = 0.5, 0.1, 2
	r.Mean, r.Std = ImageNetMean, ImageNetStd
	return r
}

// RecipeFor picks the preset matching ds (one channel: SimSiamGray28; colour
// up to 64 px: SimSiamColor32; larger: SimSiamImageNet), sized to ds.H and
// normalised with ds's own channel statistics.
func RecipeFor(ds *Dataset) Recipe {
	var r Recipe
	switch {
	case ds.C == 1:
		r = SimSiamGray28()
	case ds.H <= 64:
		r = SimSiamColor32()
	default:
		r = SimSiamImageNet(ds.H)
	}
	r.Size = ds.H
	return r.WithStats(ds.ChannelStats())
}

// WithStats returns r normalising with the given per-channel mean and std.
func (r Recipe) WithStats(mean, std []float32) Recipe {
	r.Mean, r.Std = mean, std
	return r
}

// Probe returns the linear-probe training transform with r's size and
// normalisation: RandomResizedCrop with the torchvision default scale
// (0.08, 1) and a horizontal flip, nothing else (SPEC §6).
func (r Recipe) Probe() Recipe {
	return Recipe{Name: r.Name + "-probe", Size: r.Size, ScaleMin: 0.08, ScaleMax: 1, RatioMin: 3.0 / 4, RatioMax: 4.0 / 3,
		FlipP: 0.5, Mean: r.Mean, Std: r.Std}
}

// OutShape returns the view shape produced from a c x h x w image.
func (r Recipe) OutShape(c, h, w int) (int, int, int) {
	if r.Size > 0 {
		return c, r.Size, r.Size
	}
	return c, h, w
}

// Validate checks the recipe's ranges and that Mean/Std fit c channels.
func (r Recipe) Validate(c int) error {
	bad := func(what string, v ...any) error {
		return fmt.Errorf("data: recipe %s: %s", r.Name, fmt.Sprintf(what, v...))
	}
	if r.Size < 0 {
		return bad("negative size %d", r.Size)
	}
	if r.ScaleMin != 0 && !(r.ScaleMin > 0 && r.ScaleMin <= r.ScaleMax && r.ScaleMax <= 1) {
		return bad("crop scale (%v, %v) outside 0 < min <= max <= 1", r.ScaleMin, r.ScaleMax)
	}
	if r.ScaleMin != 0 && !(r.RatioMin > 0 && r.RatioMin <= r.RatioMax) {
		return bad("crop ratio (%v, %v) not 0 < min <= max", r.RatioMin, r.RatioMax)
	}
	for _, p := range []float64{r.FlipP, r.JitterP, r.GrayP, r.BlurP} {
		if !(p >= 0 && p <= 1) {
			return bad("probability %v outside [0, 1]", p)
		}
	}
	if r.Brightness < 0 || r.Contrast < 0 || r.Saturation < 0 || !(r.Hue >= 0 && r.Hue <= 0.5) {
		return bad("jitter strengths must be >= 0 and hue <= 0.5")
	}
	if r.BlurP > 0 && !(r.BlurSigmaMin > 0 && r.BlurSigmaMin <= r.BlurSigmaMax) {
		return bad("blur sigma range (%v, %v) not 0 < min <= max", r.BlurSigmaMin, r.BlurSigmaMax)
	}
	for _, s := range [][]float32{r.Mean, r.Std} {
		if len(s) != 0 && len(s) != 1 && len(s) != c {
			return bad("%d normalisation values for %d channels", len(s), c)
		}
	}
	for _, s := range r.Std {
		if !(s > 0) {
			return bad("std %v must be > 0", s)
		}
	}
	return nil
}

// Augmenter applies a Recipe to images of one input shape. It owns scratch
// buffers, so use one per goroutine; it allocates nothing per image.
type Augmenter struct {
	r          Recipe
	c, h, w    int // input shape
	oh, ow     int // output side
	scale, off []float32
	x0, x1     []int32 // bilinear column tables
	wx         []float32
	tmp        []float32 // blur scratch
	pad, acc   []float32 // blur row scratch
}

// NewAugmenter prepares an Augmenter for c x h x w uint8 images.
func NewAugmenter(r Recipe, c, h, w int) (*Augmenter, error) {
	if err := r.Validate(c); err != nil {
		return nil, err
	}
	if c <= 0 || h <= 0 || w <= 0 {
		return nil, fmt.Errorf("data: augmenter: bad input shape %dx%dx%d", c, h, w)
	}
	_, oh, ow := r.OutShape(c, h, w)
	a := &Augmenter{r: r, c: c, h: h, w: w, oh: oh, ow: ow,
		scale: make([]float32, c), off: make([]float32, c),
		x0: make([]int32, ow), x1: make([]int32, ow), wx: make([]float32, ow),
		tmp: make([]float32, oh*ow)}
	rad := blurKernelSize(min(oh, ow)) / 2
	a.pad, a.acc = make([]float32, ow+2*rad), make([]float32, ow)
	for i := 0; i < c; i++ {
		m, s := float32(0), float32(1)
		if len(r.Mean) > 0 {
			m = r.Mean[min(i, len(r.Mean)-1)]
		}
		if len(r.Std) > 0 {
			s = r.Std[min(i, len(r.Std)-1)]
		}
		a.scale[i], a.off[i] = 1/s, -m/s
	}
	return a, nil
}

// OutSize returns the number of float32 values in one output view.
func (a *Augmenter) OutSize() int { return a.c * a.oh * a.ow }

// Augment writes one random view of src (c*h*w bytes, CHW) into dst
// (OutSize values, CHW), drawing every random choice from rng.
func (a *Augmenter) Augment(dst []float32, src []uint8, rng *rand.Rand) {
	var p viewPlan
	a.plan(&p, a.h, a.w, rng)
	dst = dst[:a.OutSize()]
	a.resample(dst, src, p.top, p.left, p.ch, p.cw, p.flip)
	a.finish(dst, &p)
}

// viewPlan holds every random choice of one view, drawn before any pixel is
// touched, so that a streamed image can be decoded once at the resolution its
// two views need.
type viewPlan struct {
	top, left, ch, cw int  // crop box in input pixels
	flip              bool // horizontal mirror
	jitter            bool // ColorJitter applied
	order             [4]int
	factor            [4]float32 // brightness, contrast, saturation factors and hue shift
	gray              bool
	blur              bool
	sigma             float64
}

// plan draws the random choices of one view of an h x w input from rng, in
// the order Augment has always drawn them (crop, flip, jitter, grayscale,
// blur), so the views of in-memory datasets are unchanged.
func (a *Augmenter) plan(p *viewPlan, h, w int, rng *rand.Rand) {
	r := &a.r
	p.top, p.left, p.ch, p.cw = 0, 0, h, w
	if r.ScaleMin > 0 {
		p.top, p.left, p.ch, p.cw = a.cropParams(rng, h, w)
	}
	p.flip = r.FlipP > 0 && rng.Float64() < r.FlipP
	p.jitter = r.JitterP > 0 && rng.Float64() < r.JitterP
	if p.jitter {
		p.order = [4]int{0, 1, 2, 3}
		rng.Shuffle(4, func(i, j int) { p.order[i], p.order[j] = p.order[j], p.order[i] })
		for _, op := range p.order {
			switch op {
			case 0:
				if r.Brightness > 0 {
					p.factor[0] = factor(rng, r.Brightness)
				}
			case 1:
				if r.Contrast > 0 {
					p.factor[1] = factor(rng, r.Contrast)
				}
			case 2:
				if r.Saturation > 0 {
					p.factor[2] = factor(rng, r.Saturation)
				}
			case 3:
				if r.Hue > 0 {
					p.factor[3] = float32(-r.Hue + rng.Float64()*2*r.Hue)
				}
			}
		}
	}
	p.gray = r.GrayP > 0 && rng.Float64() < r.GrayP && a.c == 3
	p.blur = r.BlurP > 0 && rng.Float64() < r.BlurP
	if p.blur {
		p.sigma = r.BlurSigmaMin + rng.Float64()*(r.BlurSigmaMax-r.BlurSigmaMin)
	}
}

// viewDecoded writes the view planned by p (crop box in d's pixels) of a
// decoded 3-channel image into dst (OutSize values).
func (a *Augmenter) viewDecoded(dst []float32, d *decoded, p *viewPlan, t *sampleTable) {
	dst = dst[:a.OutSize()]
	d.sampleView(dst, a.ow, a.oh, float64(p.left), float64(p.top), float64(p.cw), float64(p.ch), p.flip, t)
	a.finish(dst, p)
}

// planLevel is the pyramid level (log2 of the usable shrink) of a planned view.
func (a *Augmenter) planLevel(p *viewPlan) int {
	return pyramidLevel(float64(p.cw), float64(p.ch), a.ow, a.oh)
}

// finish applies a plan's colour operations, blur and normalisation to a
// resampled [0,1] view in place.
func (a *Augmenter) finish(dst []float32, p *viewPlan) {
	if p.jitter {
		a.jitter(dst, p)
	}
	if p.gray {
		a.grayscale(dst)
	}
	if p.blur {
		a.blur(dst, p.sigma)
	}
	a.normalise(dst)
}

// Eval writes the deterministic evaluation view of src into dst: the whole
// image resized to the output size when it differs (bilinear), then normalised.
func (a *Augmenter) Eval(dst []float32, src []uint8) {
	dst = dst[:a.OutSize()]
	a.resample(dst, src, 0, 0, a.h, a.w, false)
	a.normalise(dst)
}

// cropParams samples a RandomResizedCrop box of an h x w input exactly as torchvision does:
// ten tries at a random area fraction and log-uniform aspect ratio, then a
// centre crop clamped to the ratio range.
func (a *Augmenter) cropParams(rng *rand.Rand, h, w int) (top, left, ch, cw int) {
	r := &a.r
	area := float64(h) * float64(w)
	lr0, lr1 := math.Log(r.RatioMin), math.Log(r.RatioMax)
	for range 10 {
		target := area * (r.ScaleMin + rng.Float64()*(r.ScaleMax-r.ScaleMin))
		ar := math.Exp(lr0 + rng.Float64()*(lr1-lr0))
		cw = int(math.Round(math.Sqrt(target * ar)))
		ch = int(math.Round(math.Sqrt(target / ar)))
		if cw > 0 && cw <= w && ch > 0 && ch <= h {
			top = rng.IntN(h - ch + 1)
			left = rng.IntN(w - cw + 1)
			return top, left, ch, cw
		}
	}
	in := float64(w) / float64(h)
	switch {
	case in < r.RatioMin:
		cw, ch = w, int(math.Round(float64(w)/r.RatioMin))
	case in > r.RatioMax:
		ch, cw = h, int(math.Round(float64(h)*r.RatioMax))
	default:
		cw, ch = w, h
	}
	ch, cw = min(max(ch, 1), h), min(max(cw, 1), w)
	return (h - ch) / 2, (w - cw) / 2, ch, cw
}

// resample bilinearly resizes the box (top, left, ch, cw) of src to the output
// size (half-pixel centres, edges clamped inside the box, no antialiasing),
// optionally mirrored, writing values in [0,1].
func (a *Augmenter) resample(dst []float32, src []uint8, top, left, ch, cw int, flip bool) {
	oh, ow := a.oh, a.ow
	sx := float32(cw) / float32(ow)
	for ox := 0; ox < ow; ox++ {
		x := (float32(ox)+0.5)*sx - 0.5
		x = min(max(x, 0), float32(cw-1))
		x0 := int32(x)
		x1 := min(x0+1, int32(cw-1))
		o := ox
		if flip {
			o = ow - 1 - ox
		}
		a.x0[o], a.x1[o], a.wx[o] = int32(left)+x0, int32(left)+x1, x-float32(x0)
	}
	sy := float32(ch) / float32(oh)
	plane := a.h * a.w
	x0s, x1s, wxs := a.x0[:ow], a.x1[:ow], a.wx[:ow]
	for c := 0; c < a.c; c++ {
		sp := src[c*plane : (c+1)*plane]
		dp := dst[c*oh*ow : (c+1)*oh*ow]
		for oy := 0; oy < oh; oy++ {
			y := (float32(oy)+0.5)*sy - 0.5
			y = min(max(y, 0), float32(ch-1))
			y0 := int(y)
			y1 := min(y0+1, ch-1)
			wy := y - float32(y0)
			r0 := sp[(top+y0)*a.w : (top+y0+1)*a.w]
			r1 := sp[(top+y1)*a.w : (top+y1+1)*a.w]
			row := dp[oy*ow : (oy+1)*ow]
			for ox := range row {
				i0, i1, wx := x0s[ox], x1s[ox], wxs[ox]
				a0, a1 := unit[r0[i0]], unit[r0[i1]]
				b0, b1 := unit[r1[i0]], unit[r1[i1]]
				t := a0 + wx*(a1-a0)
				row[ox] = t + wy*(b0+wx*(b1-b0)-t)
			}
		}
	}
}

// unit maps a byte to its [0,1] value; a table lookup beats int-to-float
// conversion in the resampling loop.
var unit = func() (t [256]float32) {
	for i := range t {
		t[i] = float32(i) / 255
	}
	return t
}()

// normalise maps each channel in place: x*scale + off = (x-mean)/std.
func (a *Augmenter) normalise(dst []float32) {
	n := a.oh * a.ow
	for c := 0; c < a.c; c++ {
		s, o := a.scale[c], a.off[c]
		p := dst[c*n : (c+1)*n]
		for i, v := range p {
			p[i] = v*s + o
		}
	}
}
