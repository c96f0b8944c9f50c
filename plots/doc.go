// Package plots draws the paper's figures from siam's measurements: singular-value
// spectra (Figure 3 middle, Figure 6), cumulative explained-variance curves with
// their AUC (Figure 3 right, Eq. 1 and 2), metric-versus-step curves (loss, AUC,
// k-NN accuracy; Figures 6 and 8) and the predicted-versus-actual scatter of the
// label-free accuracy predictor (Figure 4).
//
// Dependency: gonum.org/v1/plot is the standard pure-Go plotting library (no cgo,
// SVG and PNG back ends, Liberation fonts embedded), so figures need no Python.
//
// Every constructor returns a *Figure: a gonum plot plus a legend that Figure.Draw
// places to the right of the axes, so a legend never hides a curve. Render turns a
// Figure into SVG or PNG bytes, Save writes it atomically to a file (format from
// the extension) and CollapseFigures writes the two Figure 3 panels for
// `siam collapse --plot PREFIX`.
//
// Data come as Series (a name and X/Y values). For Spectrum and ExplainedVariance
// Y holds singular values and X may be nil (the index 1..d is used).
//
// All text is set in Liberation Sans. In SVG output the font-family also names
// Arial, Helvetica and sans-serif as fallbacks, which are metrically compatible, so
// SVGs stay small (no embedded font) and lay out correctly in any browser.
package plots
