package sweep

import (
	"bufio"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/siam-ssl/siam/predict"
	"github.com/siam-ssl/siam/train"
)

// Stat is a mean ± sample standard deviation (n-1) over the runs of a group that
// have the value. Mean is NaN when N is 0, SD when N < 2.
type Stat struct {
	Mean, SD float64
	N        int
}

// StatOf is the mean ± sample sd of the non-NaN values of xs.
func StatOf(xs []float64) Stat {
	var v []float64
	for _, x := range xs {
		if !math.IsNaN(x) {
			v = append(v, x)
		}
	}
	s := Stat{Mean: math.NaN(), SD: math.NaN(), N: len(v)}
	if len(v) == 0 {
		return s
	}
	s.Mean = 0
	for _, x := range v {
		s.Mean += x
	}
	s.Mean /= float64(len(v))
	if len(v) > 1 {
		var ss float64
		for _, x := range v {
			ss += (x - s.Mean) * (x - s.Mean)
		}
		s.SD = math.Sqrt(ss / float64(len(v)-1))
	}
	return s
}

// jsonNum is a float64 that marshals NaN as null.
type jsonNum float64

func (v jsonNum) MarshalJSON() ([]byte, error) {
	if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
		return []byte("null"), nil
	}
	return json.Marshal(float64(v))
}

// MarshalJSON writes {"mean", "sd", "n"} with null for unknown values.
func (s Stat) MarshalJSON() ([]byte, error) {
	return json.Marshal(map[string]any{"mean": jsonNum(s.Mean), "sd": jsonNum(s.SD), "n": s.N})
}

// RunResult is one run's final numbers (NaN when not measured yet): the latest
// results.jsonl record of each kind at the final step, and the last training loss.
type RunResult struct {
	Name, Group string
	// Seed is the run's value of the seed axis ("" without one).
	Seed  string
	State State
	// KNN and Linear are accuracies (fractions); AUC and RankMe from the collapse
	// record; ValLoss from the loss record; FinalLoss the last training loss.
	KNN, Linear, AUC, RankMe, ValLoss, FinalLoss float64
	// Sigma holds the final singular values (collapse record).
	Sigma []float64
}

// MarshalJSON writes the run's numbers with null for unknown values (no spectrum).
func (r RunResult) MarshalJSON() ([]byte, error) {
	return json.Marshal(map[string]any{"run": r.Name, "group": r.Group, "seed": r.Seed, "state": r.State,
		"knn": jsonNum(r.KNN), "linear": jsonNum(r.Linear), "auc": jsonNum(r.AUC), "rankme": jsonNum(r.RankMe),
		"val_loss": jsonNum(r.ValLoss), "final_loss": jsonNum(r.FinalLoss)})
}

// Group is one grid point with the seed axis averaged out.
type Group struct {
	// Name is the run name without its seed ("order=single"; "all" when the seed is
	// the only axis); Values are its non-seed axis values.
	Name   string   `json:"group"`
	Values []string `json:"values"`
	Runs   []string `json:"runs"`
	// Finished counts the group's finished runs.
	Finished                                     int `json:"finished"`
	KNN, Linear, AUC, RankMe, ValLoss, FinalLoss Stat
	// Sigma is the mean over runs of the final (sorted) singular values.
	Sigma []float64 `json:"-"`
	// LossStep and LossMean are the training loss against step, averaged over the
	// group's runs at the logged steps they share (at most 300 points).
	LossStep, LossMean []float64 `json:"-"`
	// KNNStep/KNNMean and AUCStep/AUCMean are the monitored weighted k-NN accuracy
	// and AUC during training (monitor_every), averaged the same way.
	KNNStep, KNNMean, AUCStep, AUCMean []float64 `json:"-"`
}

// MarshalJSON names the statistics in snake case.
func (g Group) MarshalJSON() ([]byte, error) {
	return json.Marshal(map[string]any{"group": g.Name, "values": g.Values, "runs": g.Runs, "finished": g.Finished,
		"knn": g.KNN, "linear": g.Linear, "auc": g.AUC, "rankme": g.RankMe, "val_loss": g.ValLoss, "final_loss": g.FinalLoss})
}

