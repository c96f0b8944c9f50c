package plots

import (
	"fmt"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// ErrorSeries is one line of means with symmetric error bars (± one standard
// deviation over seeds, say). X, Y and Err have the same length; a NaN Y drops
// its point, a NaN Err draws no bar.
type ErrorSeries struct {
	Name      string
	X, Y, Err []float64
}

// ErrorBarOptions configure ErrorBars.
type ErrorBarOptions struct {
	// LogX draws the x axis on a log scale (subset sizes 1% .. 100%); every X must
	// then be positive.
	LogX bool
	// Categories, when set, names the x positions: X values are indices 0..len-1
	// into it (orderings, methods). Several series are then spread a little around
	// each position so that their bars do not overlap.
	Categories []string
}

// ErrorBars plots a metric against a setting, one line per series with error bars
// at every point: k-NN accuracy against subset size (the paper's Figure 2), or
// accuracy and AUC per data ordering with the spread over seeds (Table 2). Series
// without any finite point are an error, as is an empty list.
func ErrorBars(title, xlabel, ylabel string, series []ErrorSeries, opts ErrorBarOptions) (*Figure, error) {
	if len(series) == 0 {
		return nil, fmt.Errorf("plots: %q: no series", title)
	}
	f := newFigure(title, xlabel, ylabel)
	if opts.LogX {
		f.Plot.X.Scale = plot.LogScale{}
		f.Plot.X.Tick.Marker = logTicks{}
	}
	cat := len(opts.Categories) > 0
	if cat {
		f.Plot.NominalX(opts.Categories...)
		f.Plot.X.Min, f.Plot.X.Max = -0.5, float64(len(opts.Categories))-0.5
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for i, s := range series {
		if len(s.X) != len(s.Y) || len(s.Err) != len(s.Y) {
			return nil, fmt.Errorf("plots: %q: series %d (%q) has %d x, %d y and %d error values", title, i, s.Name, len(s.X), len(s.Y), len(s.Err))
		}
		dodge := 0.0
		if cat && len(series) > 1 {
			dodge = (float64(i) - float64(len(series)-1)/2) * math.Min(0.3/float64(len(series)-1), 0.1)
		}
		var pts plotter.XYs
		var errs plotter.YErrors
		for j := range s.X {
			x, y, e := s.X[j], s.Y[j], s.Err[j]
			if math.IsNaN(x) || math.IsInf(x, 0) || math.IsNaN(y) || math.IsInf(y, 0) {
				continue
			}
			if opts.LogX && x <= 0 {
				return nil, fmt.Errorf("plots: %q: series %q has x = %v on a log axis", title, s.Name, x)
			}
			if cat && (x < 0 || x >= float64(len(opts.Categories))) {
				return nil, fmt.Errorf("plots: %q: series %q has category index %v of %d", title, s.Name, x, len(opts.Categories))
			}
			if math.IsNaN(e) || math.IsInf(e, 0) || e < 0 {
				e = 0
			}
			lo, hi = math.Min(lo, y-e), math.Max(hi, y+e)
			pts = append(pts, plotter.XY{X: x + dodge, Y: y})
			errs = append(errs, struct{ Low, High float64 }{e, e})
		}
		if len(pts) == 0 {
			return nil, fmt.Errorf("plots: %q: series %d (%q) has no finite point", title, i, s.Name)
		}
		sty := lineStyle(i, len(series), false)
		if cat { // categories are not a continuum: points, no connecting line
			sc, err := plotter.NewScatter(pts)
			if err != nil {
				return nil, fmt.Errorf("plots: %q: %w", title, err)
			}
			sc.GlyphStyle = draw.GlyphStyle{Color: sty.Color, Radius: vg.Points(3), Shape: draw.CircleGlyph{}}
			f.Plot.Add(sc)
			f.addLegend(s.Name, sc)
		} else if err := f.addLine(s.Name, pts, sty, true); err != nil {
			return nil, err
		}
		eb, err := plotter.NewYErrorBars(struct {
			plotter.XYs
			plotter.YErrors
		}{pts, errs})
		if err != nil {
			return nil, fmt.Errorf("plots: %q: %w", title, err)
		}
		eb.LineStyle = draw.LineStyle{Color: sty.Color, Width: vg.Points(1.2)}
		eb.CapWidth = vg.Points(6)
		f.Plot.Add(eb)
	}
	// Keep the bars' caps inside the axes.
	pad := 0.06 * (hi - lo)
	if pad == 0 {
		pad = math.Max(math.Abs(hi)*0.05, 1e-3)
	}
	f.Plot.Y.Min, f.Plot.Y.Max = lo-pad, hi+pad
	if len(series) == 1 && series[0].Name == "" {
		f.Legend = plot.NewLegend()
	}
	return f, nil
}
