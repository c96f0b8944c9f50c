package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// File names inside a run folder (written by `siam train`, `siam eval`, `siam collapse`).
const (
	ConfigFile  = "config.yaml"
	MetricsFile = "metrics.jsonl"
	SpectraFile = "spectra.jsonl"
	ResultsFile = "results.jsonl"
)

// metric is one line of metrics.jsonl. Monitored steps also carry AUC, RankMe and
// KNN (weighted 200-NN top-1 accuracy, a fraction); a JSON null counts as absent.
type metric struct {
	Step       *int     `json:"step"`
	Loss       *float64 `json:"loss"`
	LR         *float64 `json:"lr"`
	Chunk      *int     `json:"chunk"`
	ImagesPerS *float64 `json:"images_per_s"`
	Time       string   `json:"time"`
	AUC        *float64 `json:"auc"`
	RankMe     *float64 `json:"rankme"`
	KNN        *float64 `json:"knn_acc"`
	// NonFinite names the fields written as null because their value was NaN or
	// ±Inf ("auc": "NaN"); loadMetrics puts the value back.
	NonFinite map[string]string `json:"nonfinite"`
	// Alarm is a collapse alarm raised at this step ("auc 0.93 > 0.9").
	Alarm string `json:"alarm"`
}

// nonFiniteField returns the field of m that a "nonfinite" key restores, or nil
// for a key this report does not read.
func (m *metric) nonFiniteField(k string) **float64 {
	switch k {
	case "loss":
		return &m.Loss
	case "lr":
		return &m.LR
	case "images_per_s":
		return &m.ImagesPerS
	case "auc":
		return &m.AUC
	case "rankme":
		return &m.RankMe
	case "knn_acc":
		return &m.KNN
	}
	return nil
}

// parseNonFinite reads a "nonfinite" value: NaN, +Inf or -Inf.
func parseNonFinite(s string) (float64, error) {
	switch s {
	case "NaN":
		return math.NaN(), nil
	case "+Inf":
		return math.Inf(1), nil
	case "-Inf":
		return math.Inf(-1), nil
	}
	return 0, fmt.Errorf(`"nonfinite" value %q: want NaN, +Inf or -Inf`, s)
}

// spectrum is one line of spectra.jsonl.
type spectrum struct {
	Step           *int      `json:"step"`
	SingularValues []float64 `json:"singular_values"`
}

// result is one line of results.jsonl; which fields are set depends on Kind.
type result struct {
	Kind             string    `json:"kind"`
	Accuracy         *float64  `json:"accuracy"`
	BestK            *int      `json:"best_k"`
	WeightedAccuracy *float64  `json:"weighted_accuracy"`
	Epochs           *int      `json:"epochs"`
	ValLoss          *float64  `json:"val_loss"`
	AUC              *float64  `json:"auc"`
	RankMe           *float64  `json:"rankme"`
	SingularValues   []float64 `json:"singular_values"`
	Time             string    `json:"time"`

	line int // 1-based line in results.jsonl
}

// run is everything read from one run folder.
type run struct {
	dir, name string
	// config is config.yaml decoded into a map (nil when the file is absent).
	config map[string]any
	// configKeys lists the config keys in file order.
	configKeys []string
	metrics    []metric   // in file order
	spectra    []spectrum // sorted by step; for a repeated step the last line wins
	hasSpectra bool       // spectra.jsonl exists
	results    map[string]*result
	hasResults bool // results.jsonl exists
	// warnings name lines skipped and values not drawn, with file:line or step.
	warnings []string
}

// warn records a warning about the run's files.
func (r *run) warn(format string, args ...any) {
	r.warnings = append(r.warnings, fmt.Sprintf(format, args...))
}

// path returns the path of file name inside the run folder.
func (r *run) path(name string) string { return filepath.Join(r.dir, name) }

