package findings

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/siam-ssl/siam/atomicfile"
	"github.com/siam-ssl/siam/plots"
	"github.com/siam-ssl/siam/sweep"
)

// WriteMarkdown writes the verdict table (finding | paper | our setting | measured
// | verdict | figure), the rule, and per row the numbers behind it, the command
// that regenerates it and the compute it took.
func WriteMarkdown(w io.Writer, rows []Row) error {
	var b strings.Builder
	b.WriteString("| # | finding | the paper | our setting | measured | verdict | figure |\n|---|---|---|---|---|---|---|\n")
	for _, r := range rows {
		fig := "—"
		if r.Figure != "" && r.Measured != "—" { // a row with numbers (pending ones show interim numbers)
			fig = fmt.Sprintf("[figure](%s)", r.Figure)
		}
		verdict := r.Verdict
		if r.Verdict != Pending {
			verdict = "**" + r.Verdict + "**"
		}
		fmt.Fprintf(&b, "| %d | %s | %s | %s | %s | %s (n = %d) | %s |\n", r.ID, cell(r.Finding), cell(r.Paper), cell(r.Setting), cell(r.Measured), verdict, r.Seeds, fig)
	}
	b.WriteString("\nn is the number of finished seeds of the least-covered compared setting (finding 6: the number of models).\n\n")
	b.WriteString(strings.ReplaceAll(Rules, "\n", " ") + "\n\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "- **Finding %d** (%s). %s. Compute: %.1f core-hours so far; %s. Regenerate or extend: `%s`, then `scripts/results.sh`.\n",
			r.ID, r.Verdict, strings.TrimSuffix(r.Detail, "."), r.CoreHours, r.Progress, r.Command)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// cell escapes a table cell.
func cell(s string) string {
	if s == "" {
		return "—"
	}
	return strings.ReplaceAll(s, "|", "\\|")
}

// WriteJSON writes the rows as one JSON document.
func WriteJSON(path string, rows []Row) error {
	b, err := json.MarshalIndent(map[string]any{"rule": Rules, "min_seeds": MinSeeds, "rows": rows}, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(path, append(b, '\n'))
}

// WritePredictorFigure draws finding 6's pooled fit (predicted against actual
// linear accuracy over the study's SimSiam models) to path; it writes nothing and
// returns false when there are too few models to fit.
func (st *Study) WritePredictorFigure(path string) (bool, error) {
	p := sweep.FitPredictor(st.simsiamRuns())
	if p == nil {
		return false, nil
	}
	f, err := plots.Scatter(p.Predicted, p.Actual, nil, float64(p.Fits[0].R2))
	if err != nil {
		return false, err
	}
	f.Plot.X.Label.Text = "predicted " + p.Accuracy + " accuracy (%)"
	f.Plot.Y.Label.Text = "actual " + p.Accuracy + " accuracy (%)"
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return false, err
	}
	return true, plots.Save(f, path, plots.DefaultWidth, plots.DefaultHeight)
}
