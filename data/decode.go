package data

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/draw"
	"image/png"
	"math"
	"sync/atomic"

	"github.com/siam-ssl/siam/data/internal/jpeg"

	_ "golang.org/x/image/bmp"  // registers BMP, one of torchvision's ImageFolder extensions
	_ "golang.org/x/image/tiff" // registers TIFF
	_ "golang.org/x/image/webp" // registers WebP
)

// MaxImagePixels is the default bound on the width x height of an image file
// that any decode path (streamed, in memory, packing) decodes; larger headers
// are treated as unreadable files before any pixel memory is allocated (a
// decompression bomb must not take the memory of every worker). The bound is
// changed with SetMaxImagePixels.
const MaxImagePixels = 1 << 27

// maxPixels is the bound in force (0: MaxImagePixels).
var maxPixels atomic.Int64

// SetMaxImagePixels sets the largest width x height an image file may claim
// in its header (n <= 0 restores MaxImagePixels) and returns the previous bound.
func SetMaxImagePixels(n int64) (previous int64) {
	if n <= 0 {
		n = 0
	}
	previous = ImagePixelLimit()
	maxPixels.Store(n)
	return previous
}

// ImagePixelLimit returns the largest width x height an image file may claim.
func ImagePixelLimit() int64 {
	if n := maxPixels.Load(); n > 0 {
		return n
	}
	return MaxImagePixels
}

// plane is one channel of a decoded image: w x h bytes, rows stride apart,
// with fx (fy) plane pixels per image pixel horizontally (vertically): 1 for
// full-resolution planes, 1/2 for 4:2:0 chroma, and halved again for every
// pyramid level.
type plane struct {
	pix          []uint8
	stride, w, h int
	fx, fy       float64
}

// colourKind says how the planes of a decoded image map to RGB.
type colourKind int

const (
	kindGray  colourKind = iota // one plane, replicated to R, G and B
	kindRGB                     // three planes R, G, B
	kindYCbCr                   // three planes Y, Cb, Cr (JFIF full range)
)

// decoded is one image file decoded into planes, with a lazily built pyramid
// of 2x2 box-averaged levels so that a view that shrinks its crop k-fold
// samples a level about k times smaller instead of aliasing. It is owned by
// one worker and reused from image to image.
type decoded struct {
	w, h   int // image size in pixels (in the file)
	kind   colourKind
	n      int        // number of planes (1 or 3)
	shift  int        // the planes were decoded at 1/2^shift of the size (JPEG DCT scaling)
	levels [][3]plane // levels[0] = the decoded planes, levels[j] halved j times
	bufs   [][3][]uint8
	rgb    [3][]uint8   // planar copy of images that are not YCbCr or Gray
	jpeg   jpeg.Decoder // reused JPEG decoder (no garbage per image)
}

// imageHeader returns the format ("jpeg", "png", ...) and size of an encoded
// image without decoding its pixels; an empty image or one claiming more
// than ImagePixelLimit pixels is an error. Every decode path calls it before
// it allocates.
func imageHeader(raw []byte) (format string, w, h int, err error) {
	cfg, format, err := image.DecodeConfig(bytes.NewReader(raw))
	if err != nil {
		return "", 0, 0, err
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return "", 0, 0, fmt.Errorf("empty %s image (%dx%d)", format, cfg.Width, cfg.Height)
	}
	if lim := ImagePixelLimit(); int64(cfg.Width)*int64(cfg.Height) > lim {
		return "", 0, 0, fmt.Errorf("%s image %dx%d is larger than %d pixels (the limit, see --max-image-pixels)", format, cfg.Width, cfg.Height, lim)
	}
	return format, cfg.Width, cfg.Height, nil
}

