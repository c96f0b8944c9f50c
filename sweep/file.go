package sweep

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/siam-ssl/siam/collapse"
	"github.com/siam-ssl/siam/evalrun"
	"github.com/siam-ssl/siam/train"
)

// SeedAxis is the grid axis that repeats a setting; `siam report` averages over it.
const SeedAxis = "seed"

// DefaultEvals are the evaluations of a sweep file without an eval key: the
// cheap ones (the linear probe costs many feature passes).
var DefaultEvals = []string{evalrun.KindCollapse, evalrun.KindKNN, evalrun.KindLoss}

// Sweep is a parsed sweep file: a base config, a grid of axes and the
// evaluations every run gets, expanded into its runs.
type Sweep struct {
	// Name is the file's optional name (shown in reports; "" when absent).
	Name string
	// Base is the default config overlaid with the file's base keys.
	Base train.Config
	// BaseKeys are the keys the file's base sets, in file order.
	BaseKeys []string
	// Axes are the grid's axes in file order.
	Axes []Axis
	// Evals are the evaluations of every run, in the order they run (evalrun.Kinds order).
	Evals []string
	// EvalOptions tune the evaluations.
	EvalOptions EvalOptions
	// Points are the runs, in grid order (the first axis varies slowest).
	Points []Point
	// Source is the file's content.
	Source []byte
}

// Axis is one grid axis: a config key and its values as written in the file.
type Axis struct {
	Key    string
	Values []string
	Line   int
}

// Point is one run of a sweep.
type Point struct {
	// Index is the position in the grid (0-based); shards take Index % N == I.
	Index int
	// Name is the run folder's name, built from the axes: "order=single,seed=2".
	Name string
	// Values holds each axis's value as written, in axis order.
	Values []string
	// Config is the run's complete, validated config.
	Config train.Config
}

// Value returns the point's value of axis key ("" when key is not an axis).
func (s *Sweep) Value(p Point, key string) string {
	for i, a := range s.Axes {
		if a.Key == key {
			return p.Values[i]
		}
	}
	return ""
}

// EvalOptions tune a sweep's evaluations (file key eval_options). The zero value
// is the `siam eval` / `siam collapse` default of each evaluation.
type EvalOptions struct {
	// Batch is the forward batch of feature passes (0 = 128).
	Batch int `yaml:"batch" json:"batch"`
	// KNNMaxK is the largest k of the majority-vote sweep (0 = 128).
	KNNMaxK int `yaml:"knn_max_k" json:"knn_max_k"`
	// KNNTrainSamples uses a seeded sample of that many training images as k-NN memory (0 = all).
	KNNTrainSamples int `yaml:"knn_train_samples" json:"knn_train_samples"`
	// CollapseSamples measures the spectrum on a seeded sample of training images (0 = all).
	CollapseSamples int `yaml:"collapse_samples" json:"collapse_samples"`
	// CollapseMethod is cov (float64, default), cov32 or svd.
	CollapseMethod string `yaml:"collapse_method" json:"collapse_method"`
	// LossSamples evaluates the validation loss on a seeded sample (0 = all).
	LossSamples int `yaml:"loss_samples" json:"loss_samples"`
	// LinearEpochs are the probe's epochs (0 = the paper's 90).
	LinearEpochs int `yaml:"linear_epochs" json:"linear_epochs"`
	// LinearCached trains the probe on features of un-augmented images computed once.
	LinearCached bool `yaml:"linear_cached" json:"linear_cached"`
	// LinearLR is the probe's base rate (0 = 1.6, scaled by batch/256).
	LinearLR float64 `yaml:"linear_lr" json:"linear_lr"`
	// LinearBatch is the probe's batch (0 = 256).
	LinearBatch int `yaml:"linear_batch" json:"linear_batch"`
}

