package data

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/jpeg"
	"image/png"
	"testing"
)

// headerSeeds returns small PNG and JPEG files, and copies whose headers
// claim w x h pixels, for FuzzImageHeader.
func headerSeeds(f *testing.F) [][]byte {
	var p, j bytes.Buffer
	if err := png.Encode(&p, image.NewNRGBA(image.Rect(0, 0, 3, 2))); err != nil {
		f.Fatal(err)
	}
	if err := jpeg.Encode(&j, image.NewRGBA(image.Rect(0, 0, 9, 7)), nil); err != nil {
		f.Fatal(err)
	}
	seeds := [][]byte{p.Bytes(), j.Bytes()}
	for _, wh := range [][2]int{{65535, 65535}, {20000, 20000}, {1 << 14, 1 << 13}, {0, 5}} {
		b := bytes.Clone(p.Bytes())
		binary.BigEndian.PutUint32(b[16:], uint32(wh[0]))
		binary.BigEndian.PutUint32(b[20:], uint32(wh[1]))
		binary.BigEndian.PutUint32(b[29:], crc32.ChecksumIEEE(b[12:29]))
		seeds = append(seeds, b)
		b = bytes.Clone(j.Bytes())
		if i := bytes.Index(b, []byte{0xff, 0xc0}); i >= 0 {
			binary.BigEndian.PutUint16(b[i+5:], uint16(wh[1]))
			binary.BigEndian.PutUint16(b[i+7:], uint16(wh[0]))
		}
		seeds = append(seeds, b)
	}
	return seeds
}

// FuzzImageHeader feeds arbitrary bytes to the header check every decode
// path runs first: it never panics, never accepts an empty image or one over
// the pixel limit, and a file it accepts decodes (on the in-memory and the
// streamed paths) to exactly the size it said, or fails with an error.
func FuzzImageHeader(f *testing.F) {
	for _, s := range headerSeeds(f) {
		f.Add(s)
	}
	defer SetMaxImagePixels(SetMaxImagePixels(1 << 16)) // small decodes, fast fuzzing
	f.Fuzz(func(t *testing.T, raw []byte) {
		format, w, h, err := imageHeader(raw)
		if err != nil {
			return
		}
		if w <= 0 || h <= 0 || int64(w)*int64(h) > ImagePixelLimit() {
			t.Fatalf("accepted %s %dx%d (limit %d)", format, w, h, ImagePixelLimit())
		}
		var d decoded
		if err := d.decode(raw, format, w, h, 0); err == nil && (d.w != w || d.h != h) {
			t.Fatalf("header %dx%d, decoded %dx%d", w, h, d.w, d.h)
		}
	})
}

// TestImageHeaderLimit: the header check refuses what claims more pixels than
// the limit in force, whatever the format, before decoding.
func TestImageHeaderLimit(t *testing.T) {
	var p bytes.Buffer
	png.Encode(&p, image.NewGray(image.Rect(0, 0, 40, 30)))
	cases := []struct {
		limit int64
		ok    bool
	}{{0, true}, {1200, true}, {1199, false}, {1, false}}
	for _, c := range cases {
		prev := SetMaxImagePixels(c.limit)
		_, w, h, err := imageHeader(p.Bytes())
		SetMaxImagePixels(prev)
		if (err == nil) != c.ok || (c.ok && (w != 40 || h != 30)) {
			t.Errorf("limit %d: %dx%d, %v", c.limit, w, h, err)
		}
	}
}
