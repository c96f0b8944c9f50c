package plots

import (
	"bytes"
	"errors"
	"fmt"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/siam-ssl/siam/atomicfile"
)

// Series is one named curve. X and Y have the same length; for Spectrum and
// ExplainedVariance Y holds singular values and X may be nil, in which case the
// index 1..len(Y) is used. Lines drops points where X or Y is NaN or ±Inf (a metric
// not logged at that step).
type Series struct {
	Name string
	X, Y []float64
}

// Options are the common settings of Spectrum and ExplainedVariance. The zero value
// gives the default titles and a linear y axis.
type Options struct {
	// Title, XLabel and YLabel override the default texts when non-empty.
	Title, XLabel, YLabel string
	// LogY draws the y axis on a log scale (Spectrum only), as the paper's Figure 3
	// (middle) and Figure 6. Non-positive values, which a log axis cannot show, are
	// drawn at a floor: half the smallest positive value, but no lower than 1e-12
	// times the largest value; the floor is named in the y label.
	LogY bool
	// Normalize divides each spectrum by its largest singular value (Spectrum
	// only), so spectra of differently scaled representations can be compared.
	Normalize bool
	// Sequential colours the series along a dark-to-light gradient (viridis) instead
	// of distinct hues: for series that are successive training steps of one run.
	Sequential bool
}

// Default figure sizes, for Render and Save callers that have no layout of their own.
const (
	DefaultWidth  = 6.5 * vg.Inch
	DefaultHeight = 3.6 * vg.Inch
)

// PNGDPI is the resolution of PNG output: 144 dots per inch (twice the 72-point
// inch), sharp on high-density screens.
const PNGDPI = 144

// maxLegendName is the longest legend entry kept; longer names are cut with "…".
const maxLegendName = 40

// Figure is a plot ready to render. Plot holds the axes and data; Legend is drawn
// by Draw in a column to the right of the axes, never over the data. Both may be
// adjusted before rendering (e.g. Plot.X.Label.Text).
type Figure struct {
	Plot   *plot.Plot
	Legend plot.Legend
}

var (
	sans = font.Font{Typeface: "Liberation", Variant: "Sans"}
)

// newFigure returns a Figure with siam's styling: sans-serif text, a light grid and
// an empty side legend.
func newFigure(title, xlabel, ylabel string) *Figure {
	p := plot.New()
	p.Title.Text = title
	p.Title.TextStyle.Font = font.From(sans, 13)
	p.Title.Padding = vg.Points(6)
	for _, a := range []*plot.Axis{&p.X, &p.Y} {
		a.Label.TextStyle.Font = font.From(sans, 12)
		a.Tick.Label.Font = font.From(sans, 10)
		a.Padding = vg.Points(2)
	}
	p.X.Tick.Marker = niceTicks{}
	p.Y.Tick.Marker = niceTicks{}
	p.X.Label.Text = xlabel
	p.Y.Label.Text = ylabel
	grid := &grid{color: color.Gray{Y: 225}}
	p.Add(grid)
	l := plot.NewLegend()
	l.TextStyle.Font = font.From(sans, 10)
	l.Top, l.Left = true, true
	l.ThumbnailWidth = vg.Points(18)
	l.Padding = vg.Points(1.5)
	return &Figure{Plot: p, Legend: l}
}

// grid draws light major grid lines behind the data (plotter.Grid draws minor log
// ticks too, which clutters log axes).
type grid struct{ color color.Color }

// Plot implements plot.Plotter.
func (g *grid) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	sty := draw.LineStyle{Color: g.color, Width: vg.Points(0.5)}
	for _, t := range p.X.Tick.Marker.Ticks(p.X.Min, p.X.Max) {
		if t.IsMinor() || t.Value < p.X.Min || t.Value > p.X.Max {
			continue
		}
		x := trX(t.Value)
		c.StrokeLine2(sty, x, c.Min.Y, x, c.Max.Y)
	}
	for _, t := range p.Y.Tick.Marker.Ticks(p.Y.Min, p.Y.Max) {
		if t.IsMinor() || t.Value < p.Y.Min || t.Value > p.Y.Max {
			continue
		}
		y := trY(t.Value)
		c.StrokeLine2(sty, c.Min.X, y, c.Max.X, y)
	}
}