// decode decodes raw (whose header said format, w x h) into d's planes. A
// JPEG is decoded at 1/2^shift of its size (shift 0..3) by DCT scaling when
// its colour model allows; d.shift says what was done.
func (d *decoded) decode(raw []byte, format string, w, h, shift int) error {
	var img image.Image
	var err error
	d.shift = 0
	switch format {
	case "jpeg":
		img, err = d.jpeg.Decode(bytes.NewReader(raw), 1<<shift)
		if err == nil && shift > 0 {
			b := img.Bounds()
			if b.Dx() == (w+(1<<shift)-1)>>shift && b.Dy() == (h+(1<<shift)-1)>>shift && (b.Dx() != w || b.Dy() != h) {
				d.shift = shift
			}
		}
	case "png":
		img, err = png.Decode(bytes.NewReader(raw))
	default:
		img, _, err = image.Decode(bytes.NewReader(raw))
	}
	if err != nil {
		return err
	}
	b := img.Bounds()
	if d.shift == 0 && (b.Dx() != w || b.Dy() != h) {
		return fmt.Errorf("decoded %dx%d, header said %dx%d", b.Dx(), b.Dy(), w, h)
	}
	d.w, d.h = w, h
	d.levels = d.levels[:0]
	var l0 [3]plane
	sc := 1 / float64(int(1)<<d.shift) // plane pixels per image pixel at level 0
	switch m := img.(type) {
	case *image.YCbCr:
		fx, fy, ok := chromaScale(m.SubsampleRatio)
		if !ok {
			d.setRGB(m)
			break
		}
		cw, ch := m.Rect.Dx(), m.Rect.Dy()
		ccw, cch := int(math.Ceil(float64(cw)*fx)), int(math.Ceil(float64(ch)*fy))
		d.kind, d.n = kindYCbCr, 3
		l0[0] = plane{pix: m.Y, stride: m.YStride, w: cw, h: ch, fx: sc, fy: sc}
		l0[1] = plane{pix: m.Cb, stride: m.CStride, w: ccw, h: cch, fx: fx * sc, fy: fy * sc}
		l0[2] = plane{pix: m.Cr, stride: m.CStride, w: ccw, h: cch, fx: fx * sc, fy: fy * sc}
		if !planesFit(l0[:3]) {
			return errors.New("inconsistent YCbCr planes")
		}
		d.levels = append(d.levels, l0)
		return nil
	case *image.Gray:
		d.kind, d.n = kindGray, 1
		l0[0] = plane{pix: m.Pix, stride: m.Stride, w: b.Dx(), h: b.Dy(), fx: sc, fy: sc}
		if !planesFit(l0[:1]) {
			return errors.New("inconsistent gray plane")
		}
		d.levels = append(d.levels, l0)
		return nil
	default:
		d.setRGB(img)
	}
	d.kind, d.n = kindRGB, 3
	for c := range 3 {
		l0[c] = plane{pix: d.rgb[c], stride: b.Dx(), w: b.Dx(), h: b.Dy(), fx: sc, fy: sc}
	}
	d.levels = append(d.levels, l0)
	return nil
}

// planesFit reports whether every plane's rows lie inside its pixel slice.
func planesFit(ps []plane) bool {
	for _, p := range ps {
		if p.w <= 0 || p.h <= 0 || p.stride < p.w || len(p.pix) < (p.h-1)*p.stride+p.w {
			return false
		}
	}
	return true
}

// chromaScale returns the chroma plane resolution relative to luma.
func chromaScale(r image.YCbCrSubsampleRatio) (fx, fy float64, ok bool) {
	switch r {
	case image.YCbCrSubsampleRatio444:
		return 1, 1, true
	case image.YCbCrSubsampleRatio422:
		return 0.5, 1, true
	case image.YCbCrSubsampleRatio420:
		return 0.5, 0.5, true
	case image.YCbCrSubsampleRatio440:
		return 1, 0.5, true
	case image.YCbCrSubsampleRatio411:
		return 0.25, 1, true
	case image.YCbCrSubsampleRatio410:
		return 0.25, 0.5, true
	}
	return 0, 0, false
}