// PredictorFit is one least-squares fit of accuracy (%) on the label-free features.
type PredictorFit struct {
	Kind                    string  `json:"kind"`
	LossCoef, AUCCoef, Bias jsonNum `json:"-"`
	R2                      jsonNum `json:"r2"`
	// LOOMAE is the leave-one-out mean absolute error in accuracy points (NaN when
	// there are too few models to leave one out).
	LOOMAE jsonNum `json:"loo_mae"`
}

// MarshalJSON writes the coefficients too.
func (f PredictorFit) MarshalJSON() ([]byte, error) {
	return json.Marshal(map[string]any{"kind": f.Kind, "loss_coef": f.LossCoef, "auc_coef": f.AUCCoef,
		"intercept": f.Bias, "r2": f.R2, "loo_mae": f.LOOMAE})
}

// Predictor is the paper's label-free accuracy predictor (SPEC §7) fitted over
// the sweep's runs: accuracy ≈ a·val_loss + b·AUC + c, and each feature alone.
type Predictor struct {
	// Accuracy is "linear" (at least 4 runs have a linear probe) or "knn".
	Accuracy string         `json:"accuracy"`
	Models   int            `json:"models"`
	Fits     []PredictorFit `json:"fits"` // joint, loss only, AUC only
	// Names, Actual and Predicted are the joint fit's in-sample points (%).
	Names             []string  `json:"names"`
	Actual, Predicted []float64 `json:"-"`
}

// Summary is a sweep folder aggregated: per run, per group (mean ± sd over the
// seed axis) and the predictor.
type Summary struct {
	Name string `json:"name"`
	Dir  string `json:"dir"`
	Hash string `json:"sha256"`
	// Axes are the non-seed axes; Seeds the seed axis's values (nil without one).
	Axes   []string      `json:"axes"`
	Seeds  []string      `json:"seeds"`
	Counts map[State]int `json:"counts"`
	Groups []Group       `json:"groups"`
	Runs   []RunResult   `json:"runs"`
	// Predictor is nil when fewer than predict's minimum of runs have val loss, AUC
	// and an accuracy.
	Predictor *Predictor `json:"predictor"`
	// Config is the base config (for the report's header).
	Config train.Config `json:"-"`
	sweep  *Sweep
}

// minPredictorRuns is the number of runs the joint predictor needs (3 parameters + 1).
const minPredictorRuns = 4

