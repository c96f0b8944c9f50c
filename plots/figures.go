package plots

import (
	"cmp"
	"fmt"
	"github.com/siam-ssl/siam/collapse"
	"image/color"
	"math"
	"slices"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// checkSpectra validates singular-value series: at least one, each non-empty, X nil
// or as long as Y, values finite and non-negative.
func checkSpectra(fig string, series []Series) error {
	if len(series) == 0 {
		return fmt.Errorf("plots: %s: no series", fig)
	}
	for i, s := range series {
		if len(s.Y) == 0 {
			return fmt.Errorf("plots: %s: series %d (%q) has no singular values", fig, i, s.Name)
		}
		if s.X != nil && len(s.X) != len(s.Y) {
			return fmt.Errorf("plots: %s: series %d (%q) has %d x values for %d singular values", fig, i, s.Name, len(s.X), len(s.Y))
		}
		for j, v := range s.Y {
			if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
				return fmt.Errorf("plots: %s: series %d (%q): singular value %d is %v (want finite, >= 0)", fig, i, s.Name, j+1, v)
			}
		}
	}
	return nil
}

// xAt returns the x of point j: s.X[j], or the 1-based index when X is nil.
func (s Series) xAt(j int) float64 {
	if s.X == nil {
		return float64(j + 1)
	}
	return s.X[j]
}

// Spectrum plots singular values against their index, one line per series, as the
// paper's Figure 3 (middle) and Figure 6. Each series' Y holds the singular values
// (sorted descending here; X, when given, is used as is). opts chooses a log y axis,
// per-series normalisation and sequential colours.
func Spectrum(series []Series, opts Options) (*Figure, error) {
	if err := checkSpectra("spectrum", series); err != nil {
		return nil, err
	}
	ylabel := "singular value"
	if opts.Normalize {
		ylabel = "singular value / largest"
	}
	ys := make([][]float64, len(series))
	var maxV, minPos = 0.0, math.Inf(1)
	for i, s := range series {
		y := slices.Clone(s.Y)
		slices.SortFunc(y, func(a, b float64) int { return cmp.Compare(b, a) })
		if opts.Normalize && y[0] > 0 {
			top := y[0]
			for j := range y {
				y[j] /= top
			}
		}
		for _, v := range y {
			maxV = math.Max(maxV, v)
			if v > 0 {
				minPos = math.Min(minPos, v)
			}
		}
		ys[i] = y
	}
	floor := 0.0
	if opts.LogY {
		if maxV == 0 {
			return nil, fmt.Errorf("plots: spectrum: every singular value is 0; nothing to draw on a log axis")
		}
		floor = math.Max(minPos/2, maxV*1e-12)
		clamped := false
		for _, y := range ys {
			for j, v := range y {
				if v < floor {
					y[j] = floor
					clamped = true
				}
			}
		}
		if clamped {
			ylabel += fmt.Sprintf(" (0 drawn at %s)", formatTick(floor))
		}
	}
	f := newFigure(pick(opts.Title, "Singular value spectrum"), pick(opts.XLabel, "index"), pick(opts.YLabel, ylabel))
	if opts.LogY {
		f.Plot.Y.Scale = plot.LogScale{}
		f.Plot.Y.Tick.Marker = logTicks{}
	}
	for i, s := range series {
		pts := make(plotter.XYs, len(ys[i]))
		for j, v := range ys[i] {
			pts[j] = plotter.XY{X: s.xAt(j), Y: v}
		}
		if err := f.addLine(s.Name, pts, lineStyle(i, len(series), opts.Sequential), false); err != nil {
			return nil, err
		}
	}
	return f, nil
}

