// Package report builds one self-contained HTML page from `siam train` run folders:
// per run the config, the loss, AUC and k-NN accuracy against step and the singular
// value spectra at each monitored step (the paper's Figure 6); across runs the final
// spectra and explained-variance curves (Figure 3), training curves on one figure
// (Figure 8), a summary table and, given at least 4 evaluated runs, the label-free
// accuracy predictor accuracy ≈ a·val_loss + b·AUC + c with its predicted-versus-
// actual scatter (Figure 4, package predict).
//
// The page has inline SVG figures (package plots) and a small stylesheet, no
// scripts and no external assets, so it can be mailed or archived as one file.
//
// A run folder holds config.yaml (optional), metrics.jsonl (required, except in
// a folder of results from `siam ... --weights`, which has no training history),
// spectra.jsonl and results.jsonl (optional); see the constants ConfigFile etc.
// Malformed lines are errors naming file:line. Sections are chosen by
// Options.Sections: by default every section the data allow (and the rest is
// skipped with a note); a section named there is required, and a run that lacks
// its data is an error naming the folder and the file.
package report

import (
	"bytes"
	"fmt"
	"github.com/siam-ssl/siam/collapse"
	"html/template"
	"math"
	"path/filepath"
	"slices"
	"strings"

	"gonum.org/v1/plot/vg"

	"github.com/siam-ssl/siam/plots"
	"github.com/siam-ssl/siam/predict"
)

// Section names a part of the report, for Options.Sections.
type Section string

// The report's sections.
const (
	// SectionLoss is the per-run training loss against step (metrics.jsonl).
	SectionLoss Section = "loss"
	// SectionMonitor is the per-run AUC and k-NN accuracy against step (the "auc"
	// and "knn_acc" fields of monitored steps in metrics.jsonl).
	SectionMonitor Section = "monitor"
	// SectionSpectra is the per-run spectra and explained-variance curves at each
	// monitored step (spectra.jsonl; Figure 6).
	SectionSpectra Section = "spectra"
	// SectionCompare is the across-run figures: final spectra and explained variance
	// (Figure 3; results.jsonl "collapse" or the last spectra.jsonl line) and, with
	// several runs, loss/AUC/k-NN against step on shared axes (Figure 8).
	SectionCompare Section = "compare"
	// SectionSummary is the table of final numbers per run.
	SectionSummary Section = "summary"
	// SectionPredictor is the label-free accuracy predictor (needs at least 4 runs
	// with a "loss" result, an AUC and an accuracy; Figure 4).
	SectionPredictor Section = "predictor"
)

// AllSections lists every section in page order.
var AllSections = []Section{SectionLoss, SectionMonitor, SectionSpectra, SectionCompare, SectionSummary, SectionPredictor}

// MinPredictorRuns is the number of runs the predictor needs: one more than its 3
// parameters, so that R² means something.
const MinPredictorRuns = 4

// Options configure Build. The zero value is a complete default report.
type Options struct {
	// Title is the page title; default "siam report".
	Title string
	// Sections lists the sections to include, each required: a run lacking the data
	// of one is an error. Empty means every section the data allow.
	Sections []Section
	// Accuracy is the accuracy the predictor fits: "linear" (linear probe),
	// "knn" (k-NN evaluation, or the last monitored k-NN accuracy when a run has no
	// k-NN result) or "" for linear when at least MinPredictorRuns runs have it, else
	// knn.
	Accuracy string
	// MaxSpectra caps the monitored steps drawn in a run's spectra figure (evenly
	// spaced, first and last kept); default 8.
	MaxSpectra int
	// Names overrides the run names (default: the folder's base name, or the path
	// when two base names clash); when set it has one entry per run folder.
	Names []string
	// FigureWidth and FigureHeight size the figures; default 6.5 × 3.4 inches.
	FigureWidth, FigureHeight vg.Length
	// Warn, when set, receives every warning about the inputs (a blank or torn
	// line skipped, a non-finite value not drawn, a collapse alarm), each naming
	// its file and line or step; the page shows them too.
	Warn func(string)
}