// setRGB converts any image to three full-resolution R, G, B planes (alpha
// dropped, as PIL's convert("RGB") does for non-premultiplied images).
func (d *decoded) setRGB(img image.Image) {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	for c := range d.rgb {
		d.rgb[c] = grow(d.rgb[c], w*h)
	}
	r, g, bl := d.rgb[0], d.rgb[1], d.rgb[2]
	switch m := img.(type) {
	case *image.NRGBA:
		for y := 0; y < h; y++ {
			row := m.Pix[y*m.Stride : y*m.Stride+4*w]
			for x := 0; x < w; x++ {
				r[y*w+x], g[y*w+x], bl[y*w+x] = row[4*x], row[4*x+1], row[4*x+2]
			}
		}
	case *image.RGBA:
		for y := 0; y < h; y++ {
			row := m.Pix[y*m.Stride : y*m.Stride+4*w]
			for x := 0; x < w; x++ {
				r[y*w+x], g[y*w+x], bl[y*w+x] = row[4*x], row[4*x+1], row[4*x+2]
			}
		}
	default:
		rgba := image.NewNRGBA(image.Rect(0, 0, w, h))
		draw.Draw(rgba, rgba.Rect, img, b.Min, draw.Src)
		d.setRGB(rgba)
	}
}

// grow returns buf resized to n bytes, reallocating only when too small.
func grow(buf []uint8, n int) []uint8 {
	if cap(buf) < n {
		return make([]uint8, n)
	}
	return buf[:n]
}

// level returns pyramid level j (j 2x2 halvings of level 0), building the
// missing levels; it stops early when a plane would become empty, so the
// returned level may be coarser than level 0 by less than 2^j.
func (d *decoded) level(j int) [3]plane {
	for len(d.levels) <= j {
		prev := d.levels[len(d.levels)-1]
		if prev[0].w < 2 || prev[0].h < 2 {
			break
		}
		k := len(d.levels)
		for len(d.bufs) < k {
			d.bufs = append(d.bufs, [3][]uint8{})
		}
		var next [3]plane
		for c := 0; c < d.n; c++ {
			p := prev[c]
			w, h := (p.w+1)/2, (p.h+1)/2
			d.bufs[k-1][c] = grow(d.bufs[k-1][c], w*h)
			next[c] = plane{pix: d.bufs[k-1][c], stride: w, w: w, h: h, fx: p.fx / 2, fy: p.fy / 2}
			halve(next[c], p)
		}
		d.levels = append(d.levels, next)
	}
	return d.levels[min(j, len(d.levels)-1)]
}

// halve writes the 2x2 box average of src into dst (ceil(w/2) x ceil(h/2)); an
// odd last row or column averages the pixels it has.
func halve(dst, src plane) {
	for y := 0; y < dst.h; y++ {
		r0 := src.pix[2*y*src.stride:][:src.w]
		r1 := r0
		if 2*y+1 < src.h {
			r1 = src.pix[(2*y+1)*src.stride:][:src.w]
		}
		out := dst.pix[y*dst.stride:][:dst.w]
		for x := range out {
			x0, x1 := 2*x, min(2*x+1, src.w-1)
			out[x] = uint8((uint(r0[x0]) + uint(r0[x1]) + uint(r1[x0]) + uint(r1[x1]) + 2) >> 2)
		}
	}
}

// pyramidLevel returns the level a box of bw x bh image pixels shown on an
// ow x oh view should be sampled from: the largest j with 2^j <= the
// shrink factor, at most 3 (a JPEG decoded at 1/2^j by DCT scaling, or the
// pyramid's box filter, then anti-aliases the bilinear sampling).
func pyramidLevel(bw, bh float64, ow, oh int) int {
	f := min(bw/float64(ow), bh/float64(oh))
	j := 0
	for j < 3 && f >= float64(int(2)<<j) {
		j++
	}
	return j
}

// sampleTable holds the bilinear column positions of one plane for one view.
type sampleTable struct {
	x0, x1 []int32
	wx     []float32
}

func (t *sampleTable) size(n int) {
	if cap(t.x0) < n {
		t.x0, t.x1, t.wx = make([]int32, n), make([]int32, n), make([]float32, n)
	}
	t.x0, t.x1, t.wx = t.x0[:n], t.x1[:n], t.wx[:n]
}

