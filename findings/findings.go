// Package findings turns a study's committed sweep records into the verdict table
// of docs/RESULTS.md: for each of the paper's six findings it names the sweeps
// that test it, measures the finding's contrast from their finished runs (mean ±
// sd over seeds), and judges it reproduced, partly reproduced or not reproduced at
// this scale by a rule fixed before the runs (see Rules). Nothing is hand-entered:
// `siam sweep findings results` regenerates the table from the records alone.
package findings

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/siam-ssl/siam/sweep"
)

// The study's sweeps (experiments/NAME.yaml, run into results/NAME).
const (
	SubsetsSweep    = "c10-1-subsets"     // findings 1 and 2
	WidthDepthSweep = "c10-3-width-depth" // finding 3
	OrderingsSweep  = "c10-4-orderings"   // finding 4 (and SimSiam's side of 5)
	MethodsSweep    = "c10-5-methods"     // finding 5
)

// MinSeeds is the number of finished seeds every compared setting needs before a
// finding gets a verdict.
const MinSeeds = 3

// Verdicts.
const (
	Reproduced = "reproduced"
	Partly     = "partly"
	NotHere    = "not at this scale"
	Pending    = "pending"
)

// Rules says, in words, how each verdict is reached (printed under the table).
const Rules = `A difference counts when it lies in the paper's direction and exceeds twice its
standard error (sqrt(sd_a²/n_a + sd_b²/n_b) over seeds). A finding is reproduced
when every part of it counts, partly when some part counts or every part points the
paper's way without counting, and not reproduced at this scale otherwise. A finding
is pending until each setting it compares has ` + "3" + ` finished seeds; its interim
numbers are shown.`

// Row is one line of the verdict table.
type Row struct {
	ID int `json:"id"`
	// Finding is the paper's claim, Paper its published number.
	Finding string `json:"finding"`
	Paper   string `json:"paper"`
	// Setting is ours (data, model, steps, seeds), Measured the contrast with its
	// spread, Detail the numbers behind the verdict.
	Setting  string `json:"setting"`
	Measured string `json:"measured"`
	Verdict  string `json:"verdict"`
	Detail   string `json:"detail"`
	// Seeds is the smallest number of finished seeds among the compared settings.
	Seeds int `json:"seeds"`
	// Figure is a figure's path relative to docs/ ("" when none).
	Figure string `json:"figure"`
	// Sweeps are the sweep names the row reads; Command regenerates or extends them.
	Sweeps  []string `json:"sweeps"`
	Command string   `json:"command"`
	// CoreHours is the compute the finished runs of those sweeps took.
	CoreHours float64 `json:"core_hours"`
	// Progress counts the sweeps' runs.
	Progress string `json:"progress"`
}

// Study holds the aggregated sweeps found under a results folder, read once for
// the verdict rows and the predictor figure.
type Study struct {
	dir  string
	sums map[string]*sweep.Summary
	prog map[string]sweep.Progress
}

// Evaluate reads the study under dir (Load) and returns its six rows (Rows).
func Evaluate(dir string) ([]Row, error) {
	st, err := Load(dir)
	if err != nil {
		return nil, err
	}
	return st.Rows(), nil
}

// Load reads every study sweep under dir (results/NAME) that exists. A sweep
// folder that is missing leaves its rows pending; one that cannot be read is an
// error.
func Load(dir string) (*Study, error) {
	st := &Study{dir: dir, sums: map[string]*sweep.Summary{}, prog: map[string]sweep.Progress{}}
	for _, name := range []string{SubsetsSweep, WidthDepthSweep, OrderingsSweep, MethodsSweep} {
		d := filepath.Join(dir, name)
		if _, err := os.Stat(filepath.Join(d, sweep.RecordFile)); errors.Is(err, os.ErrNotExist) {
			continue
		}
		sum, err := sweep.Aggregate(d)
		if err != nil {
			return nil, fmt.Errorf("findings: %w", err)
		}
		s, err := sweep.Open(d)
		if err != nil {
			return nil, fmt.Errorf("findings: %w", err)
		}
		st.sums[name] = sum
		st.prog[name] = sweep.ProgressOf(d, sweep.Status(d, s, 0))
	}
	return st, nil
}