func (o *Options) defaults() error {
	if o.Title == "" {
		o.Title = "siam report"
	}
	if o.MaxSpectra <= 0 {
		o.MaxSpectra = 8
	}
	if o.FigureWidth <= 0 {
		o.FigureWidth = 6.5 * vg.Inch
	}
	if o.FigureHeight <= 0 {
		o.FigureHeight = 3.4 * vg.Inch
	}
	switch o.Accuracy {
	case "", "linear", "knn":
	default:
		return fmt.Errorf("report: accuracy %q: want linear, knn or empty (automatic)", o.Accuracy)
	}
	for _, s := range o.Sections {
		if !slices.Contains(AllSections, s) {
			return fmt.Errorf("report: unknown section %q (want one of %v)", s, AllSections)
		}
	}
	return nil
}

// want reports whether section s is shown and whether it is required.
func (o *Options) want(s Section) (show, required bool) {
	if len(o.Sections) == 0 {
		return true, false
	}
	in := slices.Contains(o.Sections, s)
	return in, in
}

// summary is one row of the summary table. Values are NaN when unknown; the *From
// fields say where a value came from when it is not the evaluation result.
type summary struct {
	Steps              int
	FinalLoss          float64
	AUC, RankMe        float64
	AUCFrom            string // "" (results.jsonl collapse), "monitor", "spectra"
	KNN                float64
	KNNFrom            string // "" (results.jsonl knn) or "monitor"
	Linear, ValLoss    float64
	FinalSigma         []float64
	FinalSigmaFrom     string  // results.jsonl or spectra.jsonl
	Monitored          int     // metrics lines with auc or knn_acc
	MonitorAUC, MonKNN int     // metrics lines with auc / with knn_acc
	pred               float64 // the predictor's in-sample prediction (%), NaN if none
}

func (r *run) summarize() summary {
	nan := math.NaN()
	s := summary{AUC: nan, RankMe: nan, KNN: nan, Linear: nan, ValLoss: nan, pred: nan}
	s.FinalLoss = nan
	if len(r.metrics) > 0 {
		last := r.metrics[len(r.metrics)-1]
		s.Steps, s.FinalLoss = *last.Step, *last.Loss
	}
	var lastAUC, lastRank, lastKNN *float64
	for _, m := range r.metrics {
		if m.AUC != nil || m.KNN != nil {
			s.Monitored++
		}
		if m.AUC != nil {
			s.MonitorAUC++
			lastAUC = m.AUC
		}
		if m.RankMe != nil {
			lastRank = m.RankMe
		}
		if m.KNN != nil {
			s.MonKNN++
			lastKNN = m.KNN
		}
	}
	if c, ok := r.results["collapse"]; ok {
		s.AUC = *c.AUC
		if c.RankMe != nil {
			s.RankMe = *c.RankMe
		}
		if len(c.SingularValues) > 0 {
			s.FinalSigma, s.FinalSigmaFrom = c.SingularValues, ResultsFile
		}
	} else if lastAUC != nil {
		s.AUC, s.AUCFrom = *lastAUC, "monitor"
		if lastRank != nil {
			s.RankMe = *lastRank
		}
	}
	if s.FinalSigma == nil && len(r.spectra) > 0 {
		s.FinalSigma, s.FinalSigmaFrom = r.spectra[len(r.spectra)-1].SingularValues, SpectraFile
	}
	if math.IsNaN(s.AUC) && s.FinalSigma != nil {
		s.AUC, s.AUCFrom = collapse.AUC(s.FinalSigma), "spectra"
	}
	if k, ok := r.results["knn"]; ok {
		s.KNN = *k.Accuracy
	} else if lastKNN != nil {
		s.KNN, s.KNNFrom = *lastKNN, "monitor"
	}
	if l, ok := r.results["linear"]; ok {
		s.Linear = *l.Accuracy
	}
	if l, ok := r.results["loss"]; ok {
		s.ValLoss = *l.ValLoss
	}
	return s
}