// axis maps output sample o (of n over the box [b0, b0+bl) in image pixels)
// to plane coordinates with f plane pixels per image pixel: the two source
// indices and the weight of the second, clamped inside the box and the plane.
func axis(o, n int, b0, bl, f float64, size int) (int32, int32, float32) {
	p := (b0+(float64(o)+0.5)*bl/float64(n))*f - 0.5
	lo, hi := b0*f, (b0+bl)*f-1
	p = min(max(p, lo), hi)
	p = min(max(p, 0), float64(size-1))
	i0 := int32(p)
	i1 := min(i0+1, int32(size-1))
	return i0, i1, float32(p - float64(i0))
}

// samplePlane bilinearly samples the box (bx, by, bw, bh), in image pixels,
// of plane p onto an ow x oh grid, writing values in [0, 255] to dst, row
// major, mirrored left-right when flip.
func samplePlane(dst []float32, ow, oh int, p plane, bx, by, bw, bh float64, flip bool, t *sampleTable) {
	t.size(ow)
	for ox := 0; ox < ow; ox++ {
		o := ox
		if flip {
			o = ow - 1 - ox
		}
		t.x0[o], t.x1[o], t.wx[o] = axis(ox, ow, bx, bw, p.fx, p.w)
	}
	x0s, x1s, wxs := t.x0[:ow], t.x1[:ow], t.wx[:ow]
	for oy := 0; oy < oh; oy++ {
		y0, y1, wy := axis(oy, oh, by, bh, p.fy, p.h)
		r0 := p.pix[int(y0)*p.stride:][:p.w]
		r1 := p.pix[int(y1)*p.stride:][:p.w]
		row := dst[oy*ow : (oy+1)*ow]
		for ox := range row {
			i0, i1, wx := x0s[ox], x1s[ox], wxs[ox]
			a0, a1 := float32(r0[i0]), float32(r0[i1])
			b0, b1 := float32(r1[i0]), float32(r1[i1])
			t := a0 + wx*(a1-a0)
			row[ox] = t + wy*(b0+wx*(b1-b0)-t)
		}
	}
}

// sampleView writes the box (bx, by, bw, bh) of d, in image pixels, as a
// 3 x oh x ow view with values in [0,1] into dst: each plane is sampled from
// the pyramid level suited to the shrink factor, then converted to RGB at
// the output resolution (so chroma is never upsampled to the full image).
func (d *decoded) sampleView(dst []float32, ow, oh int, bx, by, bw, bh float64, flip bool, t *sampleTable) {
	lv := d.level(max(pyramidLevel(bw, bh, ow, oh)-d.shift, 0))
	n := ow * oh
	for c := 0; c < d.n; c++ {
		samplePlane(dst[c*n:(c+1)*n], ow, oh, lv[c], bx, by, bw, bh, flip, t)
	}
	r, g, b := dst[:n], dst[n:2*n], dst[2*n:3*n]
	switch d.kind {
	case kindGray:
		for i, v := range r {
			v *= 1.0 / 255
			r[i], g[i], b[i] = v, v, v
		}
	case kindRGB:
		for i := range dst[:3*n] {
			dst[i] *= 1.0 / 255
		}
	case kindYCbCr:
		// JFIF full-range YCbCr -> RGB, then [0,255] -> [0,1].
		for i := range r {
			y, cb, cr := r[i], g[i]-128, b[i]-128
			r[i] = clamp01((y + 1.402*cr) * (1.0 / 255))
			g[i] = clamp01((y - 0.344136*cb - 0.714136*cr) * (1.0 / 255))
			b[i] = clamp01((y + 1.772*cb) * (1.0 / 255))
		}
	}
}

// evalBox returns the centre square, in image pixels, that the evaluation
// transform shows: the image resized so its shorter side is size*256/224
// (256 for 224, torchvision's Resize + CenterCrop convention), then the
// central size x size crop.
func evalBox(w, h, size int) (bx, by, bw, bh float64) {
	short := float64(min(w, h))
	resized := math.Round(float64(size) * 256 / 224)
	side := float64(size) * short / resized // crop side in image pixels
	return (float64(w) - side) / 2, (float64(h) - side) / 2, side, side
}
