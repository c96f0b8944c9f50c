package train

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/siam-ssl/siam/data"
	"github.com/siam-ssl/siam/ssl"
)

// tinyTeacher trains a 3-step SimSiam run on the embedded data in dir/teacher
// and returns its folder: the teacher of the distillation tests.
func tinyTeacher(t *testing.T, dir string) string {
	t.Helper()
	c := tinyConfig()
	c.Steps = 3
	out := filepath.Join(dir, "teacher")
	if _, err := Run(context.Background(), c, RunOptions{Dir: out}); err != nil {
		t.Fatal(err)
	}
	return out
}

// nnConfig is tinyConfig for method (queue 40 rows for batches of 16, so the
// queue wraps around within a run; the teacher folder for distill).
func nnConfig(method, teacher string) Config {
	c := tinyConfig()
	c.Method, c.Steps, c.CheckpointEvery = method, 12, 5
	switch method {
	case "nnsiam":
		c.Queue = 40
	case "distill":
		c.Teacher = teacher
	}
	return c
}

// TestNNMethodsResumeExact interrupts an NNSiam and a distillation run between
// checkpoints, resumes each and checks that every tensor of the final state —
// weights, BN statistics and the method's extra state (the NNSiam queue and its
// write position; the distillation moving statistics) — equals an uninterrupted
// run's bit for bit, and that the extra state really moved.
func TestNNMethodsResumeExact(t *testing.T) {
	dir := t.TempDir()
	teacher := tinyTeacher(t, dir)
	for _, method := range []string{"nnsiam", "distill"} {
		t.Run(method, func(t *testing.T) {
			c := nnConfig(method, teacher)
			full, err := Run(context.Background(), c, RunOptions{Dir: filepath.Join(dir, method, "full")})
			if err != nil {
				t.Fatal(err)
			}
			res := interruptAndResume(t, c, filepath.Join(dir, method, "part"), 7)
			if res.StartStep != 7 || res.Model.Name() != method {
				t.Fatalf("resumed %s from %d, want %s from 7", res.Model.Name(), res.StartStep, method)
			}
			requireSameState(t, full.Model, res.Model)
			switch m := res.Model.(type) {
			case *ssl.NNSiam:
				if got, want := m.Ptr.Data[0], float32(12*16%40); got != want {
					t.Errorf("queue_ptr %v after 12 batches of 16 in 40 rows, want %v", got, want)
				}
				fresh, _ := ssl.NewNNSiam(m.SimSiam.Config, c.Seed)
				same := 0
				for i, v := range fresh.Queue.Data {
					if m.Queue.Data[i] == v {
						same++
					}
				}
				if same != 0 {
					t.Errorf("%d queue values still hold their initial random values", same)
				}
			case *ssl.Distill:
				if got := m.Updates.Data[0]; got != 12 {
					t.Errorf("teacher_updates %v after 12 steps", got)
				}
				if m.Mean.Data[0] == 0 && m.Std.Data[0] == 1 {
					t.Errorf("moving statistics never left their placeholders")
				}
				if m.Head.W.Shape()[0] != m.Teacher.Backbone.FeatureDim() {
					t.Errorf("head predicts %d values, teacher has %d features", m.Head.W.Shape()[0], m.Teacher.Backbone.FeatureDim())
				}
			default:
				t.Fatalf("resumed model is %T", res.Model)
			}
		})
	}
}

// A distillation teacher may itself be a distilled student: the chain loads,
// trains, and the config records the teacher's absolute path.
func TestDistillFromDistilledTeacher(t *testing.T) {
	dir := t.TempDir()
	teacher := tinyTeacher(t, dir)
	c := nnConfig("distill", teacher)
	c.Steps = 2
	mid := filepath.Join(dir, "mid")
	if _, err := Run(context.Background(), c, RunOptions{Dir: mid}); err != nil {
		t.Fatal(err)
	}
	wd, _ := os.Getwd()
	rel, err := filepath.Rel(wd, mid)
	if err != nil {
		t.Fatal(err)
	}
	c.Teacher = rel
	sum, err := Run(context.Background(), c, RunOptions{Dir: filepath.Join(dir, "student")})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Config.Teacher != mid {
		t.Errorf("config records teacher %q, want the absolute %q", sum.Config.Teacher, mid)
	}
	if _, err := LoadTeacher(mid, Input{Channels: 1, Size: 28}); err != nil {
		t.Errorf("LoadTeacher of a distilled run: %v", err)
	}
}