// validate checks the options' ranges.
func (o EvalOptions) validate() error {
	for _, v := range []struct {
		key string
		n   int
	}{{"batch", o.Batch}, {"knn_max_k", o.KNNMaxK}, {"knn_train_samples", o.KNNTrainSamples},
		{"collapse_samples", o.CollapseSamples}, {"loss_samples", o.LossSamples},
		{"linear_epochs", o.LinearEpochs}, {"linear_batch", o.LinearBatch}} {
		if v.n < 0 {
			return fmt.Errorf("eval_options: %s %d < 0", v.key, v.n)
		}
	}
	if math.IsNaN(o.LinearLR) || math.IsInf(o.LinearLR, 0) || o.LinearLR < 0 {
		return fmt.Errorf("eval_options: linear_lr %v must be >= 0 (0 = default)", o.LinearLR)
	}
	if _, err := collapseMethod(o.CollapseMethod); err != nil {
		return err
	}
	return nil
}

// collapseMethod parses eval_options.collapse_method.
func collapseMethod(s string) (collapse.Method, error) {
	switch strings.ToLower(s) {
	case "", "cov", "cov64":
		return collapse.MethodCovariance, nil
	case "cov32":
		return collapse.MethodCovariance32, nil
	}
	m, err := collapse.ParseMethod(strings.ToLower(s))
	if err != nil {
		return 0, fmt.Errorf("eval_options: collapse_method %q: want cov, cov32 or svd", s)
	}
	return m, nil
}

// fileKeys are the top-level keys of a sweep file.
var fileKeys = []string{"name", "base", "grid", "eval", "eval_options"}

// configKeys lists the keys of train.Config in struct order.
func configKeys() []string {
	var keys []string
	t := reflect.TypeOf(train.Config{})
	for i := 0; i < t.NumField(); i++ {
		keys = append(keys, strings.Split(t.Field(i).Tag.Get("yaml"), ",")[0])
	}
	return keys
}

// Parse reads a sweep file:
//
//	name: orderings-small            # optional
//	base: {data: fashion-mnist, width: 8, steps: 3000, batch: 256}
//	grid: {order: [multi, single, hybrid], seed: [1, 2, 3]}
//	eval: [collapse, knn, loss, linear]   # default: collapse, knn, loss
//	eval_options: {linear_epochs: 30, linear_cached: true}
//
// base takes the keys of `siam train`'s YAML config; every grid axis is a config
// key not set in base, with a non-empty list of distinct values. The grid expands
// in file order, the first axis varying slowest. Every point's config is validated
// (train.Config.Validate, after the ViT defaults of train.WithArchDefaults), so a
// bad value fails before anything runs. Errors name the file line.
func Parse(b []byte) (*Sweep, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(b, &root); err != nil {
		return nil, fmt.Errorf("sweep: %v", err)
	}
	if len(root.Content) == 0 {
		return nil, errors.New("sweep: empty file (want base, grid and eval keys)")
	}
	m := root.Content[0]
	if m.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("sweep: line %d: want a mapping with keys %s", m.Line, strings.Join(fileKeys, ", "))
	}
	s := &Sweep{Base: train.DefaultConfig(), Source: slices.Clone(b), Evals: DefaultEvals}
	seen := map[string]bool{}
	var grid *yaml.Node
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		if !slices.Contains(fileKeys, k.Value) {
			return nil, fmt.Errorf("sweep: line %d: unknown key %q (want %s)", k.Line, k.Value, strings.Join(fileKeys, ", "))
		}
		if seen[k.Value] {
			return nil, fmt.Errorf("sweep: line %d: key %q given twice", k.Line, k.Value)
		}
		seen[k.Value] = true
		var err error
		switch k.Value {
		case "name":
			if v.Kind != yaml.ScalarNode {
				return nil, fmt.Errorf("sweep: line %d: name must be a string", v.Line)
			}
			s.Name = v.Value
		case "base":
			err = s.parseBase(v)
		case "grid":
			grid = v
		case "eval":
			err = s.parseEvals(v)
		case "eval_options":
			err = s.parseEvalOptions(v)
		}
		if err != nil {
			return nil, err
		}
	}
	if grid == nil {
		return nil, fmt.Errorf("sweep: line %d: no grid (want e.g. grid: {order: [multi, single], seed: [1, 2]})", m.Line)
	}
	if err := s.parseGrid(grid); err != nil {
		return nil, err
	}
	if err := s.expand(); err != nil {
		return nil, err
	}
	return s, nil
}