// ExplainedVariance plots the cumulative explained variance of Eq. 1,
// cumsum(sigma)/sum(sigma), against the index, one line per series (Y = singular
// values), as the paper's Figure 3 (right). Each legend entry carries the series'
// AUC (Eq. 2, the mean of the curve; 0.5 flat .. 1 rank one). When every series has
// the same length a dashed grey line shows the flat spectrum (no collapse). opts.LogY
// and opts.Normalize are ignored.
func ExplainedVariance(series []Series, opts Options) (*Figure, error) {
	if err := checkSpectra("explained variance", series); err != nil {
		return nil, err
	}
	f := newFigure(pick(opts.Title, "Cumulative explained variance"),
		pick(opts.XLabel, "index"), pick(opts.YLabel, "cumulative explained variance"))
	f.Plot.Y.Min, f.Plot.Y.Max = 0, 1
	sameLen := true
	for _, s := range series {
		sameLen = sameLen && len(s.Y) == len(series[0].Y) && s.X == nil
	}
	if sameLen {
		d := len(series[0].Y)
		flat := plotter.XYs{{X: 1, Y: 1 / float64(d)}, {X: float64(d), Y: 1}}
		sty := draw.LineStyle{Color: color.Gray{Y: 150}, Width: vg.Points(1), Dashes: []vg.Length{vg.Points(4), vg.Points(3)}}
		if err := f.addLine("", flat, sty, false); err != nil {
			return nil, err
		}
	}
	for i, s := range series {
		ev := collapse.ExplainedVariance(s.Y)
		pts := make(plotter.XYs, len(ev))
		var auc float64
		for j, v := range ev {
			pts[j] = plotter.XY{X: s.xAt(j), Y: v}
			auc += v
		}
		auc /= float64(len(ev))
		name := fmt.Sprintf("%s (AUC %.3f)", shorten(s.Name, maxLegendName), auc)
		if s.Name == "" {
			name = fmt.Sprintf("AUC %.3f", auc)
		}
		if err := f.addLine(name, pts, lineStyle(i, len(series), opts.Sequential), false); err != nil {
			return nil, err
		}
	}
	if sameLen {
		f.Legend.Add("flat (AUC 0.5)", &plotter.Line{LineStyle: draw.LineStyle{Color: color.Gray{Y: 150}, Width: vg.Points(1), Dashes: []vg.Length{vg.Points(4), vg.Points(3)}}})
	}
	return f, nil
}

// Lines plots metric-versus-step curves (loss, AUC, k-NN accuracy against training
// step, as the paper's Figures 6 and 8), one line per series. Points whose X or Y is
// NaN or ±Inf are dropped; a series with 25 points or fewer also shows point markers.
// Series without any finite point are an error, as is an empty list.
func Lines(title, xlabel, ylabel string, series []Series) (*Figure, error) {
	if len(series) == 0 {
		return nil, fmt.Errorf("plots: %q: no series", title)
	}
	f := newFigure(title, xlabel, ylabel)
	for i, s := range series {
		if len(s.X) != len(s.Y) {
			return nil, fmt.Errorf("plots: %q: series %d (%q) has %d x values and %d y values", title, i, s.Name, len(s.X), len(s.Y))
		}
		var pts plotter.XYs
		for j := range s.X {
			x, y := s.X[j], s.Y[j]
			if math.IsNaN(x) || math.IsInf(x, 0) || math.IsNaN(y) || math.IsInf(y, 0) {
				continue
			}
			pts = append(pts, plotter.XY{X: x, Y: y})
		}
		if len(pts) == 0 {
			return nil, fmt.Errorf("plots: %q: series %d (%q) has no finite point", title, i, s.Name)
		}
		if err := f.addLine(s.Name, pts, lineStyle(i, len(series), false), len(pts) <= 25); err != nil {
			return nil, err
		}
	}
	if len(series) == 1 && series[0].Name == ylabel {
		f.Legend = plot.NewLegend() // a single, self-describing curve needs no legend
	}
	return f, nil
}

