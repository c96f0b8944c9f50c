// Copyright 2026 The siam authors. Use of this source code is governed by
// the BSD-style licence in LICENSE.

package jpeg

import (
	"bytes"
	stdjpeg "image/jpeg"
	"testing"
)

// FuzzDecoder decodes arbitrary bytes at every scale with one reused
// Decoder: no panic; at scale 1 the same verdict and pixels as image/jpeg;
// scaled bounds are ceil(w/s) x ceil(h/s).
func FuzzDecoder(f *testing.F) {
	for _, tc := range goTestdata(f) {
		if len(tc.data) <= 4096 { // large seeds make minimisation slow
			f.Add(tc.data)
		}
	}
	f.Add(encode(f, 37, 21, 80, false))
	f.Add(encode(f, 16, 16, 40, true))
	var dec Decoder
	f.Fuzz(func(t *testing.T, b []byte) {
		cfg, err := stdjpeg.DecodeConfig(bytes.NewReader(b))
		if err != nil || cfg.Width*cfg.Height > 1e6 {
			return
		}
		want, werr := stdjpeg.Decode(bytes.NewReader(b))
		for _, s := range []int{1, 2, 4, 8} {
			got, err := dec.Decode(bytes.NewReader(b), s)
			if s == 1 {
				if (err == nil) != (werr == nil) {
					t.Fatalf("scale 1: error %v, image/jpeg %v", err, werr)
				}
				if err == nil && !samePixels(got, want) {
					t.Fatal("scale 1 differs from image/jpeg")
				}
			}
			if err != nil {
				continue
			}
			r := got.Bounds()
			if scaled := r.Dx() != cfg.Width || r.Dy() != cfg.Height; scaled &&
				(r.Dx() != (cfg.Width+s-1)/s || r.Dy() != (cfg.Height+s-1)/s) {
				t.Fatalf("scale %d of %dx%d gave %v", s, cfg.Width, cfg.Height, r)
			}
		}
	})
}