// writeCIFAR10 writes a tiny CIFAR-10 binary folder (3-channel 32x32 images).
func writeCIFAR10(t *testing.T, dir string) {
	t.Helper()
	r := rand.New(rand.NewPCG(1, 2))
	rec := func(n int) []byte {
		b := make([]byte, n*3073)
		for i := range b {
			b[i] = byte(r.IntN(256))
		}
		for i := range n {
			b[i*3073] = byte(i % 10)
		}
		return b
	}
	os.MkdirAll(dir, 0o755)
	for _, name := range []string{"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin", "test_batch.bin"} {
		if err := os.WriteFile(filepath.Join(dir, name), rec(8), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// writeIDX32 writes a tiny IDX folder of one-channel 32x32 images.
func writeIDX32(t *testing.T, dir string) {
	t.Helper()
	os.MkdirAll(dir, 0o755)
	for _, split := range []string{"train", "t10k"} {
		ds := &data.Dataset{Name: split, N: 40, C: 1, H: 32, W: 32, Classes: 10, Pixels: make([]uint8, 40*32*32), Labels: make([]int, 40)}
		for i := range ds.Pixels {
			ds.Pixels[i] = uint8(i * 7)
		}
		for i := range ds.Labels {
			ds.Labels[i] = i % 10
		}
		if err := data.WriteIDX(ds, filepath.Join(dir, split+"-images-idx3-ubyte"), filepath.Join(dir, split+"-labels-idx1-ubyte")); err != nil {
			t.Fatal(err)
		}
	}
}

// Bad distillation and NNSiam input: one clear error each, and no run folder.
func TestNNMethodsRejectBadInput(t *testing.T) {
	dir := t.TempDir()
	teacher := tinyTeacher(t, dir)
	empty := filepath.Join(dir, "empty")
	os.MkdirAll(empty, 0o755)
	file := filepath.Join(dir, "file")
	os.WriteFile(file, []byte("x"), 0o644)
	cifar, idx32 := filepath.Join(dir, "cifar"), filepath.Join(dir, "idx32")
	writeCIFAR10(t, cifar)
	writeIDX32(t, idx32)
	tests := []struct {
		name string
		edit func(c *Config)
		want string
	}{
		{"distill without teacher", func(c *Config) { c.Method, c.Teacher = "distill", "" }, "needs --teacher"},
		{"teacher does not exist", func(c *Config) { c.Method, c.Teacher = "distill", filepath.Join(dir, "nowhere") }, "no such run folder"},
		{"teacher is a file", func(c *Config) { c.Method, c.Teacher = "distill", file }, "not a run folder"},
		{"teacher without checkpoint", func(c *Config) { c.Method, c.Teacher = "distill", empty }, "has no checkpoint.safetensors"},
		{"teacher channels differ", func(c *Config) { c.Method, c.Teacher, c.Data = "distill", teacher, cifar }, "1-channel 28x28 views (data embedded), the student's data gives 3-channel 32x32"},
		{"teacher resolution differs", func(c *Config) { c.Method, c.Teacher, c.Data = "distill", teacher, idx32 }, "1-channel 28x28 views (data embedded), the student's data gives 1-channel 32x32"},
		{"teacher for simsiam", func(c *Config) { c.Teacher = teacher }, "only used by --method distill"},
		{"queue smaller than batch", func(c *Config) { c.Method, c.Queue = "nnsiam", 8 }, "queue 8 is smaller than the batch 16"},
		{"queue too large", func(c *Config) { c.Method, c.Queue = "nnsiam", ssl.MaxQueue+1 }, "out of range"},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := tinyConfig()
			c.Steps = 2
			tc.edit(&c)
			out := filepath.Join(dir, fmt.Sprintf("run%d", i))
			_, err := Run(context.Background(), c, RunOptions{Dir: out})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error spans lines: %q", err)
			}
			if _, serr := os.Stat(out); !errors.Is(serr, os.ErrNotExist) {
				t.Errorf("a failed start left %s behind", out)
			}
			t.Log(err)
		})
	}
}

// Continuing the teacher's run after the student started changes the teacher:
// resuming the student must fail naming that, not distil other targets.
func TestDistillResumeAfterTeacherChanged(t *testing.T) {
	dir := t.TempDir()
	teacher := tinyTeacher(t, dir)
	c := nnConfig("distill", teacher)
	c.Steps = 4
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	student := filepath.Join(dir, "student")
	_, err := Run(ctx, c, RunOptions{Dir: student, OnStep: func(step int, _ float64) {
		if step == 2 {
			cancel()
		}
	}})
	if !errors.Is(err, ErrInterrupted) {
		t.Fatalf("want ErrInterrupted, got %v", err)
	}
	tc := tinyConfig()
	tc.Steps = 4 // the teacher retrained, one step longer (editing its config.yaml is refused on resume)
	if err := os.RemoveAll(teacher); err != nil {
		t.Fatal(err)
	}
	if _, err := Run(context.Background(), tc, RunOptions{Dir: teacher}); err != nil {
		t.Fatal(err)
	}
	_, err = Run(context.Background(), Config{}, RunOptions{Dir: student, Resume: true})
	if err == nil || !strings.Contains(err.Error(), "not the one this student was trained with") {
		t.Fatalf("resume with a changed teacher: %v", err)
	}
	t.Log(err)
}
