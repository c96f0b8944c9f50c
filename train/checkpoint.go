package train

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"maps"
	"math"
	"os"
	"path/filepath"
	"strconv"

	"github.com/siam-ssl/siam/nn"
	"github.com/siam-ssl/siam/optim"
	"github.com/siam-ssl/siam/ssl"
	"github.com/siam-ssl/siam/tensor"
)

// Files of a run folder.
const (
	ConfigFile     = "config.yaml"
	MetricsFile    = "metrics.jsonl"
	SpectraFile    = "spectra.jsonl"
	ResultsFile    = "results.jsonl"
	CheckpointFile = "checkpoint.safetensors"
	checkpointKind = "siam-checkpoint-v1"
)

// Checkpoint is what a run folder's checkpoint restores: the step reached (number
// of completed steps) and the config it was trained with. Model weights, BN
// statistics and optimizer buffers are loaded in place by LoadCheckpoint.
// Augmentation and sampling need no saved RNG state: both are pure functions of
// (seed, step, index), so the step number is the whole position.
type Checkpoint struct {
	Step   int
	Config Config
	// Verified says every tensor matched its CRC-32C in the metadata; false
	// only for checkpoints written before checksums were stored (accepted).
	Verified bool
}

// checksumKey is the checkpoint metadata entry holding each tensor's CRC-32C
// (Castagnoli) of its little-endian float32 data, as a JSON object name → hex.
const checksumKey = "tensor_crc32c"

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// tensorCRC returns the CRC-32C of t's data as little-endian float32 bytes.
func tensorCRC(t *tensor.Tensor) uint32 {
	var buf [4096]byte
	var c uint32
	d := t.Data
	for len(d) > 0 {
		n := min(len(d), len(buf)/4)
		for i, v := range d[:n] {
			binary.LittleEndian.PutUint32(buf[4*i:], math.Float32bits(v))
		}
		c = crc32.Update(c, castagnoli, buf[:4*n])
		d = d[n:]
	}
	return c
}

// tensorChecksums renders every tensor's CRC-32C for the metadata.
func tensorChecksums(ts []*tensor.Tensor) string {
	m := make(map[string]string, len(ts))
	for _, t := range ts {
		m[t.Name] = fmt.Sprintf("%08x", tensorCRC(t))
	}
	b, _ := json.Marshal(m)
	return string(b)
}

// verifyChecksums checks every tensor against the metadata's CRC-32C; a
// checkpoint without checksums (written before they were stored) is accepted
// unverified, one with a malformed, missing or mismatching entry is refused
// naming the tensor.
func verifyChecksums(ts map[string]*tensor.Tensor, meta map[string]string) (bool, error) {
	raw, ok := meta[checksumKey]
	if !ok {
		return false, nil
	}
	var want map[string]string
	if err := json.Unmarshal([]byte(raw), &want); err != nil {
		return false, fmt.Errorf("damaged checkpoint: bad %s metadata: %v", checksumKey, err)
	}
	if len(want) != len(ts) {
		return false, fmt.Errorf("damaged checkpoint: %d tensors but %d checksums", len(ts), len(want))
	}
	for name, t := range ts {
		if w, ok := want[name]; !ok || w != fmt.Sprintf("%08x", tensorCRC(t)) {
			return false, fmt.Errorf("damaged checkpoint: tensor %s does not match its checksum", name)
		}
	}
	return true, nil
}

// ErrNonFiniteState means the model or optimizer holds NaN or Inf values; such a
// state is never written over a good checkpoint.
var ErrNonFiniteState = errors.New("model state is not finite")

