package train

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/siam-ssl/siam/data"
)

// jpegFolder writes root/<class>/<i>.jpg: classes x per small JPEGs of
// varying sizes, coloured by class.
func jpegFolder(t *testing.T, classes, per int) string {
	t.Helper()
	root := t.TempDir()
	for c := range classes {
		for i := range per {
			w, h := 20+(i*7)%21, 20+(i*11)%21
			img := image.NewRGBA(image.Rect(0, 0, w, h))
			for y := 0; y < h; y++ {
				for x := 0; x < w; x++ {
					img.SetRGBA(x, y, color.RGBA{uint8(80 * c), uint8(x * 9), uint8(y*5 + i), 255})
				}
			}
			var b bytes.Buffer
			jpeg.Encode(&b, img, nil)
			p := filepath.Join(root, fmt.Sprintf("class%d", c), fmt.Sprintf("%03d.jpg", i))
			os.MkdirAll(filepath.Dir(p), 0o755)
			if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	return root
}

func streamConfig(dataSpec string) Config {
	c := DefaultConfig()
	c.Data, c.Size, c.Stream = dataSpec, 16, "always"
	c.Width, c.Batch, c.Steps, c.LR = 4, 8, 8, 0.5
	c.CheckpointEvery, c.LogEvery = 3, 2
	c.Order, c.Chunks = "single", 4
	return c
}

// TestStreamedRunResumeIsExact trains from a streamed JPEG folder with a
// chunked ordering, interrupts, resumes, and compares with an uninterrupted run.
func TestStreamedRunResumeIsExact(t *testing.T) {
	c := streamConfig(jpegFolder(t, 3, 10))
	dir := t.TempDir()
	var log bytes.Buffer
	full, err := Run(context.Background(), c, RunOptions{Dir: filepath.Join(dir, "full"), Log: &log})
	if err != nil {
		t.Fatal(err)
	}
	if !full.Train.Streamed() || full.Train.H != 16 || full.Train.N != 30 {
		t.Fatalf("train set streamed=%v %dx%d N=%d", full.Train.Streamed(), full.Train.H, full.Train.W, full.Train.N)
	}
	part := filepath.Join(dir, "part")
	res := interruptAndResume(t, c, part, 5)
	requireSameState(t, full.Model, res.Model)
	// A resume after files were added (every index shifts) is refused.
	extra := filepath.Join(c.Data, "class0", "zzz.jpg")
	b0, _ := os.ReadFile(filepath.Join(c.Data, "class0", "000.jpg"))
	os.WriteFile(extra, b0, 0o644)
	c2 := c
	c2.Steps = 12
	os.WriteFile(filepath.Join(part, ConfigFile), c2.YAML(), 0o644)
	if _, err := Run(context.Background(), Config{}, RunOptions{Dir: part, Resume: true}); err == nil || !strings.Contains(err.Error(), "dataset changed") {
		t.Fatalf("resume on a changed tree: %v", err)
	}
	cfgText, _ := os.ReadFile(filepath.Join(part, ConfigFile))
	if !strings.Contains(string(cfgText), "size: 16") || !strings.Contains(string(cfgText), "stream: always") {
		t.Fatalf("config.yaml lacks size/stream:\n%s", cfgText)
	}
}

// TestStreamedRunShardsAndBadImages trains from packed shards with a
// sequential shuffle buffer, then from a folder with a corrupt JPEG: the run
// finishes, warns once naming the file and logs bad_images.
func TestStreamedRunShardsAndBadImages(t *testing.T) {
	root := jpegFolder(t, 2, 12)
	shards := filepath.Join(t.TempDir(), "shards")
	if _, err := data.Pack(root, shards, data.PackOptions{ShardSize: 8 << 10}); err != nil {
		t.Fatal(err)
	}
	c := streamConfig(filepath.Join(shards, "train-*.tar"))
	c.Order, c.ShuffleBuffer = "multi", 6
	if _, err := Run(context.Background(), c, RunOptions{Dir: filepath.Join(t.TempDir(), "run")}); err != nil {
		t.Fatal(err)
	}
	c.Order = "single"
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "multi only") {
		t.Fatalf("shuffle buffer with single: %v", err)
	}

	bad := filepath.Join(root, "class1", "003.jpg")
	os.WriteFile(bad, []byte("not a jpeg at all"), 0o644)
	c = streamConfig(root)
	c.Order = "multi"
	var log bytes.Buffer
	dir := filepath.Join(t.TempDir(), "run")
	if _, err := Run(context.Background(), c, RunOptions{Dir: dir, Log: &log}); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(log.String(), "warning: skipping unreadable image "+bad); n != 1 {
		t.Fatalf("%d warnings naming %s in:\n%s", n, bad, log.String())
	}
	m, _ := os.ReadFile(filepath.Join(dir, MetricsFile))
	if !strings.Contains(string(m), `"bad_images":1`) {
		t.Fatalf("metrics.jsonl does not count the bad image:\n%s", m)
	}
}

func TestRunSizeFlagInMemory(t *testing.T) {
	c := tinyConfig()
	c.Steps, c.Size = 2, 20
	sum, err := Run(context.Background(), c, RunOptions{Dir: filepath.Join(t.TempDir(), "run")})
	if err != nil {
		t.Fatal(err)
	}
	if r := AugmentRecipe(sum.Config, sum.Train); r.Size != 20 || sum.Train.Streamed() {
		t.Fatalf("recipe size %d, streamed %v", r.Size, sum.Train.Streamed())
	}
}