// addLegend adds an entry (none for an empty name), shortening very long names.
func (f *Figure) addLegend(name string, thumbs ...plot.Thumbnailer) {
	if name == "" {
		return
	}
	f.Legend.Add(shorten(name, maxLegendName+14), thumbs...)
}

// shorten cuts s to at most n runes, ending it with "…" when cut.
func shorten(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

// Draw draws the figure on c: the plot on the left and, when there are legend
// entries, the legend in a column on the right, its top aligned with the top of the
// axes. A legend taller than the axes is drawn in a smaller font (down to 6 points).
// The y-axis label is drawn here, centred on the axes, because gonum/plot centres it
// in data units, which misplaces it on a log axis.
func (f *Figure) Draw(c draw.Canvas) {
	p := f.Plot
	ylab := p.Y.Label
	if ylab.Text != "" {
		p.Y.Label.Text = ""
		defer func() { p.Y.Label.Text = ylab.Text }()
	}
	left := vg.Length(0)
	if ylab.Text != "" {
		left = ylab.TextStyle.Height(ylab.Text) + vg.Points(4)
	}
	l := f.Legend
	legendW := func() vg.Length {
		if w := l.Rectangle(c).Size().X; w > 0 {
			return w + vg.Points(16)
		}
		return 0
	}
	// The legend column may take at most 40% of the width.
	plotC := draw.Crop(c, left, -legendW(), 0, 0)
	for size := l.TextStyle.Font.Size; size > vg.Points(6); size -= 0.5 {
		r := l.Rectangle(c).Size()
		if r.Y <= p.DataCanvas(plotC).Size().Y && legendW() <= 0.4*c.Size().X {
			break
		}
		l.TextStyle.Font.Size = size - 0.5
		plotC = draw.Crop(c, left, -legendW(), 0, 0)
	}
	p.Draw(plotC)
	data := p.DataCanvas(plotC)
	if ylab.Text != "" {
		sty := ylab.TextStyle
		sty.Rotation += math.Pi / 2
		descent := ylab.TextStyle.FontExtents().Descent
		c.FillText(sty, vg.Point{X: c.Min.X + ylab.TextStyle.Height(ylab.Text) - descent, Y: (data.Min.Y + data.Max.Y) / 2}, ylab.Text)
	}
	if legendW() > 0 {
		l.Draw(draw.Canvas{Canvas: c.Canvas, Rectangle: vg.Rectangle{
			Min: vg.Point{X: plotC.Max.X + vg.Points(8), Y: c.Min.Y},
			Max: vg.Point{X: c.Max.X, Y: data.Max.Y},
		}})
	}
}

// Render draws f on a w×h canvas and returns the encoded image. format is "svg",
// "png" (at PNGDPI), or any other format gonum/plot knows ("pdf", "eps", "jpg",
// "tiff"). SVG text names metrically compatible fallback fonts (see the package doc).
func Render(f *Figure, format string, w, h vg.Length) ([]byte, error) {
	if f == nil || f.Plot == nil {
		return nil, errors.New("plots: Render of a nil figure")
	}
	if w <= 0 || h <= 0 {
		return nil, fmt.Errorf("plots: figure size %v x %v must be positive", w, h)
	}
	format = strings.ToLower(strings.TrimPrefix(format, "."))
	var canvas vg.CanvasWriterTo
	switch format {
	case "png":
		canvas = vgimg.PngCanvas{Canvas: vgimg.NewWith(vgimg.UseWH(w, h), vgimg.UseDPI(PNGDPI))}
	default:
		var err error
		if canvas, err = newFormattedCanvas(w, h, format); err != nil {
			return nil, err
		}
	}
	f.Draw(draw.New(canvas))
	var buf bytes.Buffer
	if _, err := canvas.WriteTo(&buf); err != nil {
		return nil, fmt.Errorf("plots: encoding %s: %w", format, err)
	}
	out := buf.Bytes()
	if format == "svg" {
		out = fixSVGFonts(out)
	}
	return out, nil
}

// newFormattedCanvas wraps draw.NewFormattedCanvas with a clearer error.
func newFormattedCanvas(w, h vg.Length, format string) (vg.CanvasWriterTo, error) {
	c, err := draw.NewFormattedCanvas(w, h, format)
	if err != nil {
		return nil, fmt.Errorf("plots: unsupported image format %q (want svg, png, pdf, eps, jpg or tiff)", format)
	}
	return c, nil
}

// fixSVGFonts adds generic fallbacks to the font-family of every text element, so a
// browser without Liberation Sans uses a metrically compatible font, not its serif
// default.
func fixSVGFonts(svg []byte) []byte {
	return bytes.ReplaceAll(svg, []byte("font-family:Liberation Sans;"),
		[]byte("font-family:'Liberation Sans',Arial,Helvetica,sans-serif;"))
}

// Save renders f at w×h into path, atomically; the format comes from the extension
// (.svg, .png, .pdf, ...). Missing parent folders are created.
func Save(f *Figure, path string, w, h vg.Length) error {
	ext := strings.TrimPrefix(filepath.Ext(path), ".")
	if ext == "" {
		return fmt.Errorf("plots: %s: no file extension to choose the image format", path)
	}
	data, err := Render(f, ext, w, h)
	if err != nil {
		return fmt.Errorf("plots: %s: %w", path, err)
	}
	if dir := filepath.Dir(path); dir != "." {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("plots: %w", err)
		}
	}
	return atomicfile.WriteFile(path, data)
}