// Build reads the run folders and returns the HTML report. See the package doc for
// the sections and Options for the choices.
func Build(runDirs []string, opts Options) ([]byte, error) {
	if len(runDirs) == 0 {
		return nil, fmt.Errorf("report: no run folders given")
	}
	if err := opts.defaults(); err != nil {
		return nil, err
	}
	if opts.Names != nil && len(opts.Names) != len(runDirs) {
		return nil, fmt.Errorf("report: %d names for %d run folders", len(opts.Names), len(runDirs))
	}
	runs := make([]*run, len(runDirs))
	base := map[string]int{}
	for i, d := range runDirs {
		r, err := loadRun(d)
		if err != nil {
			return nil, err
		}
		runs[i] = r
		base[r.name]++
		if opts.Warn != nil {
			for _, w := range r.warnings {
				opts.Warn(w)
			}
		}
	}
	for i, r := range runs {
		switch {
		case opts.Names != nil:
			r.name = opts.Names[i]
		case base[r.name] > 1:
			r.name = filepath.ToSlash(filepath.Clean(r.dir))
		}
	}
	b := &builder{opts: opts, runs: runs}
	page, err := b.build()
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := pageTmpl.Execute(&buf, page); err != nil {
		return nil, fmt.Errorf("report: rendering HTML: %w", err)
	}
	return buf.Bytes(), nil
}

// figure is a rendered figure with its caption.
type figure struct {
	SVG     template.HTML
	Caption string
}

// kv is one config entry.
type kv struct{ Key, Value string }

// runPage is the per-run part of the page.
type runPage struct {
	ID, Name, Dir string
	Config        []kv
	ConfigNote    string
	Figures       []figure
	Notes         []string
}

// row is one summary table row, formatted.
type row struct {
	Name                                                 string
	Steps, Loss, AUC, RankMe, KNN, Linear, ValLoss, Pred string
}

// coef is one fit of the predictor, formatted.
type coef struct{ Kind, A, B, C, R2, RMSE string }

// page is the template's data.
type page struct {
	Title       string
	Runs        []runPage
	Compare     []figure
	Rows        []row
	ShowSummary bool
	Footnotes   []string
	Predictor   *predictorPage
	Notes       []string
}

type predictorPage struct {
	Accuracy string
	Formula  string
	Fits     []coef
	Figure   figure
	Excluded []string
}

type builder struct {
	opts Options
	runs []*run
	sums []summary
}

// figureHook, when set (by tests), sees every figure before it is rendered.
var figureHook func(f *plots.Figure, caption string)

func (b *builder) render(f *plots.Figure, caption string) (figure, error) {
	if figureHook != nil {
		figureHook(f, caption)
	}
	svg, err := plots.Render(f, "svg", b.opts.FigureWidth, b.opts.FigureHeight)
	if err != nil {
		return figure{}, fmt.Errorf("report: %s: %w", caption, err)
	}
	return figure{SVG: template.HTML(inlineSVG(svg)), Caption: caption}, nil
}

// inlineSVG strips the XML prolog and comment so the SVG can sit inside HTML.
func inlineSVG(svg []byte) string {
	s := string(svg)
	if i := strings.Index(s, "<svg"); i >= 0 {
		s = s[i:]
	}
	return s
}

func (b *builder) build() (*page, error) {
	p := &page{Title: b.opts.Title}
	for _, r := range b.runs {
		b.sums = append(b.sums, r.summarize())
	}
	if err := b.checkRequired(); err != nil {
		return nil, err
	}
	for i, r := range b.runs {
		rp, err := b.runSection(i, r)
		if err != nil {
			return nil, err
		}
		p.Runs = append(p.Runs, rp)
	}
	if show, _ := b.opts.want(SectionCompare); show {
		figs, err := b.compareSection()
		if err != nil {
			return nil, err
		}
		p.Compare = figs
	}
	if show, _ := b.opts.want(SectionPredictor); show {
		pred, note, err := b.predictorSection()
		if err != nil {
			return nil, err
		}
		p.Predictor = pred
		if note != "" {
			p.Notes = append(p.Notes, note)
		}
	}
	if show, _ := b.opts.want(SectionSummary); show {
		p.ShowSummary = true
		b.summaryRows(p)
	}
	return p, nil
}

