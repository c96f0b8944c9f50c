// Command genimages writes a synthetic ImageFolder tree of JPEG files for
// measuring the data pipeline (`siam bench data`, the streaming RSS check):
//
//	go run ./scripts/genimages -out /tmp/in224 -n 400 -classes 10 -w 500 -h 375
//	go run ./scripts/genimages -out /tmp/big60k -n 60000 -classes 100 -w 96 -h 96
//
// Images are smooth colour fields with texture and noise, so they compress
// like photographs (about 90 KB at 500x375, quality 90), alternating between
// landscape and portrait. Output is deterministic for a given seed.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"image"
	"image/jpeg"
	"log"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"sync"
)

func main() {
	out := flag.String("out", "", "output folder (root/train/<class>/*.jpg)")
	n := flag.Int("n", 400, "images")
	classes := flag.Int("classes", 10, "class folders")
	w := flag.Int("w", 500, "width (portrait images swap width and height)")
	h := flag.Int("h", 375, "height")
	q := flag.Int("quality", 90, "JPEG quality")
	seed := flag.Uint64("seed", 1, "seed")
	flag.Parse()
	if *out == "" || *n < 1 || *classes < 1 || *w < 1 || *h < 1 {
		log.Fatal("genimages: need -out and positive -n, -classes, -w, -h")
	}
	var wg sync.WaitGroup
	jobs := make(chan int)
	for range runtime.NumCPU() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				c := i % *classes
				iw, ih := *w, *h
				if i%3 == 2 {
					iw, ih = ih, iw
				}
				b := photo(iw, ih, c, *q, *seed*1_000_003+uint64(i))
				p := filepath.Join(*out, "train", fmt.Sprintf("class%03d", c), fmt.Sprintf("img%07d.jpg", i))
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					log.Fatal(err)
				}
				if err := os.WriteFile(p, b, 0o644); err != nil {
					log.Fatal(err)
				}
			}
		}()
	}
	for i := range *n {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
}

// photo renders a w x h image for class c: two sinusoidal colour fields, a
// class tint and Gaussian noise, encoded as JPEG.
func photo(w, h, c, q int, seed uint64) []byte {
	rng := rand.New(rand.NewPCG(seed, 11))
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	fx, fy := 0.01+rng.Float64()*0.08, 0.01+rng.Float64()*0.08
	ph := rng.Float64() * 6
	tint := [3]float64{float64(c*37%255) - 128, float64(c*71%255) - 128, float64(c*113%255) - 128}
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			v := 60*math.Sin(float64(x)*fx+ph) + 40*math.Sin(float64(y)*fy+float64(x*y)*0.0004)
			noise := rng.NormFloat64() * 10
			for k := range 3 {
				img.Pix[(y*w+x)*4+k] = uint8(min(max(128+v*(1-0.3*float64(k))+0.3*tint[k]+noise, 0), 255))
			}
			img.Pix[(y*w+x)*4+3] = 255
		}
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: q}); err != nil {
		log.Fatal(err)
	}
	return b.Bytes()
}