// niceTicks labels 4 to 8 round values (steps of 1, 2, 2.5 or 5 times a power of
// ten) on a linear axis, with an unlabelled minor tick between labels.
type niceTicks struct{}

// Ticks implements plot.Ticker.
func (niceTicks) Ticks(lo, hi float64) []plot.Tick {
	if !(hi > lo) || math.IsInf(hi-lo, 0) {
		return []plot.Tick{{Value: lo, Label: formatTick(lo)}}
	}
	raw := (hi - lo) / 6
	mag := math.Pow10(int(math.Floor(math.Log10(raw))))
	step := 10 * mag
	for _, m := range []float64{1, 2, 2.5, 5} {
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	decimals := 0
	if step < 1 {
		decimals = int(math.Ceil(-math.Log10(step) - 1e-9))
		if d := strconv.FormatFloat(step, 'f', -1, 64); len(d) > 2 && len(d)-2 > decimals {
			decimals = len(d) - 2 // 0.25 needs two decimals
		}
	}
	var ticks []plot.Tick
	for i := math.Ceil(lo/step - 1e-9); i*step <= hi+step*1e-9; i++ {
		v := i * step
		if math.Abs(v) < step*1e-9 {
			v = 0
		}
		label := strconv.FormatFloat(v, 'f', decimals, 64)
		if math.Abs(v) >= 1e6 {
			label = formatTick(v)
		}
		ticks = append(ticks, plot.Tick{Value: v, Label: label})
		if m := v + step/2; m <= hi {
			ticks = append(ticks, plot.Tick{Value: m})
		}
	}
	if len(ticks) > 0 && ticks[0].Value-step/2 >= lo {
		ticks = append(ticks, plot.Tick{Value: ticks[0].Value - step/2})
	}
	return ticks
}

// logTicks labels powers of ten on a log axis, thinning labels over many decades and
// adding 2× and 5× labels when the range spans less than two labelled decades.
// (plot.LogTicks misplaces its first tick for ranges below 1.)
type logTicks struct{}

// Ticks implements plot.Ticker.
func (logTicks) Ticks(lo, hi float64) []plot.Tick {
	if !(lo > 0) || !(hi >= lo) {
		return nil
	}
	k0 := int(math.Floor(math.Log10(lo) + 1e-9))
	k1 := int(math.Ceil(math.Log10(hi) - 1e-9))
	step := 1 + (k1-k0)/8 // at most about 8 labels
	inRange := func(v float64) bool { return v >= lo*(1-1e-9) && v <= hi*(1+1e-9) }
	labelled := 0
	for k := k0; k <= k1; k++ {
		if k%step == 0 && inRange(math.Pow10(k)) {
			labelled++
		}
	}
	var ticks []plot.Tick
	for k := k0; k <= k1; k++ {
		base := math.Pow10(k)
		for m := 1; m < 10; m++ {
			if m > 1 && k1-k0 > 5 && labelled >= 2 {
				break // minor ticks over many decades are clutter
			}
			v := base * float64(m)
			if !inRange(v) {
				continue
			}
			t := plot.Tick{Value: v}
			if (m == 1 && k%step == 0) || (labelled < 2 && (m == 2 || m == 5)) {
				t.Label = formatTick(v)
			}
			ticks = append(ticks, t)
		}
	}
	return ticks
}

// formatTick writes a tick value compactly: 0.01, 100, 1e-05 → 1e-5.
func formatTick(v float64) string {
	s := strconv.FormatFloat(v, 'g', 3, 64)
	if i := strings.Index(s, "e"); i >= 0 {
		mant, exp := s[:i], s[i+1:]
		sign := ""
		if exp[0] == '-' || exp[0] == '+' {
			if exp[0] == '-' {
				sign = "-"
			}
			exp = exp[1:]
		}
		exp = strings.TrimLeft(exp, "0")
		s = mant + "e" + sign + exp
	}
	return s
}

// tableau10 is the categorical palette (Tableau 10): distinct, colour-blind aware.
var tableau10 = []color.RGBA{
	{0x4e, 0x79, 0xa7, 255}, {0xf2, 0x8e, 0x2b, 255}, {0xe1, 0x57, 0x59, 255},
	{0x76, 0xb7, 0xb2, 255}, {0x59, 0xa1, 0x4f, 255}, {0xed, 0xc9, 0x48, 255},
	{0xb0, 0x7a, 0xa1, 255}, {0xff, 0x9d, 0xa7, 255}, {0x9c, 0x75, 0x5f, 255},
	{0xba, 0xb0, 0xac, 255},
}

// viridis anchors, dark purple to yellow (the end is darkened a little so the last
// curve stays visible on white).
var viridis = []color.RGBA{
	{0x44, 0x01, 0x54, 255}, {0x3b, 0x52, 0x8b, 255}, {0x21, 0x91, 0x8c, 255},
	{0x5e, 0xc9, 0x62, 255}, {0xc8, 0xb8, 0x1a, 255},
}

// lineStyle returns the style of series i of n: a palette colour, and dashes once
// the categorical palette repeats.
func lineStyle(i, n int, sequential bool) draw.LineStyle {
	sty := draw.LineStyle{Width: vg.Points(1.5)}
	if sequential {
		t := 0.0
		if n > 1 {
			t = float64(i) / float64(n-1)
		}
		sty.Color = interpolate(viridis, t)
		return sty
	}
	sty.Color = tableau10[i%len(tableau10)]
	switch (i / len(tableau10)) % 3 {
	case 1:
		sty.Dashes = []vg.Length{vg.Points(5), vg.Points(2)}
	case 2:
		sty.Dashes = []vg.Length{vg.Points(1.5), vg.Points(1.5)}
	}
	return sty
}

// interpolate returns the colour at t in [0, 1] along the anchors.
func interpolate(anchors []color.RGBA, t float64) color.RGBA {
	t = math.Max(0, math.Min(1, t)) * float64(len(anchors)-1)
	i := int(t)
	if i >= len(anchors)-1 {
		return anchors[len(anchors)-1]
	}
	a, b, u := anchors[i], anchors[i+1], t-float64(i)
	mix := func(x, y uint8) uint8 { return uint8(math.Round(float64(x) + u*(float64(y)-float64(x)))) }
	return color.RGBA{mix(a.R, b.R), mix(a.G, b.G), mix(a.B, b.B), 255}
}

// fontSans returns Liberation Sans at size points.
func fontSans(size vg.Length) font.Font { return font.From(sans, size) }