// Rows returns the six verdict rows, in order.
func (st *Study) Rows() []Row {
	rows := []Row{st.subsetsKNN(), st.subsetsAUC(), st.widthDepth(), st.orderings(), st.methods(), st.predictor()}
	for i := range rows {
		r := &rows[i]
		var p sweep.Progress
		for _, n := range r.Sweeps {
			if q, ok := st.prog[n]; ok {
				p.Add(q)
				r.CoreHours += q.CoreSeconds / 3600
			}
		}
		if p.Runs == 0 {
			r.Progress = "not started"
		} else {
			r.Progress = p.String()
		}
		if r.Command == "" {
			var cmds []string
			for _, n := range r.Sweeps {
				cmds = append(cmds, fmt.Sprintf("siam sweep experiments/%s.yaml --out results/%s", n, n))
			}
			r.Command = strings.Join(cmds, "; ")
		}
	}
	return rows
}

// Contrast is a difference of two settings' means with its standard error
// (sqrt(sd_a²/n_a + sd_b²/n_b); NaN with fewer than 2 values on a side): the one
// rule by which the verdicts and the demo call an effect measured.
type Contrast struct {
	A, B     sweep.Stat
	Diff, SE float64
}

// NewContrast is a − b.
func NewContrast(a, b sweep.Stat) Contrast {
	c := Contrast{A: a, B: b, Diff: a.Mean - b.Mean, SE: math.NaN()}
	if a.N >= 2 && b.N >= 2 {
		c.SE = math.Sqrt(a.SD*a.SD/float64(a.N) + b.SD*b.SD/float64(b.N))
	}
	return c
}

// Counts reports whether the difference lies in the direction sign (+1: a > b,
// -1: a < b) and exceeds twice its standard error.
func (c Contrast) Counts(sign float64) bool {
	return c.Points(sign) && !math.IsNaN(c.SE) && math.Abs(c.Diff) > 2*c.SE
}

// Points reports whether the difference lies in the direction sign.
func (c Contrast) Points(sign float64) bool { return !math.IsNaN(c.Diff) && c.Diff*sign > 0 }

// pts formats a difference of fractions in percentage points.
func (c Contrast) pts() string {
	if math.IsNaN(c.SE) {
		return fmt.Sprintf("%+.1f pts", 100*c.Diff)
	}
	return fmt.Sprintf("%+.1f ± %.1f pts", 100*c.Diff, 100*c.SE)
}

// plain formats a difference of plain numbers.
func (c Contrast) plain(prec int) string {
	if math.IsNaN(c.SE) {
		return fmt.Sprintf("%+.*f", prec, c.Diff)
	}
	return fmt.Sprintf("%+.*f ± %.*f", prec, c.Diff, prec, c.SE)
}

// judge combines the parts of a finding: every part counts → reproduced; some
// part counts, or every part points the right way → partly; else not here.
func judge(counts, points []bool) string {
	all, any, allPoint := true, false, true
	for i := range counts {
		all = all && counts[i]
		any = any || counts[i]
		allPoint = allPoint && points[i]
	}
	switch {
	case all:
		return Reproduced
	case any || allPoint:
		return Partly
	}
	return NotHere
}

// pct formats a statistic of a fraction as "48.3 ± 0.7 %".
func pct(s sweep.Stat) string {
	switch {
	case s.N == 0:
		return "—"
	case s.N == 1 || math.IsNaN(s.SD):
		return fmt.Sprintf("%.1f%%", 100*s.Mean)
	}
	return fmt.Sprintf("%.1f ± %.1f%%", 100*s.Mean, 100*s.SD)
}

// num formats a statistic as "0.812 ± 0.004".
func num(s sweep.Stat, prec int) string {
	switch {
	case s.N == 0:
		return "—"
	case s.N == 1 || math.IsNaN(s.SD):
		return fmt.Sprintf("%.*f", prec, s.Mean)
	}
	return fmt.Sprintf("%.*f ± %.*f", prec, s.Mean, prec, s.SD)
}

// group finds the group of sum whose axis values match want (axis key → value).
func group(sum *sweep.Summary, want map[string]string) (sweep.Group, bool) {
	for _, g := range sum.Groups {
		ok := true
		for k, v := range want {
			i := slices.Index(sum.Axes, k)
			if i < 0 || g.Values[i] != v {
				ok = false
				break
			}
		}
		if ok {
			return g, true
		}
	}
	return sweep.Group{}, false
}

