package train

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/siam-ssl/siam/data"
	"github.com/siam-ssl/siam/ssl"
	"github.com/siam-ssl/siam/tensor"
)

// isDistill reports whether a config trains a distillation student.
func isDistill(c Config) bool { return strings.EqualFold(c.Method, "distill") }

// buildModel is BuildModel with the chain of teacher folders already being
// loaded (absolute paths), so a distillation teacher that is itself a student
// loads its own teacher in turn and a loop of teachers is an error, not a hang.
func buildModel(c Config, inChannels int, chain []string) (ssl.Method, error) {
	mc := MethodConfig(c, inChannels)
	if isDistill(c) {
		t, err := loadTeacher(c.Teacher, inChannels, chain)
		if err != nil {
			return nil, err
		}
		mc.Teacher = t
	}
	return ssl.New(c.Method, mc, c.Seed)
}

// LoadTeacher builds the frozen teacher of a distillation run from the teacher's
// run folder: its method is rebuilt from the config its checkpoint records, for
// inChannels-channel images, its state (weights, BN statistics, extra state) is
// loaded and every network is put in evaluation mode. A teacher that was itself
// distilled is allowed (its own teacher is loaded too, since its method needs
// it). Errors name the folder: missing, without a checkpoint, or whose weights do
// not fit inChannels-channel images.
func LoadTeacher(dir string, inChannels int) (*ssl.Teacher, error) {
	return loadTeacher(dir, inChannels, nil)
}

func loadTeacher(dir string, inChannels int, chain []string) (*ssl.Teacher, error) {
	ts, ck, abs, err := readTeacher(dir, chain)
	if err != nil {
		return nil, err
	}
	m, err := buildModel(ck.Config, inChannels, append(chain, abs))
	if err != nil {
		return nil, fmt.Errorf("teacher %s: %w", dir, err)
	}
	if err := ssl.LoadState(m, ts); err != nil {
		return nil, fmt.Errorf("teacher %s does not fit %d-channel images: %w", dir, inChannels, err)
	}
	m.SetTraining(false)
	return &ssl.Teacher{Backbone: m.Backbone(), Modules: m.Modules()}, nil
}

// readTeacher reads a teacher run folder's checkpoint, with errors a user can act
// on, and returns the folder's absolute path.
func readTeacher(dir string, chain []string) (map[string]*tensor.Tensor, Checkpoint, string, error) {
	if dir == "" {
		return nil, Checkpoint{}, "", errors.New("distill needs --teacher RUN_DIR: the run folder of a trained model")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, Checkpoint{}, "", fmt.Errorf("teacher %s: %w", dir, err)
	}
	if slices.Contains(chain, abs) {
		return nil, Checkpoint{}, "", fmt.Errorf("teacher %s: the chain of teachers loops (%s)", dir, strings.Join(append(chain, abs), " -> "))
	}
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil, Checkpoint{}, "", fmt.Errorf("teacher %s: no such run folder", dir)
	case err != nil:
		return nil, Checkpoint{}, "", fmt.Errorf("teacher %s: %w", dir, err)
	case !fi.IsDir():
		return nil, Checkpoint{}, "", fmt.Errorf("teacher %s is not a run folder", dir)
	}
	ts, ck, err := ReadCheckpointMeta(dir)
	if errors.Is(err, ErrNoCheckpoint) {
		return nil, Checkpoint{}, "", fmt.Errorf("teacher %s has no %s: train it first (siam train --out %s)", dir, CheckpointFile, dir)
	}
	if err != nil {
		return nil, Checkpoint{}, "", fmt.Errorf("teacher %s: %w", dir, err)
	}
	return ts, ck, abs, nil
}

// resolveTeacher prepares a distillation config before anything is created: it
// makes the teacher path absolute (so a resume from another working directory
// finds it) and checks that the teacher was trained on views of the shape the
// student's data and augmentation give: the same channels and resolution. The
// teacher's dataset is opened for that unless it is the student's own. Other
// methods pass through unchanged.
func resolveTeacher(cfg Config, trainSet *data.Dataset, recipe data.Recipe) (Config, error) {
	if !isDistill(cfg) {
		return cfg, nil
	}
	_, ck, abs, err := readTeacher(cfg.Teacher, nil)
	if err != nil {
		return cfg, err
	}
	cfg.Teacher = abs
	tc := ck.Config
	tset := trainSet
	if dataKey(tc.Data) != dataKey(cfg.Data) {
		if tset, _, err = data.Open(tc.Data); err != nil {
			return cfg, fmt.Errorf("teacher %s: opening its dataset %s to check its input shape: %w", cfg.Teacher, dataSpecName(tc.Data), err)
		}
	}
	sc, sh, sw := recipe.OutShape(trainSet.C, trainSet.H, trainSet.W)
	tch, th, tw := AugmentRecipe(tc, tset).OutShape(tset.C, tset.H, tset.W)
	if sc != tch || sh != th || sw != tw {
		return cfg, fmt.Errorf("teacher %s was trained on %d-channel %dx%d views (data %s), the student's data gives %d-channel %dx%d: distillation needs the same input channels and resolution",
			cfg.Teacher, tch, th, tw, dataSpecName(tc.Data), sc, sh, sw)
	}
	return cfg, nil
}

// dataKey normalises a dataset spec for comparison ("" is the embedded set).
func dataKey(spec string) string {
	if spec == "" {
		return "embedded"
	}
	return strings.ToLower(spec)
}

// dataSpecName is how messages name a dataset spec.
func dataSpecName(spec string) string {
	if spec == "" {
		return "embedded"
	}
	return spec
}