// loadRun reads a run folder. metrics.jsonl is required unless results.jsonl
// is there (the results folder of a model measured with --weights, which has
// no training history); config.yaml, spectra.jsonl and results.jsonl are
// optional, but must parse when present.
func loadRun(dir string) (*run, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("report: run folder %s: %w", dir, err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("report: %s is not a folder (want a run folder with %s)", dir, MetricsFile)
	}
	r := &run{dir: dir, name: filepath.Base(filepath.Clean(dir)), results: map[string]*result{}}
	if err := r.loadConfig(); err != nil {
		return nil, err
	}
	if err := r.loadMetrics(); err != nil {
		return nil, err
	}
	if err := r.loadSpectra(); err != nil {
		return nil, err
	}
	if err := r.loadResults(); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *run) loadConfig() error {
	p := r.path(ConfigFile)
	data, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return fmt.Errorf("report: %s: %w", p, err)
	}
	if len(doc.Content) == 0 { // empty file
		r.config = map[string]any{}
		return nil
	}
	m := doc.Content[0]
	if m.Kind != yaml.MappingNode {
		return fmt.Errorf("report: %s: line %d: want a mapping of config keys", p, m.Line)
	}
	if err := m.Decode(&r.config); err != nil {
		return fmt.Errorf("report: %s: %w", p, err)
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		r.configKeys = append(r.configKeys, m.Content[i].Value)
	}
	return nil
}

// eachLine calls fn for every non-blank line of a JSON-lines file with its 1-based
// line number; it returns the number of lines seen. An error from fn is prefixed
// with file:line. Lines may be of any length. Nothing is skipped silently: a blank
// line is skipped with a warning, and so is a last line that lacks its newline and
// does not parse (the writer died in the middle of it); any other bad line is an
// error.
func (r *run) eachLine(path string, fn func(line []byte, n int) error) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("report: %w", err)
	}
	seen := 0
	for n, rest := 1, b; len(rest) > 0; n++ {
		line := rest
		i := bytes.IndexByte(rest, '\n')
		torn := i < 0
		if torn {
			rest = nil
		} else {
			line, rest = rest[:i], rest[i+1:]
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			if !torn {
				r.warn("%s:%d: blank line skipped", path, n)
			}
			continue
		}
		if torn && !json.Valid(line) {
			r.warn("%s:%d: incomplete last line skipped (%d bytes without a newline: the writer stopped in the middle of it)", path, n, len(line))
			continue
		}
		seen++
		if line[0] != '{' {
			return seen, fmt.Errorf("report: %s:%d: want a JSON object, got %.40q", path, n, line)
		}
		if err := fn(line, n); err != nil {
			return seen, fmt.Errorf("report: %s:%d: %w", path, n, err)
		}
	}
	return seen, nil
}

// decodeStrict unmarshals a JSON object line, naming the problem on failure.
func decodeStrict(line []byte, v any) error {
	if err := json.Unmarshal(line, v); err != nil {
		return fmt.Errorf("malformed JSON: %w", err)
	}
	return nil
}

func (r *run) loadMetrics() error {
	p := r.path(MetricsFile)
	_, err := os.Stat(p)
	if errors.Is(err, fs.ErrNotExist) {
		if _, rerr := os.Stat(r.path(ResultsFile)); rerr == nil {
			return nil // results only: a model trained elsewhere
		}
	}
	if err != nil {
		return fmt.Errorf("report: run folder %s has no %s (is it a `siam train` output folder?): %w", r.dir, MetricsFile, err)
	}
	type fieldValue struct{ field, value string }
	steps := map[fieldValue][]int{}
	var order []fieldValue
	var alarms []string
	seen, err := r.eachLine(p, func(line []byte, _ int) error {
		var m metric
		if err := decodeStrict(line, &m); err != nil {
			return err
		}
		if m.Step == nil {
			return errors.New(`missing "step"`)
		}
		for _, k := range slices.Sorted(maps.Keys(m.NonFinite)) {
			v, err := parseNonFinite(m.NonFinite[k])
			if err != nil {
				return err
			}
			if f := m.nonFiniteField(k); f != nil {
				*f = &v
			}
			fv := fieldValue{k, m.NonFinite[k]}
			if steps[fv] == nil {
				order = append(order, fv)
			}
			steps[fv] = append(steps[fv], *m.Step)
		}
		if m.Loss == nil {
			return errors.New(`missing "loss"`)
		}
		if m.Alarm != "" {
			alarms = append(alarms, fmt.Sprintf("step %d (%s)", *m.Step, m.Alarm))
		}
		r.metrics = append(r.metrics, m)
		return nil
	})
	if err != nil {
		return err
	}
	if seen == 0 {
		return fmt.Errorf("report: %s: no parsable lines (empty file)", p)
	}
	for _, fv := range order {
		r.warn("%s: %s is %s at %s (non-finite values are not drawn)", p, fv.field, fv.value, stepList(steps[fv]))
	}
	if len(alarms) > 0 {
		more := ""
		if len(alarms) > 5 {
			more = fmt.Sprintf(" and %d more monitored steps", len(alarms)-5)
		}
		r.warn("Collapse alarm in %s at %s%s.", p, strings.Join(alarms[:min(len(alarms), 5)], ", "), more)
	}
	return nil
}