// decodeKey sets one config key from a YAML value node.
func decodeKey(c *train.Config, k, v *yaml.Node) error {
	if v.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: key %q: want a single value", v.Line, k.Value)
	}
	one := &yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{k, v}}
	if err := one.Decode(c); err != nil {
		return fmt.Errorf("line %d: key %q: bad value %q", v.Line, k.Value, v.Value)
	}
	return nil
}

func (s *Sweep) parseBase(v *yaml.Node) error {
	if v.Kind == yaml.ScalarNode && v.Tag == "!!null" {
		return nil
	}
	if v.Kind != yaml.MappingNode {
		return fmt.Errorf("sweep: line %d: base must be a mapping of config keys", v.Line)
	}
	known := configKeys()
	for i := 0; i+1 < len(v.Content); i += 2 {
		k, val := v.Content[i], v.Content[i+1]
		if !slices.Contains(known, k.Value) {
			return fmt.Errorf("sweep: line %d: base: unknown config key %q", k.Line, k.Value)
		}
		if slices.Contains(s.BaseKeys, k.Value) {
			return fmt.Errorf("sweep: line %d: base: key %q given twice", k.Line, k.Value)
		}
		if err := decodeKey(&s.Base, k, val); err != nil {
			return fmt.Errorf("sweep: base: %w", err)
		}
		s.BaseKeys = append(s.BaseKeys, k.Value)
	}
	return nil
}

func (s *Sweep) parseGrid(v *yaml.Node) error {
	if v.Kind != yaml.MappingNode {
		return fmt.Errorf("sweep: line %d: grid must be a mapping of config key: [values]", v.Line)
	}
	if len(v.Content) == 0 {
		return fmt.Errorf("sweep: line %d: grid is empty (give at least one axis, e.g. seed: [1, 2, 3])", v.Line)
	}
	known := configKeys()
	for i := 0; i+1 < len(v.Content); i += 2 {
		k, list := v.Content[i], v.Content[i+1]
		switch {
		case !slices.Contains(known, k.Value):
			return fmt.Errorf("sweep: line %d: grid axis %q is not a config key", k.Line, k.Value)
		case slices.Contains(s.BaseKeys, k.Value):
			return fmt.Errorf("sweep: line %d: %q is both in base and a grid axis (keep one)", k.Line, k.Value)
		case slices.ContainsFunc(s.Axes, func(a Axis) bool { return a.Key == k.Value }):
			return fmt.Errorf("sweep: line %d: grid axis %q given twice", k.Line, k.Value)
		case list.Kind != yaml.SequenceNode:
			return fmt.Errorf("sweep: line %d: grid axis %q: want a list of values, e.g. [1, 2]", list.Line, k.Value)
		case len(list.Content) == 0:
			return fmt.Errorf("sweep: line %d: grid axis %q has no values", list.Line, k.Value)
		}
		a := Axis{Key: k.Value, Line: k.Line}
		names := map[string]string{}
		for _, item := range list.Content {
			c := s.Base
			if err := decodeKey(&c, k, item); err != nil {
				return fmt.Errorf("sweep: grid: %w", err)
			}
			safe := safeName(item.Value)
			if prev, dup := names[safe]; dup {
				return fmt.Errorf("sweep: line %d: grid axis %q: values %q and %q give the same run name", item.Line, k.Value, prev, item.Value)
			}
			names[safe] = item.Value
			a.Values = append(a.Values, item.Value)
		}
		s.Axes = append(s.Axes, a)
	}
	return nil
}