// checkRequired fails when a required section lacks data in some run.
func (b *builder) checkRequired() error {
	for i, r := range b.runs {
		s := b.sums[i]
		if _, req := b.opts.want(SectionLoss); req && len(r.metrics) == 0 {
			return fmt.Errorf("report: %s: no training history (no %s), needed by section %q", r.dir, MetricsFile, SectionLoss)
		}
		if _, req := b.opts.want(SectionMonitor); req && s.Monitored == 0 {
			return fmt.Errorf("report: %s: no monitored step (no \"auc\" or \"knn_acc\" field), needed by section %q", r.path(MetricsFile), SectionMonitor)
		}
		if _, req := b.opts.want(SectionSpectra); req && len(r.spectra) == 0 {
			return fmt.Errorf("report: %s: %s, needed by section %q", r.path(SpectraFile), missingWhy(r.hasSpectra), SectionSpectra)
		}
		if _, req := b.opts.want(SectionCompare); req && s.FinalSigma == nil {
			return fmt.Errorf("report: %s: no final spectrum: neither a \"collapse\" result with \"singular_values\" in %s nor a line in %s, needed by section %q",
				r.dir, ResultsFile, SpectraFile, SectionCompare)
		}
	}
	return nil
}

func missingWhy(exists bool) string {
	if exists {
		return "no spectrum lines"
	}
	return "file not found"
}

func (b *builder) runSection(i int, r *run) (runPage, error) {
	rp := runPage{ID: fmt.Sprintf("run-%d", i+1), Name: r.name, Dir: r.dir}
	if r.config == nil {
		rp.ConfigNote = "no " + ConfigFile + " in this folder"
	}
	rp.Config = configEntries(r.config, r.configKeys)
	rp.Notes = append(rp.Notes, r.warnings...)
	s := b.sums[i]
	add := func(f *plots.Figure, err error, caption string) error {
		if err != nil {
			return fmt.Errorf("report: %s: %w", r.dir, err)
		}
		fig, err := b.render(f, caption)
		if err != nil {
			return err
		}
		rp.Figures = append(rp.Figures, fig)
		return nil
	}
	if len(r.metrics) == 0 {
		rp.Notes = append(rp.Notes, "No "+MetricsFile+": a model measured without its training history (siam ... --weights); training curves skipped.")
	} else if x, y := lossCurve(r.metrics, 500); len(x) > 0 && b.showLoss() {
		f, err := plots.Lines("Training loss", "step", "loss", []plots.Series{{Name: "loss", X: x, Y: y}})
		if err := add(f, err, "SimSiam loss against step ("+MetricsFile+")."); err != nil {
			return rp, err
		}
	}
	if show, _ := b.opts.want(SectionMonitor); show && len(r.metrics) > 0 {
		if x, y := monitorCurve(r.metrics, func(m metric) *float64 { return m.AUC }, 1); len(x) > 0 {
			f, err := plots.Lines("Collapse AUC", "step", "AUC", []plots.Series{{Name: "AUC", X: x, Y: y}})
			if err := add(f, err, "AUC of the cumulative explained variance (Eq. 2) at monitored steps; higher is more collapse."); err != nil {
				return rp, err
			}
		}
		if x, y := monitorCurve(r.metrics, func(m metric) *float64 { return m.KNN }, 100); len(x) > 0 {
			f, err := plots.Lines("k-NN accuracy", "step", "k-NN accuracy (%)", []plots.Series{{Name: "k-NN accuracy (%)", X: x, Y: y}})
			if err := add(f, err, "Weighted 200-NN top-1 accuracy at monitored steps."); err != nil {
				return rp, err
			}
		}
		if s.Monitored == 0 {
			rp.Notes = append(rp.Notes, "No monitored steps in "+MetricsFile+" (no auc/knn_acc fields): AUC and k-NN curves skipped.")
		}
	}
	if show, _ := b.opts.want(SectionSpectra); show {
		if len(r.spectra) == 0 {
			rp.Notes = append(rp.Notes, fmt.Sprintf("%s: %s; spectra skipped.", SpectraFile, missingWhy(r.hasSpectra)))
		} else {
			var series []plots.Series
			for _, sp := range pickEven(r.spectra, b.opts.MaxSpectra) {
				series = append(series, plots.Series{Name: fmt.Sprintf("step %d", *sp.Step), Y: sp.SingularValues})
			}
			caption := fmt.Sprintf("Singular values of the representation at %d of %d monitored steps (log scale; Figure 6).", len(series), len(r.spectra))
			f, err := plots.Spectrum(series, plots.Options{LogY: true, Sequential: true, Title: "Spectra over training"})
			if err := add(f, err, caption); err != nil {
				return rp, err
			}
			f, err = plots.ExplainedVariance(series, plots.Options{Sequential: true, Title: "Explained variance over training"})
			if err := add(f, err, "Cumulative explained variance (Eq. 1) at the same steps, with AUC."); err != nil {
				return rp, err
			}
		}
	}
	return rp, nil
}