// Aggregate reads the sweep folder dir: every run's state and final results, the
// groups (grid points without the seed axis) with mean ± sd over seeds of k-NN,
// linear-probe accuracy, AUC, RankMe, validation and final training loss, the mean
// spectrum and loss curve, and the label-free predictor over all runs. Runs not
// finished yet contribute what they have recorded at their final step.
func Aggregate(dir string) (*Summary, error) {
	s, err := Open(dir)
	if err != nil {
		return nil, err
	}
	sum := &Summary{Name: s.Name, Dir: dir, Hash: s.Hash(), Config: s.Base, sweep: s}
	if sum.Name == "" {
		sum.Name = filepath.Base(filepath.Clean(dir))
	}
	seedAxis := -1
	for i, a := range s.Axes {
		if a.Key == SeedAxis {
			seedAxis = i
			sum.Seeds = a.Values
		} else {
			sum.Axes = append(sum.Axes, a.Key)
		}
	}
	sts := Status(dir, s, 0)
	sum.Counts = Counts(sts)
	groupOf := map[string]int{}
	curves := map[string]map[string][][2][]float64{} // group -> metrics field -> runs' curves
	for _, st := range sts {
		var parts, vals []string
		for i, a := range s.Axes {
			if i != seedAxis {
				parts = append(parts, a.Key+"="+safeName(st.Values[i]))
				vals = append(vals, st.Values[i])
			}
		}
		gname := strings.Join(parts, ",")
		if gname == "" {
			gname = "all"
		}
		r := readRun(st.Dir(dir), st.Steps)
		r.Name, r.Group, r.State = st.Name, gname, st.State
		if seedAxis >= 0 {
			r.Seed = st.Values[seedAxis]
		}
		sum.Runs = append(sum.Runs, r)
		gi, ok := groupOf[gname]
		if !ok {
			gi = len(sum.Groups)
			groupOf[gname] = gi
			sum.Groups = append(sum.Groups, Group{Name: gname, Values: vals})
		}
		g := &sum.Groups[gi]
		g.Runs = append(g.Runs, st.Name)
		if st.State == Finished {
			g.Finished++
		}
		if curves[gname] == nil {
			curves[gname] = map[string][][2][]float64{}
		}
		for field, c := range metricCurves(filepath.Join(st.Dir(dir), train.MetricsFile)) {
			curves[gname][field] = append(curves[gname][field], c)
		}
	}
	for gi := range sum.Groups {
		g := &sum.Groups[gi]
		var knn, lin, auc, rank, vl, fl []float64
		var sigmas [][]float64
		for _, r := range sum.Runs {
			if r.Group != g.Name {
				continue
			}
			knn, lin, auc, rank = append(knn, r.KNN), append(lin, r.Linear), append(auc, r.AUC), append(rank, r.RankMe)
			vl, fl = append(vl, r.ValLoss), append(fl, r.FinalLoss)
			if len(r.Sigma) > 0 {
				sigmas = append(sigmas, r.Sigma)
			}
		}
		g.KNN, g.Linear, g.AUC, g.RankMe = StatOf(knn), StatOf(lin), StatOf(auc), StatOf(rank)
		g.ValLoss, g.FinalLoss = StatOf(vl), StatOf(fl)
		g.Sigma = meanSpectrum(sigmas)
		g.LossStep, g.LossMean = meanCurve(curves[g.Name]["loss"], 300)
		g.KNNStep, g.KNNMean = meanCurve(curves[g.Name]["knn_acc"], 300)
		g.AUCStep, g.AUCMean = meanCurve(curves[g.Name]["auc"], 300)
	}
	sum.Predictor = FitPredictor(sum.Runs)
	return sum, nil
}

// readRun reads a run's final records and last training loss.
func readRun(rd string, steps int) RunResult {
	nan := math.NaN()
	r := RunResult{KNN: nan, Linear: nan, AUC: nan, RankMe: nan, ValLoss: nan, FinalLoss: nan}
	recs := finalRecords(rd, steps)
	num := func(kind, field string) float64 {
		if v, ok := recs[kind][field].(float64); ok {
			return v
		}
		return nan
	}
	r.KNN, r.Linear = num("knn", "accuracy"), num("linear", "accuracy")
	r.AUC, r.RankMe, r.ValLoss = num("collapse", "auc"), num("collapse", "rankme"), num("loss", "val_loss")
	if sv, ok := recs["collapse"]["singular_values"].([]any); ok {
		for _, v := range sv {
			if f, ok := v.(float64); ok {
				r.Sigma = append(r.Sigma, f)
			}
		}
	}
	if c, ok := metricCurves(filepath.Join(rd, train.MetricsFile))["loss"]; ok && int(c[0][len(c[0])-1]) == steps {
		r.FinalLoss = c[1][len(c[1])-1]
	}
	return r
}

// metricCurves reads (step, value) curves of the loss and the monitored knn_acc
// and auc fields from a metrics.jsonl; a field absent from every line is absent.
func metricCurves(path string) map[string][2][]float64 {
	out := map[string][2][]float64{}
	f, err := os.Open(path)
	if err != nil {
		return out
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 1<<16), 1<<24)
	for sc.Scan() {
		var m struct {
			Step *int     `json:"step"`
			Loss *float64 `json:"loss"`
			KNN  *float64 `json:"knn_acc"`
			AUC  *float64 `json:"auc"`
		}
		if json.Unmarshal(sc.Bytes(), &m) != nil || m.Step == nil {
			continue
		}
		for field, v := range map[string]*float64{"loss": m.Loss, "knn_acc": m.KNN, "auc": m.AUC} {
			if v != nil {
				c := out[field]
				c[0], c[1] = append(c[0], float64(*m.Step)), append(c[1], *v)
				out[field] = c
			}
		}
	}
	return out
}

