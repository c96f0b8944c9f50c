package findings

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/siam-ssl/siam/predict"
	"github.com/siam-ssl/siam/sweep"
)

// figure is the path, relative to docs/, of a figure scripts/results.sh draws
// for a sweep (siam report --markdown docs/results/NAME.md).
func figure(sweepName, fig string) string { return "results/" + sweepName + "/" + fig + ".svg" }

// subsetsKNN is finding 1: at a fixed step budget, k-NN accuracy rises and then
// falls as the training subset grows; the validation loss does not show the turn.
func (st *Study) subsetsKNN() Row {
	r := Row{ID: 1, Finding: "k-NN accuracy rises then falls as the training subset grows (fixed steps); the loss does not show it",
		Paper:  "Figure 2: ResNet-18, 500k steps on 1–100% of ImageNet: k-NN peaks at 10–20%, then falls; train and val loss coincide",
		Sweeps: []string{SubsetsSweep}, Figure: figure(SubsetsSweep, "knn")}
	gs, vs, why := st.subsetGroups(&r, 3)
	if why != "" {
		return pendingRow(r, why)
	}
	peak := best(gs, func(g sweep.Group) float64 { return g.KNN.Mean })
	var parts []string
	for i, g := range gs {
		parts = append(parts, fmt.Sprintf("%s: %s", pctOf(vs[i]), pct(g.KNN)))
	}
	rise := NewContrast(gs[peak].KNN, gs[0].KNN)
	fall := NewContrast(gs[peak].KNN, gs[len(gs)-1].KNN)
	interior := peak > 0 && peak < len(gs)-1
	// The loss "shows" the turn when its own optimum (lowest val loss) is at the
	// same interior subset; a monotone loss, or an optimum elsewhere, does not.
	lossBest := best(gs, func(g sweep.Group) float64 { return -g.ValLoss.Mean })
	lossSilent := !(interior && lossBest == peak)
	var losses []string
	for i, g := range gs {
		losses = append(losses, fmt.Sprintf("%s: %s", pctOf(vs[i]), num(g.ValLoss, 3)))
	}
	r.Measured = fmt.Sprintf("k-NN %s; peak at %s (rise %s, fall %s)", strings.Join(parts, ", "), pctOf(vs[peak]), rise.pts(), fall.pts())
	r.Detail = fmt.Sprintf("validation loss %s; its optimum at %s (%s)", strings.Join(losses, ", "), pctOf(vs[lossBest]),
		map[bool]string{true: "does not mark the k-NN peak", false: "marks the k-NN peak"}[lossSilent])
	r.Seeds = finishedSeeds(gs...)
	counts := []bool{interior && rise.Counts(1), interior && fall.Counts(1), lossSilent}
	points := []bool{interior && rise.Points(1), interior && fall.Points(1), lossSilent}
	r.Verdict = verdictOrPending(judge(counts, points), r.Seeds)
	return r
}

// subsetGroups returns the subset sweep's groups in order of subset size (and sets
// r's setting), or why the row must wait: no sweep yet, or fewer than min sizes.
func (st *Study) subsetGroups(r *Row, min int) (gs []sweep.Group, vs []float64, why string) {
	sum, ok := st.sums[SubsetsSweep]
	if !ok {
		return nil, nil, "sweep " + SubsetsSweep + " not started"
	}
	gs, vs = numericGroups(sum, "subset")
	if len(gs) < min {
		return nil, nil, fmt.Sprintf("needs at least %d subset sizes", min)
	}
	r.Setting = setting(sum, "subsets "+joinPct(vs))
	return gs, vs, ""
}

// best is the index of the group with the largest finite value of get (0 when
// none is finite).
func best(gs []sweep.Group, get func(sweep.Group) float64) int {
	b := 0
	for i, g := range gs {
		if v := get(g); !math.IsNaN(v) && (math.IsNaN(get(gs[b])) || v > get(gs[b])) {
			b = i
		}
	}
	return b
}