func (s *Sweep) parseEvals(v *yaml.Node) error {
	if v.Kind != yaml.SequenceNode {
		return fmt.Errorf("sweep: line %d: eval must be a list from %s", v.Line, strings.Join(evalrun.Kinds, ", "))
	}
	var got []string
	for _, item := range v.Content {
		if item.Kind != yaml.ScalarNode || !slices.Contains(evalrun.Kinds, item.Value) {
			return fmt.Errorf("sweep: line %d: eval: unknown evaluation %q (want %s)", item.Line, item.Value, strings.Join(evalrun.Kinds, ", "))
		}
		if slices.Contains(got, item.Value) {
			return fmt.Errorf("sweep: line %d: eval: %q listed twice", item.Line, item.Value)
		}
		got = append(got, item.Value)
	}
	s.Evals = nil
	for _, k := range evalrun.Kinds { // run in the canonical order
		if slices.Contains(got, k) {
			s.Evals = append(s.Evals, k)
		}
	}
	return nil
}

func (s *Sweep) parseEvalOptions(v *yaml.Node) error {
	if v.Kind != yaml.MappingNode {
		return fmt.Errorf("sweep: line %d: eval_options must be a mapping", v.Line)
	}
	var known []string
	t := reflect.TypeOf(EvalOptions{})
	for i := 0; i < t.NumField(); i++ {
		known = append(known, t.Field(i).Tag.Get("yaml"))
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(v.Content); i += 2 {
		k, val := v.Content[i], v.Content[i+1]
		if !slices.Contains(known, k.Value) {
			return fmt.Errorf("sweep: line %d: eval_options: unknown key %q (want %s)", k.Line, k.Value, strings.Join(known, ", "))
		}
		if seen[k.Value] {
			return fmt.Errorf("sweep: line %d: eval_options: key %q given twice", k.Line, k.Value)
		}
		seen[k.Value] = true
		one := &yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{k, val}}
		if val.Kind != yaml.ScalarNode || one.Decode(&s.EvalOptions) != nil {
			return fmt.Errorf("sweep: line %d: eval_options: key %q: bad value %q", val.Line, k.Value, val.Value)
		}
	}
	if err := s.EvalOptions.validate(); err != nil {
		return fmt.Errorf("sweep: line %d: %w", v.Line, err)
	}
	return nil
}

// maxPoints bounds a grid's size, so a typo cannot ask for millions of folders.
const maxPoints = 100_000

// expand builds the points: the cartesian product of the axes, first axis slowest.
func (s *Sweep) expand() error {
	n := 1
	for _, a := range s.Axes {
		n *= len(a.Values)
		if n > maxPoints {
			return fmt.Errorf("sweep: grid has more than %d points", maxPoints)
		}
	}
	explicit := map[string]bool{}
	for _, k := range s.BaseKeys {
		explicit[k] = true
	}
	for _, a := range s.Axes {
		explicit[a.Key] = true
	}
	idx := make([]int, len(s.Axes))
	var bad []string
	var firstErr error
	for p := 0; p < n; p++ {
		rem := p
		for i := len(s.Axes) - 1; i >= 0; i-- {
			idx[i] = rem % len(s.Axes[i].Values)
			rem /= len(s.Axes[i].Values)
		}
		c := s.Base
		pt := Point{Index: p}
		var parts []string
		for i, a := range s.Axes {
			val := a.Values[idx[i]]
			k := &yaml.Node{Kind: yaml.ScalarNode, Value: a.Key}
			v := &yaml.Node{Kind: yaml.ScalarNode, Value: val, Line: a.Line}
			if err := decodeKey(&c, k, v); err != nil { // checked in parseGrid
				return fmt.Errorf("sweep: grid: %w", err)
			}
			pt.Values = append(pt.Values, val)
			parts = append(parts, a.Key+"="+safeName(val))
		}
		pt.Name = strings.Join(parts, ",")
		pt.Config = train.WithArchDefaults(c, explicit)
		if err := pt.Config.Validate(); err != nil {
			if firstErr == nil {
				firstErr = fmt.Errorf("run %s: %w", pt.Name, err)
			}
			bad = append(bad, pt.Name)
		}
		s.Points = append(s.Points, pt)
	}
	if firstErr != nil {
		more := ""
		if len(bad) > 1 {
			more = fmt.Sprintf(" (%d of %d runs are invalid)", len(bad), n)
		}
		return fmt.Errorf("sweep: %w%s", firstErr, more)
	}
	return nil
}

