package sweep

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"

	"github.com/siam-ssl/siam/data"
)

// The test binary doubles as the child process of a sweep (what `siam sweep
// run-one DIR RUN` is in the CLI): with SIAM_SWEEP_TEST_CHILD=1 it runs RunChild
// on its last two arguments. SIAM_SWEEP_TEST_KILL_AT=k makes the child SIGKILL
// itself right after step k, a real crash in the middle of training.
func TestMain(m *testing.M) {
	if os.Getenv("SIAM_SWEEP_TEST_CHILD") == "1" {
		os.Exit(childMain())
	}
	code := m.Run()
	if fixtureDir != "" {
		os.RemoveAll(fixtureDir)
	}
	os.Exit(code)
}

func childMain() int {
	args := os.Args[len(os.Args)-2:]
	o := RunOptions{}
	if k, err := strconv.Atoi(os.Getenv("SIAM_SWEEP_TEST_KILL_AT")); err == nil {
		o.OnStep = func(step int, _ float64) {
			if step == k {
				syscall.Kill(os.Getpid(), syscall.SIGKILL)
				select {}
			}
		}
	}
	return RunChild(context.Background(), args[0], args[1], o, os.Stderr)
}

// childCommand returns Options.Command running this test binary as the child,
// with extra environment variables, and counts the children started.
func childCommand(count *int, mu *sync.Mutex, env ...string) func(dir, name string) *exec.Cmd {
	return func(dir, name string) *exec.Cmd {
		mu.Lock()
		*count++
		mu.Unlock()
		cmd := exec.Command(os.Args[0], "-test.run=^$", "--", dir, name)
		cmd.Env = append(os.Environ(), append([]string{"SIAM_SWEEP_TEST_CHILD=1"}, env...)...)
		return cmd
	}
}

// The dataset of the tests: 256 training and 128 validation images of the
// embedded Fashion-MNIST subset as IDX files, written once per test binary.
var (
	fixtureOnce sync.Once
	fixtureDir  string
	fixtureErr  error
)

func tinyData(t *testing.T) string {
	t.Helper()
	fixtureOnce.Do(func() {
		fixtureDir, fixtureErr = os.MkdirTemp("", "siam-sweep-test-")
		if fixtureErr != nil {
			return
		}
		tr, te, err := data.Open("")
		if err != nil {
			fixtureErr = err
			return
		}
		for _, s := range []struct {
			ds     *data.Dataset
			n      int
			prefix string
		}{{tr, 256, "train"}, {te, 128, "t10k"}} {
			idx := make([]int, s.n)
			for i := range idx {
				idx[i] = i * (s.ds.N / s.n)
			}
			sub, err := s.ds.Select(idx)
			if err != nil {
				fixtureErr = err
				return
			}
			if err := data.WriteIDX(sub, filepath.Join(fixtureDir, s.prefix+"-images-idx3-ubyte"), filepath.Join(fixtureDir, s.prefix+"-labels-idx1-ubyte")); err != nil {
				fixtureErr = err
				return
			}
		}
	})
	if fixtureErr != nil {
		t.Fatal(fixtureErr)
	}
	return fixtureDir
}

// tinySweep is the sweep of the tests: 2 orderings x 2 seeds, width 4, 20 steps.
func tinySweep(t *testing.T, extra string) *Sweep {
	t.Helper()
	src := fmt.Sprintf(`name: tiny
base: {data: %q, width: 4, batch: 16, steps: 20, lr: 0.5, chunks: 4, checkpoint_every: 5, log_every: 1, workers: 1%s}
grid:
  order: [multi, single]
  seed: [1, 2]
eval: [collapse, knn, loss]
`, tinyData(t), extra)
	s, err := Parse([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return s
}