// subsetsAUC is finding 2: larger subsets give more collapse (higher AUC, trailing
// singular values nearer zero).
func (st *Study) subsetsAUC() Row {
	r := Row{ID: 2, Finding: "larger training subsets collapse more: higher AUC, trailing singular values near zero",
		Paper:  "Figure 3: AUC of ResNet-18 on 1/5/10/20/50/100% of ImageNet 0.610/0.748/0.845/0.879/0.871/0.858 (σ formula, reference spectra)",
		Sweeps: []string{SubsetsSweep}, Figure: figure(SubsetsSweep, "spectra")}
	gs, vs, why := st.subsetGroups(&r, 2)
	if why != "" {
		return pendingRow(r, why)
	}
	var parts, tails []string
	var means []float64
	for i, g := range gs {
		parts = append(parts, fmt.Sprintf("%s: %s", pctOf(vs[i]), num(g.AUC, 3)))
		means = append(means, g.AUC.Mean)
		tails = append(tails, fmt.Sprintf("%s: %s", pctOf(vs[i]), tailRatio(g.Sigma)))
	}
	grow := NewContrast(gs[len(gs)-1].AUC, gs[0].AUC)
	rho := spearman(vs, means)
	r.Measured = fmt.Sprintf("AUC %s (largest − smallest %s, Spearman ρ %.2f)", strings.Join(parts, ", "), grow.plain(3), rho)
	r.Detail = "smallest singular value / largest (mean spectrum): " + strings.Join(tails, ", ")
	r.Seeds = finishedSeeds(gs...)
	counts := []bool{grow.Counts(1), rho > 0.5}
	points := []bool{grow.Points(1), rho > 0}
	r.Verdict = verdictOrPending(judge(counts, points), r.Seeds)
	return r
}

// widthDepth is finding 3: doubling the width helps more than doubling the depth
// (ResNet-18 at 2w against ResNet-34 at w, equal steps).
func (st *Study) widthDepth() Row {
	r := Row{ID: 3, Finding: "width matters more than depth",
		Paper:  "Table 1: ImageNet linear, ResNet-18 30.0%, ResNet-34 16.8%, Basic-50 17.5%; wider Bottleneck-26 61.7%, 2x 62.6%",
		Sweeps: []string{WidthDepthSweep}, Figure: figure(WidthDepthSweep, "linear")}
	sum, ok := st.sums[WidthDepthSweep]
	if !ok {
		return pendingRow(r, "sweep "+WidthDepthSweep+" not started")
	}
	w := sum.Config.Width
	ws := fmt.Sprint(w)
	w2 := fmt.Sprint(2 * w)
	if vals := axisValues(sum, "width"); len(vals) == 2 {
		ws, w2 = vals[0], vals[1]
	}
	base, okB := group(sum, map[string]string{"arch": "resnet18", "width": ws})
	wide, okW := group(sum, map[string]string{"arch": "resnet18", "width": w2})
	deep, okD := group(sum, map[string]string{"arch": "resnet34", "width": ws})
	if !okB || !okW || !okD {
		return pendingRow(r, "needs arch resnet18 and resnet34 at widths w and 2w")
	}
	r.Setting = setting(sum, fmt.Sprintf("ResNet-18 w%s / w%s, ResNet-34 w%s", ws, w2, ws))
	wideVsDeep := NewContrast(wide.Linear, deep.Linear)
	depthGain := NewContrast(deep.Linear, base.Linear)
	widthGain := NewContrast(wide.Linear, base.Linear)
	r.Measured = fmt.Sprintf("linear: R18 w%s %s, R18 w%s %s, R34 w%s %s; wide − deep %s", ws, pct(base.Linear), w2, pct(wide.Linear), ws, pct(deep.Linear), wideVsDeep.pts())
	r.Detail = fmt.Sprintf("width gain %s, depth gain %s; k-NN R18 w%s %s, R18 w%s %s, R34 w%s %s", widthGain.pts(), depthGain.pts(),
		ws, pct(base.KNN), w2, pct(wide.KNN), ws, pct(deep.KNN))
	r.Seeds = finishedSeeds(base, wide, deep)
	counts := []bool{wideVsDeep.Counts(1)}
	points := []bool{wideVsDeep.Points(1)}
	r.Verdict = verdictOrPending(judge(counts, points), r.Seeds)
	return r
}