// safeName makes a value usable in a folder name: letters, digits and . _ + -
// stay, anything else becomes '_'; an empty value is "empty".
func safeName(v string) string {
	if v == "" {
		return "empty"
	}
	b := []byte(v)
	for i, c := range b {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '+' || c == '-'
		if !ok {
			b[i] = '_'
		}
	}
	s := string(b)
	if s == "." || s == ".." {
		s = strings.Repeat("_", len(s))
	}
	return s
}

// Point returns the run of the given name.
func (s *Sweep) Point(name string) (Point, bool) {
	for _, p := range s.Points {
		if p.Name == name {
			return p, true
		}
	}
	return Point{}, false
}

// canonical is what identifies a sweep: every run's name and complete config, the
// evaluations and their options. Two files with the same canonical form (they may
// differ in comments, layout or key order) are the same sweep.
type canonical struct {
	Name        string      `json:"name"`
	Evals       []string    `json:"evals"`
	EvalOptions EvalOptions `json:"eval_options"`
	Runs        []struct {
		Name   string       `json:"name"`
		Config train.Config `json:"config"`
	} `json:"runs"`
}

func (s *Sweep) canonical() canonical {
	c := canonical{Name: s.Name, Evals: s.Evals, EvalOptions: s.EvalOptions}
	for _, p := range s.Points {
		c.Runs = append(c.Runs, struct {
			Name   string       `json:"name"`
			Config train.Config `json:"config"`
		}{p.Name, p.Config})
	}
	return c
}

// Hash is the SHA-256 of the sweep's canonical form (runs, configs, evaluations).
func (s *Sweep) Hash() string {
	b, _ := json.Marshal(s.canonical())
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// Diff describes the first difference between two sweeps ("" when they are the
// same sweep), for the error that refuses to mix them in one folder.
func (s *Sweep) Diff(o *Sweep) string {
	a, b := s.canonical(), o.canonical()
	switch {
	case a.Name != b.Name:
		return fmt.Sprintf("name %q vs %q", a.Name, b.Name)
	case !slices.Equal(a.Evals, b.Evals):
		return fmt.Sprintf("eval [%s] vs [%s]", strings.Join(a.Evals, ", "), strings.Join(b.Evals, ", "))
	case a.EvalOptions != b.EvalOptions:
		return fmt.Sprintf("eval_options %+v vs %+v", a.EvalOptions, b.EvalOptions)
	}
	for i := range min(len(a.Runs), len(b.Runs)) {
		ra, rb := a.Runs[i], b.Runs[i]
		if ra.Name != rb.Name {
			return fmt.Sprintf("run %d is %s vs %s", i, ra.Name, rb.Name)
		}
		if d := configDiff(ra.Config, rb.Config); d != "" {
			return fmt.Sprintf("run %s: %s", ra.Name, d)
		}
	}
	if len(a.Runs) != len(b.Runs) {
		return fmt.Sprintf("%d runs vs %d", len(a.Runs), len(b.Runs))
	}
	return ""
}

// configDiff names the first config key that differs ("" when none does).
func configDiff(a, b train.Config) string {
	va, vb := reflect.ValueOf(a), reflect.ValueOf(b)
	keys := configKeys()
	for i := range va.NumField() {
		if x, y := va.Field(i).Interface(), vb.Field(i).Interface(); x != y {
			return fmt.Sprintf("%s %v vs %v", keys[i], x, y)
		}
	}
	return ""
}
