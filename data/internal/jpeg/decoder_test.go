// Copyright 2026 The siam authors. Use of this source code is governed by
// the BSD-style licence in LICENSE.

package jpeg

import (
	"bytes"
	"image"
	"image/color"
	stdjpeg "image/jpeg"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

type testFile struct {
	name string
	data []byte
}

// goTestdata returns the JPEG files of the Go distribution's image tests
// (every subsampling ratio, progressive, restart markers, gray, RGB, CMYK),
// or none when the Go source tree is not installed.
func goTestdata(t testing.TB) []testFile {
	dir := filepath.Join(runtime.GOROOT(), "src", "image", "testdata")
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var out []testFile
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".jpeg") {
			b, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, testFile{e.Name(), b})
		}
	}
	return out
}

// encode makes a w x h JPEG of smooth colour (gray when gray).
func encode(t testing.TB, w, h, q int, gray bool) []byte {
	var img image.Image
	if gray {
		g := image.NewGray(image.Rect(0, 0, w, h))
		for i := range g.Pix {
			x, y := i%w, i/w
			g.Pix[i] = uint8(128 + 90*math.Sin(float64(x)/9)*math.Cos(float64(y)/13))
		}
		img = g
	} else {
		m := image.NewRGBA(image.Rect(0, 0, w, h))
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				m.SetRGBA(x, y, color.RGBA{uint8(x * 255 / w), uint8(y * 255 / h), uint8(128 + 100*math.Sin(float64(x+y)/12)), 255})
			}
		}
		img = m
	}
	var b bytes.Buffer
	if err := stdjpeg.Encode(&b, img, &stdjpeg.Options{Quality: q}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// samePixels compares two decoded images pixel by pixel (colour values).
func samePixels(a, b image.Image) bool {
	if !a.Bounds().Eq(b.Bounds()) {
		return false
	}
	r := a.Bounds()
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			if a.At(x, y) != b.At(x, y) {
				return false
			}
		}
	}
	return true
}

func allFiles(t *testing.T) []testFile {
	files := goTestdata(t)
	files = append(files, testFile{"gen-color", encode(t, 45, 31, 85, false)}, testFile{"gen-gray", encode(t, 17, 40, 60, true)})
	return files
}

// TestScaleOneMatchesStdlib: at scale 1 a reused Decoder gives exactly
// image/jpeg's pixels, for every file, in any order.
func TestScaleOneMatchesStdlib(t *testing.T) {
	var dec Decoder
	files := allFiles(t)
	for round := range 2 {
		for _, f := range files {
			want, werr := stdjpeg.Decode(bytes.NewReader(f.data))
			got, err := dec.Decode(bytes.NewReader(f.data), 1)
			if (err == nil) != (werr == nil) {
				t.Fatalf("%s: error %v, image/jpeg %v", f.name, err, werr)
			}
			if err == nil && !samePixels(got, want) {
				t.Fatalf("round %d: %s differs from image/jpeg", round, f.name)
			}
		}
	}
}

// TestScaledDecode: at 1/2, 1/4 and 1/8 the image has the reduced size and
// its luma is close to the box-averaged luma of the full decode (the reduced
// IDCT is a low-pass resampling, so it differs from a box filter by little).
func TestScaledDecode(t *testing.T) {
	var dec Decoder
	for _, f := range allFiles(t) {
		full, err := stdjpeg.Decode(bytes.NewReader(f.data))
		if err != nil {
			continue // the truncated file
		}
		fr := full.Bounds()
		for _, s := range []int{2, 4, 8} {
			got, err := dec.Decode(bytes.NewReader(f.data), s)
			if err != nil {
				t.Fatalf("%s at 1/%d: %v", f.name, s, err)
			}
			r := got.Bounds()
			luma := func(m image.Image) (pix []uint8, stride int, ok bool) {
				switch m := m.(type) {
				case *image.YCbCr:
					return m.Y, m.YStride, true
				case *image.Gray:
					return m.Pix, m.Stride, true
				}
				return nil, 0, false
			}
			gy, gs, ok := luma(got)
			if !ok {
				if !r.Eq(fr) {
					t.Fatalf("%s: %T scaled to %v", f.name, got, r)
				}
				continue // RGB and CMYK files decode at full size
			}
			if r.Dx() != (fr.Dx()+s-1)/s || r.Dy() != (fr.Dy()+s-1)/s {
				t.Fatalf("%s at 1/%d: %v from %v", f.name, s, r, fr)
			}
			fy, fs, _ := luma(full)
			var sum, n float64
			for y := 0; y < fr.Dy()/s; y++ {
				for x := 0; x < fr.Dx()/s; x++ {
					var box float64
					for dy := range s {
						for dx := range s {
							box += float64(fy[(y*s+dy)*fs+x*s+dx])
						}
					}
					sum += math.Abs(box/float64(s*s) - float64(gy[y*gs+x]))
					n++
				}
			}
			if mae := sum / n; mae > 4 {
				t.Errorf("%s at 1/%d: luma mean abs difference %.2f from the box-averaged full decode", f.name, s, mae)
			}
		}
	}
}

// TestDecoderReusesBuffers: after the first image, decoding another of at
// most the same size allocates only small bookkeeping, not pixels.
func TestDecoderReusesBuffers(t *testing.T) {
	a, b := encode(t, 120, 90, 85, false), encode(t, 100, 80, 85, false)
	var dec Decoder
	if _, err := dec.Decode(bytes.NewReader(a), 1); err != nil {
		t.Fatal(err)
	}
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	for range 20 {
		if _, err := dec.Decode(bytes.NewReader(b), 2); err != nil {
			t.Fatal(err)
		}
		if _, err := dec.Decode(bytes.NewReader(a), 1); err != nil {
			t.Fatal(err)
		}
	}
	runtime.ReadMemStats(&m1)
	if per := (m1.TotalAlloc - m0.TotalAlloc) / 40; per > 2048 {
		t.Fatalf("%d bytes allocated per decode (a 120x90 image has 16200 pixel bytes)", per)
	}
}

// TestScaledSmooth: on a smooth gradient the scaled luma equals the box
// average of the full decode within one level.
func TestScaledSmooth(t *testing.T) {
	m := image.NewRGBA(image.Rect(0, 0, 64, 64))
	for y := 0; y < 64; y++ {
		for x := 0; x < 64; x++ {
			m.SetRGBA(x, y, color.RGBA{uint8(x * 4), uint8(y * 4), 128, 255})
		}
	}
	var b bytes.Buffer
	stdjpeg.Encode(&b, m, &stdjpeg.Options{Quality: 95})
	full, _ := stdjpeg.Decode(bytes.NewReader(b.Bytes()))
	f := full.(*image.YCbCr)
	var dec Decoder
	for _, s := range []int{2, 4, 8} {
		got, err := dec.Decode(bytes.NewReader(b.Bytes()), s)
		if err != nil {
			t.Fatal(err)
		}
		g := got.(*image.YCbCr)
		for y := 0; y < 64/s; y++ {
			for x := 0; x < 64/s; x++ {
				var box float64
				for dy := 0; dy < s; dy++ {
					for dx := 0; dx < s; dx++ {
						box += float64(f.Y[(y*s+dy)*f.YStride+x*s+dx])
					}
				}
				if d := math.Abs(float64(g.Y[y*g.YStride+x]) - box/float64(s*s)); d > 1.5 {
					t.Fatalf("1/%d at %d,%d: %d, box average %.2f", s, x, y, g.Y[y*g.YStride+x], box/float64(s*s))
				}
			}
		}
	}
}
