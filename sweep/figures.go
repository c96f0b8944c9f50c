package sweep

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/siam-ssl/siam/plots"
)

// Figure is one figure of a sweep report.
type Figure struct {
	// Name is a file stem ("knn", "spectra"); Caption says what it shows.
	Name, Caption string
	Fig           *plots.Figure
}

// metricSpec is one per-group metric drawn against the first non-seed axis.
type metricSpec struct {
	name, title, ylabel, caption string
	scale                        float64
	get                          func(g Group) Stat
}

var metricSpecs = []metricSpec{
	{"knn", "k-NN accuracy", "k-NN accuracy (%)", "k-NN accuracy (majority vote, best k) at the end of training", 100, func(g Group) Stat { return g.KNN }},
	{"linear", "Linear-probe accuracy", "linear-probe accuracy (%)", "Linear-probe accuracy", 100, func(g Group) Stat { return g.Linear }},
	{"auc", "Collapse AUC", "AUC (higher = more collapse)", "AUC of the cumulative explained variance of the final representation's singular values (Eq. 2; 0.5 flat, 1 rank one)", 1, func(g Group) Stat { return g.AUC }},
	{"val_loss", "Validation loss", "validation loss", "Loss of the method on two fixed views of each validation image (model in eval mode)", 1, func(g Group) Stat { return g.ValLoss }},
}

// Figures draws the sweep's figures: each measured metric (mean ± sd over seeds)
// against the first non-seed axis, one line per value of the other axes; the
// mean training-loss curves of the groups (and the monitored k-NN and AUC curves
// when the runs were monitored); their mean final spectra and explained
// variance; and, when fitted, predicted against actual accuracy. Metrics nobody
// measured are left out.
func (s *Summary) Figures() ([]Figure, error) {
	var figs []Figure
	if len(s.Axes) > 0 {
		for _, m := range metricSpecs {
			f, err := s.metricFigure(m)
			if err != nil {
				return nil, err
			}
			if f != nil {
				figs = append(figs, *f)
			}
		}
	}
	var loss []plots.Series
	for _, g := range s.Groups {
		if len(g.LossStep) > 0 {
			loss = append(loss, plots.Series{Name: g.Name, X: g.LossStep, Y: g.LossMean})
		}
	}
	if len(loss) > 0 {
		f, err := plots.Lines("Training loss", "step", "loss", loss)
		if err != nil {
			return nil, err
		}
		// Beside the k-NN figure: accuracy moves where the loss curves do not (Figure 2).
		at := 0
		if len(figs) > 0 && figs[0].Name == "knn" {
			at = 1
		}
		figs = slices.Insert(figs, at, Figure{"loss_curves", "Training loss against step, mean over seeds (metrics.jsonl).", f})
	}
	for _, c := range []struct {
		name, title, ylabel, caption string
		scale                        float64
		get                          func(g Group) ([]float64, []float64)
	}{
		{"knn_curves", "k-NN accuracy during training", "weighted k-NN accuracy (%)", "Monitored weighted 200-NN accuracy (monitor_samples training images as memory, up to 2,000 validation queries) against step, mean over seeds (Figure 8, left).", 100,
			func(g Group) ([]float64, []float64) { return g.KNNStep, g.KNNMean }},
		{"auc_curves", "Collapse AUC during training", "AUC", "Monitored AUC (monitor_samples training images) against step, mean over seeds (Figure 8, right).", 1,
			func(g Group) ([]float64, []float64) { return g.AUCStep, g.AUCMean }},
	} {
		var series []plots.Series
		for _, g := range s.Groups {
			if x, y := c.get(g); len(x) > 0 {
				ys := make([]float64, len(y))
				for i, v := range y {
					ys[i] = c.scale * v
				}
				series = append(series, plots.Series{Name: g.Name, X: x, Y: ys})
			}
		}
		if len(series) > 0 {
			f, err := plots.Lines(c.title, "step", c.ylabel, series)
			if err != nil {
				return nil, err
			}
			figs = append(figs, Figure{c.name, c.caption, f})
		}
	}
	var spectra []plots.Series
	for _, g := range s.Groups {
		if len(g.Sigma) > 0 && g.Sigma[0] > 0 {
			spectra = append(spectra, plots.Series{Name: g.Name, Y: g.Sigma})
		}
	}
	if len(spectra) > 0 {
		f, err := plots.Spectrum(spectra, plots.Options{LogY: true, Title: "Final singular value spectra"})
		if err != nil {
			return nil, err
		}
		figs = append(figs, Figure{"spectra", "Singular values of the final representation (training set, backbone output), mean over seeds, log scale (Figure 3, middle).", f})
		f, err = plots.ExplainedVariance(spectra, plots.Options{Title: "Cumulative explained variance"})
		if err != nil {
			return nil, err
		}
		figs = append(figs, Figure{"explained", "Cumulative explained variance of the mean spectra, AUC in the legend (Figure 3, right).", f})
	}
	if p := s.Predictor; p != nil {
		f, err := plots.Scatter(p.Predicted, p.Actual, nil, float64(p.Fits[0].R2))
		if err != nil {
			return nil, err
		}
		f.Plot.X.Label.Text = "predicted " + p.Accuracy + " accuracy (%)"
		f.Plot.Y.Label.Text = "actual " + p.Accuracy + " accuracy (%)"
		figs = append(figs, Figure{"predictor", fmt.Sprintf("%s accuracy predicted from validation loss and AUC against the measured accuracy, %d runs (Figure 4); dashed: y = x.", p.Accuracy, p.Models), f})
	}
	return figs, nil
}