// Scatter plots predicted against actual values (the paper's Figure 4): one labelled
// point per model, the y = x line and R² in the title. labels may be nil; otherwise
// it has one entry per point. The axes share one range so that y = x is the
// diagonal. Axis texts can be changed through the returned Figure's Plot.
func Scatter(predicted, actual []float64, labels []string, r2 float64) (*Figure, error) {
	n := len(predicted)
	if n == 0 || len(actual) != n {
		return nil, fmt.Errorf("plots: scatter: %d predicted and %d actual values (want the same, > 0)", n, len(actual))
	}
	if labels != nil && len(labels) != n {
		return nil, fmt.Errorf("plots: scatter: %d labels for %d points", len(labels), n)
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	pts := make(plotter.XYs, n)
	for i := range n {
		p, a := predicted[i], actual[i]
		if math.IsNaN(p) || math.IsInf(p, 0) || math.IsNaN(a) || math.IsInf(a, 0) {
			return nil, fmt.Errorf("plots: scatter: point %d is (%v, %v)", i, p, a)
		}
		pts[i] = plotter.XY{X: p, Y: a}
		lo, hi = math.Min(lo, math.Min(p, a)), math.Max(hi, math.Max(p, a))
	}
	pad := 0.08 * (hi - lo)
	if pad == 0 {
		pad = math.Max(math.Abs(hi)*0.05, 1e-3)
	}
	lo, hi = lo-pad, hi+pad
	title := "Predicted vs. actual accuracy"
	if !math.IsNaN(r2) {
		title += fmt.Sprintf(" (R² = %.3f)", r2)
	}
	f := newFigure(title, "predicted accuracy", "actual accuracy")
	f.Plot.X.Min, f.Plot.X.Max, f.Plot.Y.Min, f.Plot.Y.Max = lo, hi, lo, hi
	diag := draw.LineStyle{Color: color.Gray{Y: 120}, Width: vg.Points(1), Dashes: []vg.Length{vg.Points(4), vg.Points(3)}}
	if err := f.addLine("y = x", plotter.XYs{{X: lo, Y: lo}, {X: hi, Y: hi}}, diag, false); err != nil {
		return nil, err
	}
	sc, err := plotter.NewScatter(pts)
	if err != nil {
		return nil, fmt.Errorf("plots: scatter: %w", err)
	}
	sc.GlyphStyle = draw.GlyphStyle{Color: tableau10[0], Radius: vg.Points(3.5), Shape: draw.CircleGlyph{}}
	f.Plot.Add(sc)
	f.Legend.Add("model", sc)
	if labels != nil {
		// Put each label on the side of its point away from the diagonal: left of
		// points above it, right of points below it.
		var left, right plotter.XYLabels
		for i, pt := range pts {
			if pt.Y > pt.X {
				left.XYs, left.Labels = append(left.XYs, pt), append(left.Labels, labels[i])
			} else {
				right.XYs, right.Labels = append(right.XYs, pt), append(right.Labels, labels[i])
			}
		}
		for _, g := range []struct {
			xy    plotter.XYLabels
			align draw.XAlignment
			dx    vg.Length
		}{{left, draw.XRight, -6}, {right, draw.XLeft, 6}} {
			if len(g.xy.XYs) == 0 {
				continue
			}
			lb, err := plotter.NewLabels(g.xy)
			if err != nil {
				return nil, fmt.Errorf("plots: scatter labels: %w", err)
			}
			for i := range lb.TextStyle {
				lb.TextStyle[i].Font = fontSans(8)
				lb.TextStyle[i].Color = color.Gray{Y: 60}
				lb.TextStyle[i].XAlign = g.align
				lb.TextStyle[i].YAlign = draw.YCenter
			}
			lb.Offset = vg.Point{X: g.dx}
			f.Plot.Add(lb)
		}
	}
	return f, nil
}

// addLine adds a line (with point markers when points is set) and its legend entry.
func (f *Figure) addLine(name string, pts plotter.XYs, sty draw.LineStyle, points bool) error {
	l, err := plotter.NewLine(pts)
	if err != nil {
		return fmt.Errorf("plots: %s: %w", name, err)
	}
	l.LineStyle = sty
	f.Plot.Add(l)
	if !points {
		f.addLegend(name, l)
		return nil
	}
	sc, err := plotter.NewScatter(pts)
	if err != nil {
		return fmt.Errorf("plots: %s: %w", name, err)
	}
	sc.GlyphStyle = draw.GlyphStyle{Color: sty.Color, Radius: vg.Points(2), Shape: draw.CircleGlyph{}}
	f.Plot.Add(sc)
	f.addLegend(name, l, sc)
	return nil
}

// CollapseFigures writes the two panels of the paper's Figure 3 for `siam collapse
// --plot PREFIX`: PREFIX-spectrum.svg/.png (singular values, log y axis) and
// PREFIX-explained.svg/.png (cumulative explained variance with AUC in the legend),
// every series (one per measured model; Y = singular values) on the same figure. It
// returns the four paths written, atomically, in that order.
func CollapseFigures(prefix string, series []Series) (paths []string, err error) {
	if prefix == "" {
		return nil, fmt.Errorf("plots: CollapseFigures: empty prefix")
	}
	spec, err := Spectrum(series, Options{LogY: true})
	if err != nil {
		return nil, err
	}
	ev, err := ExplainedVariance(series, Options{})
	if err != nil {
		return nil, err
	}
	for _, fig := range []struct {
		name string
		f    *Figure
	}{{"spectrum", spec}, {"explained", ev}} {
		for _, ext := range []string{"svg", "png"} {
			p := prefix + "-" + fig.name + "." + ext
			if err := Save(fig.f, p, DefaultWidth, DefaultHeight); err != nil {
				return paths, err
			}
			paths = append(paths, p)
		}
	}
	return paths, nil
}

// pick returns s, or def when s is empty.
func pick(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