// finishedSeeds is the smallest number of finished runs among groups.
func finishedSeeds(gs ...sweep.Group) int {
	n := math.MaxInt
	for _, g := range gs {
		n = min(n, g.Finished)
	}
	if n == math.MaxInt {
		return 0
	}
	return n
}

// setting describes a sweep's base: "CIFAR-10, ResNet-18 w4, 4000 steps × 256".
func setting(sum *sweep.Summary, vary string) string {
	c := sum.Config
	data := c.Data
	switch strings.ToLower(data) {
	case "cifar10", "cifar-10":
		data = "CIFAR-10"
	case "fashion-mnist":
		data = "Fashion-MNIST"
	case ".data/cifar10-10k":
		data = "CIFAR-10 (10,000-image training set)"
	}
	parts := []string{data}
	if !strings.Contains(vary, "arch") && !strings.Contains(vary, "width") {
		parts = append(parts, fmt.Sprintf("%s w%d", archName(c.Arch), c.Width))
	}
	parts = append(parts, fmt.Sprintf("%d steps × %d", c.Steps, c.Batch))
	if vary != "" {
		parts = append(parts, vary)
	}
	if n := len(sum.Seeds); n > 0 {
		parts = append(parts, fmt.Sprintf("%d seeds", n))
	}
	return strings.Join(parts, ", ")
}

func archName(a string) string {
	if strings.HasPrefix(a, "resnet") {
		return "ResNet-" + strings.TrimPrefix(a, "resnet")
	}
	return a
}

// pendingRow marks a row whose sweep has not started.
func pendingRow(r Row, why string) Row {
	r.Verdict, r.Measured, r.Detail = Pending, "—", why
	return r
}

// verdictOrPending keeps the computed verdict only when every compared setting
// has MinSeeds finished seeds.
func verdictOrPending(v string, seeds int) string {
	if seeds < MinSeeds {
		return Pending
	}
	return v
}

// numericGroups returns the groups of sum ordered by the numeric value of axis key.
func numericGroups(sum *sweep.Summary, key string) ([]sweep.Group, []float64) {
	i := slices.Index(sum.Axes, key)
	if i < 0 {
		return nil, nil
	}
	type gv struct {
		g sweep.Group
		v float64
	}
	var out []gv
	for _, g := range sum.Groups {
		v, err := strconv.ParseFloat(g.Values[i], 64)
		if err == nil {
			out = append(out, gv{g, v})
		}
	}
	slices.SortFunc(out, func(a, b gv) int {
		switch {
		case a.v < b.v:
			return -1
		case a.v > b.v:
			return 1
		}
		return 0
	})
	gs, vs := make([]sweep.Group, len(out)), make([]float64, len(out))
	for j, o := range out {
		gs[j], vs[j] = o.g, o.v
	}
	return gs, vs
}

// spearman is the rank correlation of x and y (NaN with fewer than 3 points or
// a constant series); ties get average ranks.
func spearman(x, y []float64) float64 {
	if len(x) < 3 || len(x) != len(y) {
		return math.NaN()
	}
	rx, ry := ranks(x), ranks(y)
	var mx, my float64
	for i := range rx {
		mx += rx[i]
		my += ry[i]
	}
	mx /= float64(len(rx))
	my /= float64(len(ry))
	var sxy, sxx, syy float64
	for i := range rx {
		sxy += (rx[i] - mx) * (ry[i] - my)
		sxx += (rx[i] - mx) * (rx[i] - mx)
		syy += (ry[i] - my) * (ry[i] - my)
	}
	if sxx == 0 || syy == 0 {
		return math.NaN()
	}
	return sxy / math.Sqrt(sxx*syy)
}

func ranks(v []float64) []float64 {
	idx := make([]int, len(v))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		switch {
		case v[a] < v[b]:
			return -1
		case v[a] > v[b]:
			return 1
		}
		return 0
	})
	r := make([]float64, len(v))
	for i := 0; i < len(idx); {
		j := i
		for j+1 < len(idx) && v[idx[j+1]] == v[idx[i]] {
			j++
		}
		avg := float64(i+j)/2 + 1
		for k := i; k <= j; k++ {
			r[idx[k]] = avg
		}
		i = j + 1
	}
	return r
}