// orderings is finding 4: single pass and hybrid beat multi pass for a small
// model; cumulative helps little.
func (st *Study) orderings() Row {
	r := Row{ID: 4, Finding: "single-pass and hybrid orderings beat multi-pass for a small model; cumulative helps little",
		Paper:  "Table 2: ImageNet ResNet-18 linear, multi 30.0 ± 1.8, cumulative 33.0 ± 1.9, single 44.5 ± 0.8, hybrid 48.3 ± 0.7%",
		Sweeps: []string{OrderingsSweep}, Figure: figure(OrderingsSweep, "linear")}
	sum, ok := st.sums[OrderingsSweep]
	if !ok {
		return pendingRow(r, "sweep "+OrderingsSweep+" not started")
	}
	g := map[string]sweep.Group{}
	for _, o := range []string{"multi", "single", "hybrid", "cumulative"} {
		gr, ok := group(sum, map[string]string{"order": o})
		if !ok {
			return pendingRow(r, "needs the orderings multi, single, hybrid and cumulative")
		}
		g[o] = gr
	}
	r.Setting = setting(sum, fmt.Sprintf("%d chunks, hybrid switch at %d", sum.Config.Chunks, sum.Config.SwitchAt))
	single := NewContrast(g["single"].Linear, g["multi"].Linear)
	hybrid := NewContrast(g["hybrid"].Linear, g["multi"].Linear)
	cum := NewContrast(g["cumulative"].Linear, g["multi"].Linear)
	r.Measured = fmt.Sprintf("linear: multi %s, cumulative %s, single %s, hybrid %s; single − multi %s, hybrid − multi %s",
		pct(g["multi"].Linear), pct(g["cumulative"].Linear), pct(g["single"].Linear), pct(g["hybrid"].Linear), single.pts(), hybrid.pts())
	r.Detail = fmt.Sprintf("cumulative − multi %s; AUC multi %s, cumulative %s, single %s, hybrid %s; k-NN multi %s, single %s, hybrid %s",
		cum.pts(), num(g["multi"].AUC, 3), num(g["cumulative"].AUC, 3), num(g["single"].AUC, 3), num(g["hybrid"].AUC, 3),
		pct(g["multi"].KNN), pct(g["single"].KNN), pct(g["hybrid"].KNN))
	r.Seeds = finishedSeeds(g["multi"], g["single"], g["hybrid"], g["cumulative"])
	best := math.Max(single.Diff, hybrid.Diff)
	little := !math.IsNaN(cum.Diff) && cum.Diff < best
	counts := []bool{single.Counts(1), hybrid.Counts(1), little}
	points := []bool{single.Points(1), hybrid.Points(1), little}
	r.Verdict = verdictOrPending(judge(counts, points), r.Seeds)
	return r
}

// methods is finding 5: BYOL and MoCo v3 collapse less than SimSiam, and the
// orderings do not help them.
func (st *Study) methods() Row {
	r := Row{ID: 5, Finding: "BYOL and MoCo v3 collapse less than SimSiam, and single-pass ordering does not help them",
		Paper:  "Figure 7: ImageNet ResNet-18, BYOL and MoCo v3 spectra do not collapse; single pass gives them no gain",
		Sweeps: []string{MethodsSweep, OrderingsSweep}, Figure: figure(MethodsSweep, "auc")}
	ms, ok := st.sums[MethodsSweep]
	ords, ok2 := st.sums[OrderingsSweep]
	if !ok || !ok2 {
		return pendingRow(r, "needs sweeps "+MethodsSweep+" and "+OrderingsSweep)
	}
	simMulti, ok := group(ords, map[string]string{"order": "multi"})
	if !ok {
		return pendingRow(r, "needs SimSiam multi-pass runs")
	}
	r.Setting = setting(ms, "BYOL, MoCo v3 × multi, single; SimSiam from "+OrderingsSweep)
	var counts, points []bool
	var meas, det []string
	seeds := []sweep.Group{simMulti}
	for _, m := range []string{"byol", "mocov3"} {
		multi, okM := group(ms, map[string]string{"method": m, "order": "multi"})
		single, okS := group(ms, map[string]string{"method": m, "order": "single"})
		if !okM || !okS {
			return pendingRow(r, "needs methods byol and mocov3 × orders multi and single")
		}
		seeds = append(seeds, multi, single)
		less := NewContrast(multi.AUC, simMulti.AUC)
		gain := NewContrast(single.Linear, multi.Linear)
		noGain := !gain.Counts(1)
		counts = append(counts, less.Counts(-1), noGain)
		points = append(points, less.Points(-1), noGain)
		meas = append(meas, fmt.Sprintf("%s AUC %s vs SimSiam %s (%s), single − multi linear %s", m, num(multi.AUC, 3), num(simMulti.AUC, 3), less.plain(3), gain.pts()))
		det = append(det, fmt.Sprintf("%s linear multi %s, single %s", m, pct(multi.Linear), pct(single.Linear)))
	}
	r.Measured = strings.Join(meas, "; ")
	r.Detail = strings.Join(det, "; ")
	r.Seeds = finishedSeeds(seeds...)
	r.Verdict = verdictOrPending(judge(counts, points), r.Seeds)
	return r
}

