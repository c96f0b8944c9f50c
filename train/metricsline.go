package train

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"

	"github.com/siam-ssl/siam/atomicfile"
)

// NonFiniteKey is the metrics.jsonl field that names the values JSON cannot hold:
// a NaN or ±Inf value is written as null (the field is kept, so pandas and jq see
// a missing number) and NonFiniteKey maps its name to "NaN", "+Inf" or "-Inf", so
// a reader (package report) restores it exactly.
const NonFiniteKey = "nonfinite"

// marshalMetrics writes one metrics line: the fixed fields, Extra flattened in,
// non-finite values as null plus their names under NonFiniteKey.
func marshalMetrics(m Metrics) ([]byte, error) {
	o := map[string]any{"step": m.Step, "chunk": m.Chunk, "time": m.Time}
	nf := map[string]string{}
	put := func(k string, v float64) {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			o[k], nf[k] = nil, nonFiniteName(v)
			return
		}
		o[k] = v
	}
	put("loss", m.Loss)
	put("lr", m.LR)
	put("images_per_s", m.ImagesPerS)
	for k, v := range m.Extra {
		switch k {
		case "step", "chunk", "time", "loss", "lr", "images_per_s", NonFiniteKey, AlarmKey:
			return nil, fmt.Errorf("metrics: monitor field %q clashes with a fixed field", k)
		}
		put(k, v)
	}
	if m.Alarm != "" {
		o[AlarmKey] = m.Alarm
	}
	if len(nf) > 0 {
		o[NonFiniteKey] = nf
	}
	return json.Marshal(o)
}

// nonFiniteName spells NaN and the infinities as strconv parses them back.
func nonFiniteName(v float64) string {
	switch {
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	}
	return "NaN"
}

// ParseNonFinite reads a NonFiniteKey value ("NaN", "+Inf", "-Inf") back.
func ParseNonFinite(s string) (float64, error) {
	switch s {
	case "NaN", "+Inf", "-Inf":
		return strconv.ParseFloat(s, 64)
	}
	return 0, fmt.Errorf("%s value %q: want NaN, +Inf or -Inf", NonFiniteKey, s)
}

// truncateMetrics drops metrics lines past step (written after the checkpoint a
// resume starts from), so a resumed run's log has no duplicate steps. The file is
// split on newlines with no length limit (a line of any length is kept), and
// rewritten atomically. Blank lines are dropped; a torn last line (no newline:
// the run died while writing it) is dropped with a warning on log; any other line
// without a readable step is kept as it is, with a warning naming it.
func truncateMetrics(dir string, step int, log io.Writer) error {
	path := filepath.Join(dir, MetricsFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	} else if err != nil {
		return err
	}
	var keep bytes.Buffer
	keep.Grow(len(b))
	for n, rest := 1, b; len(rest) > 0; n++ {
		line := rest
		i := bytes.IndexByte(rest, '\n')
		torn := i < 0
		if !torn {
			line, rest = rest[:i], rest[i+1:]
		} else {
			rest = nil
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var l struct {
			Step *int `json:"step"`
		}
		if err := json.Unmarshal(line, &l); err != nil || l.Step == nil {
			if torn {
				fmt.Fprintf(log, "resume: %s:%d: dropped an incomplete last line (%d bytes; the run stopped while writing it)\n", path, n, len(line))
				continue
			}
			fmt.Fprintf(log, "resume: warning: %s:%d: no readable step (%.60q); line kept as it is\n", path, n, line)
		} else if *l.Step > step {
			continue
		}
		keep.Write(line)
		keep.WriteByte('\n')
	}
	if err := atomicfile.WriteFile(path, keep.Bytes()); err != nil {
		return fmt.Errorf("resume: %w", err)
	}
	return nil
}