// metricFigure draws one metric against the first non-seed axis (nil when no
// group has it).
func (s *Summary) metricFigure(m metricSpec) (*Figure, error) {
	x0 := s.Axes[0]
	var xvals []string
	for _, g := range s.Groups {
		if !slices.Contains(xvals, g.Values[0]) {
			xvals = append(xvals, g.Values[0])
		}
	}
	nums, numeric := numericAxis(xvals)
	logX := false
	if numeric {
		lo, hi := slices.Min(nums), slices.Max(nums)
		logX = lo > 0 && hi/lo >= 20
	}
	type line struct {
		name    string
		x, y, e []float64
	}
	var lines []line
	any := false
	for _, g := range s.Groups {
		rest := []string{}
		for i, k := range s.Axes[1:] {
			rest = append(rest, k+"="+g.Values[i+1])
		}
		name := strings.Join(rest, ",")
		li := slices.IndexFunc(lines, func(l line) bool { return l.name == name })
		if li < 0 {
			lines = append(lines, line{name: name})
			li = len(lines) - 1
		}
		st := m.get(g)
		if st.N == 0 {
			continue
		}
		any = true
		xi := slices.Index(xvals, g.Values[0])
		x := float64(xi)
		if numeric {
			x = nums[xi]
		}
		l := &lines[li]
		l.x, l.y, l.e = append(l.x, x), append(l.y, m.scale*st.Mean), append(l.e, m.scale*st.SD)
	}
	if !any {
		return nil, nil
	}
	var series []plots.ErrorSeries
	for _, l := range lines {
		if len(l.x) == 0 {
			continue
		}
		if numeric { // draw lines in x order
			idx := make([]int, len(l.x))
			for i := range idx {
				idx[i] = i
			}
			slices.SortFunc(idx, func(a, b int) int { return cmp.Compare(l.x[a], l.x[b]) })
			var x, y, e []float64
			for _, i := range idx {
				x, y, e = append(x, l.x[i]), append(y, l.y[i]), append(e, l.e[i])
			}
			l.x, l.y, l.e = x, y, e
		}
		series = append(series, plots.ErrorSeries{Name: l.name, X: l.x, Y: l.y, Err: l.e})
	}
	opts := plots.ErrorBarOptions{LogX: logX}
	if !numeric {
		opts.Categories = xvals
	}
	f, err := plots.ErrorBars(m.title+" by "+x0, x0, m.ylabel, series, opts)
	if err != nil {
		return nil, err
	}
	spread := "error bars: ± one standard deviation over seeds"
	if len(s.Seeds) < 2 {
		spread = "one seed, no error bars"
	}
	return &Figure{Name: m.name, Caption: fmt.Sprintf("%s against %s (%s).", m.caption, x0, spread), Fig: f}, nil
}