// configEntries formats the config in file order.
func configEntries(cfg map[string]any, keys []string) []kv {
	var out []kv
	for _, k := range keys {
		out = append(out, kv{Key: k, Value: formatValue(cfg[k])})
	}
	return out
}

// formatValue writes a YAML value compactly: scalars as is, lists in [..], maps in {..}.
func formatValue(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		if x == "" {
			return `""`
		}
		return x
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = k + ": " + formatValue(x[k])
		}
		return "{" + strings.Join(parts, ", ") + "}"
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = formatValue(e)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	}
	return fmt.Sprint(v)
}

// lossCurve returns the loss against step, averaged into at most maxPoints bins so
// that long runs give small figures.
func lossCurve(ms []metric, maxPoints int) (x, y []float64) {
	per := (len(ms) + maxPoints - 1) / maxPoints
	for i := 0; i < len(ms); i += per {
		end := min(i+per, len(ms))
		var sx, sy float64
		n := 0.0
		for _, m := range ms[i:end] {
			if finite(*m.Loss) { // non-finite values are named in the run's notes
				sx += float64(*m.Step)
				sy += *m.Loss
				n++
			}
		}
		if n > 0 {
			x, y = append(x, sx/n), append(y, sy/n)
		}
	}
	return x, y
}

// monitorCurve returns one monitored field against step, times scale.
func monitorCurve(ms []metric, field func(metric) *float64, scale float64) (x, y []float64) {
	for _, m := range ms {
		if v := field(m); v != nil && finite(*v) { // non-finite ones are named in the notes
			x, y = append(x, float64(*m.Step)), append(y, *v*scale)
		}
	}
	return x, y
}

// showLoss reports whether the loss section is shown.
func (b *builder) showLoss() bool {
	show, _ := b.opts.want(SectionLoss)
	return show
}

// finite reports whether v is neither NaN nor ±Inf.
func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// pickEven returns at most n elements of s, evenly spaced, keeping the first and last.
func pickEven[T any](s []T, n int) []T {
	if len(s) <= n {
		return s
	}
	if n == 1 {
		return s[len(s)-1:]
	}
	out := make([]T, 0, n)
	for i := range n {
		out = append(out, s[int(math.Round(float64(i)*float64(len(s)-1)/float64(n-1)))])
	}
	return out
}