// meanCurve averages curves at the steps all of them logged, then bins the result
// to at most maxPoints points.
func meanCurve(curves [][2][]float64, maxPoints int) (x, y []float64) {
	if len(curves) == 0 {
		return nil, nil
	}
	sum, cnt := map[float64]float64{}, map[float64]int{}
	for _, c := range curves {
		for i, s := range c[0] {
			sum[s] += c[1][i]
			cnt[s]++
		}
	}
	var steps []float64
	for s, n := range cnt {
		if n == len(curves) {
			steps = append(steps, s)
		}
	}
	slices.Sort(steps)
	per := max(1, (len(steps)+maxPoints-1)/maxPoints)
	for i := 0; i < len(steps); i += per {
		end := min(i+per, len(steps))
		var sx, sy float64
		for _, s := range steps[i:end] {
			sx += s
			sy += sum[s] / float64(len(curves))
		}
		n := float64(end - i)
		x, y = append(x, sx/n), append(y, sy/n)
	}
	return x, y
}

// meanSpectrum averages sorted spectra of equal length (nil when none or when the
// lengths differ).
func meanSpectrum(sigmas [][]float64) []float64 {
	if len(sigmas) == 0 {
		return nil
	}
	out := make([]float64, len(sigmas[0]))
	for _, s := range sigmas {
		if len(s) != len(out) {
			return nil
		}
		v := slices.Clone(s)
		slices.Sort(v)
		slices.Reverse(v)
		for i, x := range v {
			out[i] += x / float64(len(sigmas))
		}
	}
	return out
}

// FitPredictor fits accuracy ~ val_loss + AUC over the runs (linear-probe accuracy
// when at least minPredictorRuns runs have it, else k-NN), with leave-one-out
// errors; nil when too few runs qualify or the fit is singular.
func FitPredictor(runs []RunResult) *Predictor {
	obs := func(kind string) []predict.Observation {
		var o []predict.Observation
		for _, r := range runs {
			acc := r.KNN
			if kind == "linear" {
				acc = r.Linear
			}
			if !math.IsNaN(acc) && !math.IsNaN(r.ValLoss) && !math.IsNaN(r.AUC) {
				o = append(o, predict.Observation{Name: r.Name, ValLoss: r.ValLoss, AUC: r.AUC, Accuracy: 100 * acc})
			}
		}
		return o
	}
	kind := "linear"
	o := obs(kind)
	if len(o) < minPredictorRuns {
		kind, o = "knn", obs("knn")
	}
	if len(o) < minPredictorRuns {
		return nil
	}
	rep, err := predict.FitAll(o)
	if err != nil {
		return nil
	}
	p := &Predictor{Accuracy: kind, Models: len(o), Names: rep.Joint.Names, Predicted: rep.Joint.Predicted}
	for _, ob := range o {
		p.Actual = append(p.Actual, ob.Accuracy)
	}
	for _, fr := range []*predict.FitResult{rep.Joint, rep.LossOnly, rep.AUCOnly} {
		mae, _, err := predict.LeaveOneOut(o, fr.Kind)
		if err != nil {
			mae = math.NaN()
		}
		p.Fits = append(p.Fits, PredictorFit{Kind: string(fr.Kind), LossCoef: jsonNum(fr.LossCoef), AUCCoef: jsonNum(fr.AUCCoef),
			Bias: jsonNum(fr.Intercept), R2: jsonNum(fr.R2), LOOMAE: jsonNum(mae)})
	}
	return p
}

// numericAxis reports whether every value parses as a number, with the values.
func numericAxis(vals []string) ([]float64, bool) {
	out := make([]float64, len(vals))
	for i, v := range vals {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, false
		}
		out[i] = f
	}
	return out, true
}