// SaveCheckpoint writes model and optimizer state at step atomically to
// RUN_DIR/checkpoint.safetensors. A state with any NaN or Inf (weights, BN
// statistics, momentum) is refused with ErrNonFiniteState, so the checkpoint on
// disk always stays the last good one. Entries of extra (e.g. InputMeta) are
// added to the metadata; they cannot replace the fixed keys. The stored
// config's Workers is always DefaultConfig's (see the comment in the body).
func SaveCheckpoint(dir string, c Config, step int, m ssl.Method, opt optim.Optimizer, extra ...map[string]string) error {
	ts := append(ssl.State(m), opt.State()...)
	for _, t := range ts {
		for _, v := range t.Data {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return fmt.Errorf("step %d: %w (%s holds %v); the last good checkpoint in %s is kept", step, ErrNonFiniteState, t.Name, v, dir)
			}
		}
	}
	// The worker count cannot change a result (sampling and augmentation are
	// pure functions of seed, step and index), so it is not part of what a
	// checkpoint records: the same run with any --workers writes the same file.
	c.Workers = DefaultConfig().Workers
	meta := map[string]string{}
	for _, x := range extra {
		maps.Copy(meta, x)
	}
	maps.Copy(meta, map[string]string{
		checksumKey:   tensorChecksums(ts),
		"format":      checkpointKind,
		"step":        strconv.Itoa(step),
		"optim_steps": strconv.FormatInt(opt.Steps(), 10),
		"config":      string(c.YAML()),
	})
	if err := nn.SaveTensors(filepath.Join(dir, CheckpointFile), ts, meta); err != nil {
		return fmt.Errorf("step %d: checkpoint not saved (%w); the last good checkpoint in %s is kept", step, err, dir)
	}
	return nil
}

// ErrNoCheckpoint means a run folder has no checkpoint yet.
var ErrNoCheckpoint = errors.New("no checkpoint")

// ReadCheckpointMeta reads a run folder's checkpoint tensors and metadata.
func ReadCheckpointMeta(dir string) (map[string]*tensor.Tensor, Checkpoint, error) {
	path := filepath.Join(dir, CheckpointFile)
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return nil, Checkpoint{}, fmt.Errorf("%s: %w", path, ErrNoCheckpoint)
	}
	ts, meta, err := nn.LoadTensors(path)
	if err != nil {
		return nil, Checkpoint{}, err
	}
	if meta["format"] != checkpointKind {
		return nil, Checkpoint{}, fmt.Errorf("%s: not a siam checkpoint (format %q)", path, meta["format"])
	}
	verified, err := verifyChecksums(ts, meta)
	if err != nil {
		return nil, Checkpoint{}, fmt.Errorf("%s: %w", path, err)
	}
	step, err := strconv.Atoi(meta["step"])
	if err != nil || step < 0 {
		return nil, Checkpoint{}, fmt.Errorf("%s: bad step %q", path, meta["step"])
	}
	cfg, err := ParseConfigYAML([]byte(meta["config"]), DefaultConfig())
	if err != nil {
		return nil, Checkpoint{}, fmt.Errorf("%s: %w", path, err)
	}
	if step > cfg.Steps { // an impossible position, never a finished run
		return nil, Checkpoint{}, fmt.Errorf("%s: step %d is past the run's %d steps (damaged or edited checkpoint)", path, step, cfg.Steps)
	}
	return ts, Checkpoint{Step: step, Config: cfg, Verified: verified}, nil
}

// LoadCheckpoint restores model (and, when opt is non-nil, optimizer) state from
// a run folder. A checkpoint of another architecture fails naming the first
// tensor that does not fit, and changes nothing.
func LoadCheckpoint(dir string, m ssl.Method, opt optim.Optimizer) (Checkpoint, error) {
	ts, ck, err := ReadCheckpointMeta(dir)
	if err != nil {
		return ck, err
	}
	if err := ssl.LoadState(m, ts); err != nil {
		return ck, fmt.Errorf("%s: %w", filepath.Join(dir, CheckpointFile), err)
	}
	if opt != nil {
		for _, b := range opt.State() {
			v, ok := ts[b.Name]
			if !ok || !tensor.SameShape(v.Shape(), b.Shape()) {
				return ck, fmt.Errorf("%s: optimizer state %s missing or misshapen", dir, b.Name)
			}
			copy(b.Data, v.Data)
		}
		if s, ok := opt.(interface{ SetSteps(int64) }); ok {
			s.SetSteps(int64(ck.Step))
		}
	}
	return ck, nil
}