func (b *builder) compareSection() ([]figure, error) {
	var figs []figure
	var series []plots.Series
	for i, r := range b.runs {
		if s := b.sums[i]; s.FinalSigma != nil {
			series = append(series, plots.Series{Name: r.name, Y: s.FinalSigma})
		}
	}
	if len(series) > 0 {
		f, err := plots.Spectrum(series, plots.Options{LogY: true, Title: "Final singular value spectra"})
		if err != nil {
			return nil, fmt.Errorf("report: final spectra: %w", err)
		}
		fig, err := b.render(f, "Singular values of each run's final representation (log scale; Figure 3, middle). From the latest \"collapse\" result in "+ResultsFile+", else the last line of "+SpectraFile+".")
		if err != nil {
			return nil, err
		}
		figs = append(figs, fig)
		f, err = plots.ExplainedVariance(series, plots.Options{Title: "Final cumulative explained variance"})
		if err != nil {
			return nil, fmt.Errorf("report: final explained variance: %w", err)
		}
		if fig, err = b.render(f, "Cumulative explained variance of the final spectra with AUC (Figure 3, right); higher AUC is more collapse."); err != nil {
			return nil, err
		}
		figs = append(figs, fig)
	}
	if len(b.runs) < 2 {
		return figs, nil
	}
	curves := []struct {
		title, ylabel, caption string
		get                    func(r *run) (x, y []float64)
	}{
		{"Training loss, all runs", "loss", "SimSiam loss against step.", func(r *run) ([]float64, []float64) { return lossCurve(r.metrics, 500) }},
		{"Collapse AUC, all runs", "AUC", "AUC at monitored steps (Figure 8, right).", func(r *run) ([]float64, []float64) {
			return monitorCurve(r.metrics, func(m metric) *float64 { return m.AUC }, 1)
		}},
		{"k-NN accuracy, all runs", "k-NN accuracy (%)", "Weighted 200-NN accuracy at monitored steps (Figure 8, left).", func(r *run) ([]float64, []float64) {
			return monitorCurve(r.metrics, func(m metric) *float64 { return m.KNN }, 100)
		}},
	}
	for _, c := range curves {
		var series []plots.Series
		for _, r := range b.runs {
			if x, y := c.get(r); len(x) > 0 {
				series = append(series, plots.Series{Name: r.name, X: x, Y: y})
			}
		}
		if len(series) < 2 {
			continue
		}
		f, err := plots.Lines(c.title, "step", c.ylabel, series)
		if err != nil {
			return nil, fmt.Errorf("report: %s: %w", c.title, err)
		}
		fig, err := b.render(f, c.caption)
		if err != nil {
			return nil, err
		}
		figs = append(figs, fig)
	}
	return figs, nil
}

// accuracyOf returns the accuracy the predictor uses for run i.
func (b *builder) accuracyOf(i int, kind string) float64 {
	if kind == "linear" {
		return b.sums[i].Linear
	}
	return b.sums[i].KNN
}

func (b *builder) predictorSection() (*predictorPage, string, error) {
	_, required := b.opts.want(SectionPredictor)
	kind := b.opts.Accuracy
	count := func(kind string) int {
		n := 0
		for i := range b.runs {
			s := b.sums[i]
			if !math.IsNaN(s.ValLoss) && !math.IsNaN(s.AUC) && !math.IsNaN(b.accuracyOf(i, kind)) {
				n++
			}
		}
		return n
	}
	if kind == "" {
		kind = "linear"
		if count("linear") < MinPredictorRuns {
			kind = "knn"
		}
	}
	var obs []predict.Observation
	var excluded []string
	for i, r := range b.runs {
		s := b.sums[i]
		var missing []string
		if math.IsNaN(s.ValLoss) {
			missing = append(missing, "val_loss ("+r.noResult("loss")+")")
		}
		if math.IsNaN(s.AUC) {
			missing = append(missing, "AUC ("+r.noResult("collapse")+", no monitored auc, no spectrum)")
		}
		if math.IsNaN(b.accuracyOf(i, kind)) {
			missing = append(missing, kind+" accuracy ("+r.noResult(kind)+")")
		}
		if len(missing) > 0 {
			excluded = append(excluded, r.name+": missing "+strings.Join(missing, ", "))
			continue
		}
		obs = append(obs, predict.Observation{Name: r.name, ValLoss: s.ValLoss, AUC: s.AUC, Accuracy: 100 * b.accuracyOf(i, kind)})
	}
	if len(obs) < MinPredictorRuns {
		msg := fmt.Sprintf("the label-free predictor needs at least %d runs with val loss, AUC and %s accuracy; %d have them", MinPredictorRuns, kind, len(obs))
		if len(excluded) > 0 {
			msg += " (" + strings.Join(excluded, "; ") + ")"
		}
		if required {
			return nil, "", fmt.Errorf("report: %s", msg)
		}
		if len(b.runs) < 2 {
			return nil, "", nil // nothing to compare: no note either
		}
		return nil, "Predictor skipped: " + msg + ".", nil
	}
	rep, err := predict.FitAll(obs)
	if err != nil {
		if required {
			return nil, "", fmt.Errorf("report: predictor: %w", err)
		}
		return nil, fmt.Sprintf("Predictor skipped: %v.", err), nil
	}
	j := rep.Joint
	pp := &predictorPage{
		Accuracy: kind,
		Formula: fmt.Sprintf("%s accuracy (%%) ≈ %.4g · val_loss %s %.4g · AUC %s %.4g   (R² = %.3f over %d runs)",
			kind, j.LossCoef, sign(j.AUCCoef), math.Abs(j.AUCCoef), sign(j.Intercept), math.Abs(j.Intercept), j.R2, j.NumModels),
		Excluded: excluded,
	}
	for _, fr := range []*predict.FitResult{rep.Joint, rep.LossOnly, rep.AUCOnly} {
		c := coef{Kind: string(fr.Kind), A: "–", B: "–", C: fmt.Sprintf("%.4g", fr.Intercept), R2: fmt.Sprintf("%.3f", fr.R2), RMSE: fmt.Sprintf("%.2f", fr.RMSE)}
		if fr.Kind != predict.AUCOnly {
			c.A = fmt.Sprintf("%.4g", fr.LossCoef)
		}
		if fr.Kind != predict.LossOnly {
			c.B = fmt.Sprintf("%.4g", fr.AUCCoef)
		}
		pp.Fits = append(pp.Fits, c)
	}
	actual := make([]float64, len(obs))
	for i, o := range obs {
		actual[i] = o.Accuracy
	}
	f, err := plots.Scatter(j.Predicted, actual, j.Names, j.R2)
	if err != nil {
		return nil, "", fmt.Errorf("report: predictor scatter: %w", err)
	}
	f.Plot.X.Label.Text = "predicted " + kind + " accuracy (%)"
	f.Plot.Y.Label.Text = "actual " + kind + " accuracy (%)"
	if pp.Figure, err = b.render(f, "Accuracy predicted from val loss and AUC against the measured accuracy (Figure 4); dashed: y = x."); err != nil {
		return nil, "", err
	}
	for i, o := range obs { // remember predictions for the summary table
		for k, r := range b.runs {
			if r.name == o.Name {
				b.sums[k].pred = j.Predicted[i]
			}
		}
	}
	return pp, "", nil
}