// stepList writes "step 4" or "steps 2, 4, 6" (the first 10, then a count).
func stepList(s []int) string {
	if len(s) == 1 {
		return fmt.Sprintf("step %d", s[0])
	}
	var b strings.Builder
	b.WriteString("steps ")
	for i, v := range s[:min(len(s), 10)] {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprint(&b, v)
	}
	if len(s) > 10 {
		fmt.Fprintf(&b, " and %d more", len(s)-10)
	}
	return b.String()
}

func (r *run) loadSpectra() error {
	p := r.path(SpectraFile)
	if _, err := os.Stat(p); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	r.hasSpectra = true
	byStep := map[int]spectrum{}
	_, err := r.eachLine(p, func(line []byte, _ int) error {
		var s spectrum
		if err := decodeStrict(line, &s); err != nil {
			return err
		}
		if s.Step == nil {
			return errors.New(`missing "step"`)
		}
		if len(s.SingularValues) == 0 {
			return errors.New(`missing or empty "singular_values"`)
		}
		if err := checkSigma(s.SingularValues); err != nil {
			return err
		}
		byStep[*s.Step] = s
		return nil
	})
	if err != nil {
		return err
	}
	for _, s := range byStep {
		r.spectra = append(r.spectra, s)
	}
	slices.SortFunc(r.spectra, func(a, b spectrum) int { return *a.Step - *b.Step })
	return nil
}

// checkSigma rejects negative singular values (NaN/Inf cannot come through JSON).
func checkSigma(s []float64) error {
	for i, v := range s {
		if v < 0 {
			return fmt.Errorf("singular value %d is %v (want >= 0)", i+1, v)
		}
	}
	return nil
}

func (r *run) loadResults() error {
	p := r.path(ResultsFile)
	if _, err := os.Stat(p); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	r.hasResults = true
	_, err := r.eachLine(p, func(line []byte, n int) error {
		res := &result{line: n}
		if err := decodeStrict(line, res); err != nil {
			return err
		}
		var need string
		switch res.Kind {
		case "":
			return errors.New(`missing "kind"`)
		case "knn", "linear":
			if res.Accuracy == nil {
				need = "accuracy"
			}
		case "loss":
			if res.ValLoss == nil {
				need = "val_loss"
			}
		case "collapse":
			if res.AUC == nil {
				need = "auc"
			}
			if err := checkSigma(res.SingularValues); err != nil {
				return err
			}
		default:
			return nil // a kind this report does not show
		}
		if need != "" {
			return fmt.Errorf("%q result without %q", res.Kind, need)
		}
		if old, ok := r.results[res.Kind]; ok && later(old.Time, res.Time) {
			return nil // an older result appended late: the latest wins
		}
		r.results[res.Kind] = res
		return nil
	})
	return err
}

// later reports whether time a is strictly after time b; unparsable times compare
// as not later, so file order decides.
func later(a, b string) bool {
	ta, errA := time.Parse(time.RFC3339Nano, a)
	tb, errB := time.Parse(time.RFC3339Nano, b)
	return errA == nil && errB == nil && ta.After(tb)
}