// minPredictorModels is the number of models finding 6 needs.
const minPredictorModels = 20

// predictor is finding 6: validation loss and AUC together predict linear-probe
// accuracy across the study's SimSiam models; either alone does not.
func (st *Study) predictor() Row {
	r := Row{ID: 6, Finding: "validation loss and AUC together predict linear accuracy (label-free); either alone does not",
		Paper:  "Figure 4: 22 ImageNet ResNet-18/34 models, accuracy ≈ a·loss + b·AUC + c, R² = 0.950",
		Sweeps: []string{SubsetsSweep, WidthDepthSweep, OrderingsSweep}, Figure: "results/findings/predictor.svg"}
	runs := st.simsiamRuns()
	r.Setting = fmt.Sprintf("the study's finished SimSiam models (%s), one fit over all", strings.Join(r.Sweeps, ", "))
	p := sweep.FitPredictor(runs)
	if p == nil || p.Accuracy != "linear" {
		return pendingRow(r, fmt.Sprintf("%d SimSiam models with val loss, AUC and a linear probe so far (needs %d)", countLinear(runs), minPredictorModels))
	}
	fit := map[string]sweep.PredictorFit{}
	for _, f := range p.Fits {
		fit[f.Kind] = f
	}
	j, l, a := fit[string(predict.Joint)], fit[string(predict.LossOnly)], fit[string(predict.AUCOnly)]
	r.Measured = fmt.Sprintf("%d models: R² joint %.3f, loss alone %.3f, AUC alone %.3f; leave-one-out error %.2f / %.2f / %.2f pts",
		p.Models, float64(j.R2), float64(l.R2), float64(a.R2), float64(j.LOOMAE), float64(l.LOOMAE), float64(a.LOOMAE))
	r.Detail = fmt.Sprintf("accuracy (%%) ≈ %.2f·loss %+.2f·AUC %+.2f", float64(j.LossCoef), float64(j.AUCCoef), float64(j.Bias))
	r.Seeds = p.Models
	better := float64(j.LOOMAE) < math.Min(float64(l.LOOMAE), float64(a.LOOMAE))
	counts := []bool{float64(j.R2) >= 0.8, better}
	points := []bool{float64(j.R2) > math.Max(float64(l.R2), float64(a.R2)), better}
	v := judge(counts, points)
	if p.Models < minPredictorModels {
		v = Pending
	}
	r.Verdict = v
	return r
}

// simsiamRuns pools the finished SimSiam runs of the predictor's sweeps.
func (st *Study) simsiamRuns() []sweep.RunResult {
	var out []sweep.RunResult
	for _, n := range []string{SubsetsSweep, WidthDepthSweep, OrderingsSweep} {
		sum, ok := st.sums[n]
		if !ok || (sum.Config.Method != "" && sum.Config.Method != "simsiam") {
			continue
		}
		for _, r := range sum.Runs {
			if r.State == sweep.Finished {
				r.Name = n + "/" + r.Name
				out = append(out, r)
			}
		}
	}
	return out
}

func countLinear(runs []sweep.RunResult) int {
	n := 0
	for _, r := range runs {
		if !math.IsNaN(r.Linear) && !math.IsNaN(r.ValLoss) && !math.IsNaN(r.AUC) {
			n++
		}
	}
	return n
}

// axisValues returns the values of axis key as written in the sweep file.
func axisValues(sum *sweep.Summary, key string) []string {
	i := slices.Index(sum.Axes, key)
	if i < 0 {
		return nil
	}
	var out []string
	seen := map[string]bool{}
	for _, g := range sum.Groups {
		if v := g.Values[i]; !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}

// pctOf formats a fraction 0.05 as "5%".
func pctOf(v float64) string { return fmt.Sprintf("%g%%", 100*v) }

func joinPct(vs []float64) string {
	var s []string
	for _, v := range vs {
		s = append(s, pctOf(v))
	}
	return strings.Join(s, "/")
}

// tailRatio is σ_d / σ_1 of a mean spectrum ("—" when absent).
func tailRatio(sigma []float64) string {
	if len(sigma) == 0 || sigma[0] <= 0 {
		return "—"
	}
	return fmt.Sprintf("%.2g", sigma[len(sigma)-1]/sigma[0])
}