// noResult says why run r has no result of a kind.
func (r *run) noResult(kind string) string {
	if !r.hasResults {
		return "no " + r.path(ResultsFile)
	}
	return fmt.Sprintf("no %q result in %s", kind, r.path(ResultsFile))
}

func sign(v float64) string {
	if v < 0 {
		return "−"
	}
	return "+"
}

func (b *builder) summaryRows(p *page) {
	var monitorAUC, monitorKNN, spectraAUC bool
	for i, r := range b.runs {
		s := b.sums[i]
		rw := row{
			Name:    r.name,
			Steps:   steps(r, s),
			Loss:    num(s.FinalLoss, "%.4f"),
			AUC:     num(s.AUC, "%.3f"),
			RankMe:  num(s.RankMe, "%.1f"),
			KNN:     pct(s.KNN),
			Linear:  pct(s.Linear),
			ValLoss: num(s.ValLoss, "%.4f"),
			Pred:    "–",
		}
		switch s.AUCFrom {
		case "monitor":
			rw.AUC += " †"
			monitorAUC = true
		case "spectra":
			rw.AUC += " ‡"
			spectraAUC = true
		}
		if s.KNNFrom == "monitor" {
			rw.KNN += " †"
			monitorKNN = true
		}
		if p.Predictor != nil && !math.IsNaN(s.pred) {
			rw.Pred = fmt.Sprintf("%.1f%%", s.pred)
		}
		p.Rows = append(p.Rows, rw)
	}
	if monitorAUC || monitorKNN {
		p.Footnotes = append(p.Footnotes, "† last monitored value from "+MetricsFile+" (no evaluation result in "+ResultsFile+").")
	}
	if spectraAUC {
		p.Footnotes = append(p.Footnotes, "‡ computed from the last spectrum in "+SpectraFile+".")
	}
}

func num(v float64, format string) string {
	if math.IsNaN(v) {
		return "–"
	}
	return fmt.Sprintf(format, v)
}

func pct(v float64) string {
	if math.IsNaN(v) {
		return "–"
	}
	return fmt.Sprintf("%.1f%%", 100*v)
}

// steps is the summary table's step count: "–" for a folder without training
// history.
func steps(r *run, s summary) string {
	if len(r.metrics) == 0 {
		return "–"
	}
	return fmt.Sprint(s.Steps)
}
