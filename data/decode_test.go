package data

import (
	"bytes"
	"image"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestDecodeFormats decodes the Go distribution's test images (JPEG with every
// subsampling ratio, progressive, gray, RGB and CMYK; PNG of every colour
// type) at every DCT scale and checks that a whole-image view has the mean
// colour of image/jpeg's and image/png's decode.
func TestDecodeFormats(t *testing.T) {
	dir := filepath.Join(runtime.GOROOT(), "src", "image", "testdata")
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Skip("Go source tree not installed:", err)
	}
	var d decoded
	var tab sampleTable
	tried := 0
	for _, e := range ents {
		name := e.Name()
		if !strings.HasSuffix(name, ".jpeg") && !strings.HasSuffix(name, ".png") {
			continue
		}
		raw, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		ref, _, err := image.Decode(bytes.NewReader(raw))
		if err != nil {
			continue // truncated and invalid files
		}
		format, w, h, err := imageHeader(raw)
		if err != nil {
			t.Fatalf("%s: header: %v", name, err)
		}
		var want [3]float64
		b := ref.Bounds()
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				r, g, bl, _ := ref.At(x, y).RGBA()
				want[0] += float64(r >> 8)
				want[1] += float64(g >> 8)
				want[2] += float64(bl >> 8)
			}
		}
		for c := range want {
			want[c] /= float64(w * h * 255)
		}
		for shift := range 4 {
			if err := d.decode(raw, format, w, h, shift); err != nil {
				t.Fatalf("%s at 1/%d: %v", name, 1<<shift, err)
			}
			const side = 16
			view := make([]float32, 3*side*side)
			d.sampleView(view, side, side, 0, 0, float64(w), float64(h), false, &tab)
			for c := range 3 {
				var m float64
				for _, v := range view[c*side*side : (c+1)*side*side] {
					if v < 0 || v > 1 {
						t.Fatalf("%s: value %v outside [0,1]", name, v)
					}
					m += float64(v)
				}
				m /= side * side
				// A 16x16 bilinear view samples the image; means agree loosely.
				if math.Abs(m-want[c]) > 0.05 {
					t.Errorf("%s at 1/%d: channel %d mean %.3f, image/%s %.3f", name, 1<<shift, c, m, format, want[c])
				}
			}
		}
		tried++
	}
	if tried < 10 {
		t.Fatalf("only %d test images decoded", tried)
	}
}
