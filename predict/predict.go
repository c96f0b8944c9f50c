// Package predict estimates linear-probe accuracy without labels (SPEC §7, paper
// Section 3.5, Figure 4). Across a collection of trained models it fits, by ordinary
// least squares,
//
//	accuracy ≈ a * val_loss + b * AUC + c
//
// where val_loss is the SimSiam loss on the validation set and AUC the collapse metric
// of package collapse. The paper finds R² = 0.95 over 22 models and that neither
// feature alone predicts accuracy, so FitAll also fits the loss-only and AUC-only
// models for comparison. A fitted Model is plain JSON, so it can be saved and used to
// rank new, unlabelled models (Rank).
package predict

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"gonum.org/v1/gonum/mat"
)

// Kind names which features a model uses.
type Kind string

// The three fits of the paper's analysis.
const (
	// Joint uses both features: accuracy = a*loss + b*AUC + c (the predictor).
	Joint Kind = "loss+auc"
	// LossOnly uses the validation loss alone: accuracy = a*loss + c.
	LossOnly Kind = "loss"
	// AUCOnly uses the collapse AUC alone: accuracy = b*AUC + c.
	AUCOnly Kind = "auc"
)

// features lists the feature names of a kind, in coefficient order.
func (k Kind) features() ([]string, error) {
	switch k {
	case Joint:
		return []string{"val_loss", "auc"}, nil
	case LossOnly:
		return []string{"val_loss"}, nil
	case AUCOnly:
		return []string{"auc"}, nil
	}
	return nil, fmt.Errorf("%w: unknown model kind %q (want %q, %q or %q)", ErrInput, k, Joint, LossOnly, AUCOnly)
}

// Errors, for errors.Is.
var (
	// ErrInput reports unusable input: too few models, NaN/Inf values, an unknown kind.
	ErrInput = errors.New("predict: bad input")
	// ErrSingular reports a design matrix without full column rank: a feature constant
	// across models (e.g. all AUC equal) or the two features exactly collinear.
	ErrSingular = errors.New("predict: singular design matrix")
)

// Observation is one trained model with its label-free features and its measured
// accuracy (any unit, e.g. percent; predictions come back in the same unit).
type Observation struct {
	Name     string  `json:"name"`
	ValLoss  float64 `json:"val_loss"`
	AUC      float64 `json:"auc"`
	Accuracy float64 `json:"accuracy"`
}

// Model is a fitted linear predictor; unused coefficients of single-feature kinds are
// zero, so Predict works the same for every kind. It marshals to JSON as is.
type Model struct {
	Kind Kind `json:"kind"`
	// LossCoef is a, the coefficient of the validation loss.
	LossCoef float64 `json:"loss_coef"`
	// AUCCoef is b, the coefficient of the collapse AUC.
	AUCCoef float64 `json:"auc_coef"`
	// Intercept is c.
	Intercept float64 `json:"intercept"`
	// R2 is the coefficient of determination on the fitted models, 1 - SSres/SStot.
	R2 float64 `json:"r2"`
	// AdjustedR2 is R2 penalised for the number of features:
	// 1 - (1-R2)(n-1)/(n-p-1).
	AdjustedR2 float64 `json:"adjusted_r2"`
	// RMSE is the root mean squared residual, in accuracy units.
	RMSE float64 `json:"rmse"`
	// NumModels is how many observations were fitted.
	NumModels int `json:"num_models"`
}

// Predict returns the model's accuracy estimate a*loss + b*auc + c.
func (m Model) Predict(loss, auc float64) float64 {
	return m.LossCoef*loss + m.AUCCoef*auc + m.Intercept
}

// Predict returns model's accuracy estimate for a model with validation loss `loss`
// and collapse AUC `auc` (the same as model.Predict).
func Predict(model Model, loss, auc float64) float64 { return model.Predict(loss, auc) }

// Validate checks that a (loaded) model has a known kind and finite coefficients.
func (m Model) Validate() error {
	if _, err := m.Kind.features(); err != nil {
		return err
	}
	for _, v := range []float64{m.LossCoef, m.AUCCoef, m.Intercept} {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("%w: non-finite coefficient in %+v", ErrInput, m)
		}
	}
	return nil
}

// LoadModel decodes a Model saved as JSON (json.Marshal of a Model) and validates it.
func LoadModel(data []byte) (Model, error) {
	var m Model
	if err := json.Unmarshal(data, &m); err != nil {
		return Model{}, fmt.Errorf("predict: decoding model: %w", err)
	}
	return m, m.Validate()
}

// FitResult is a fitted Model with its in-sample predictions and residuals
// (accuracy - prediction), in observation order.
type FitResult struct {
	Model
	Names     []string  `json:"names"`
	Predicted []float64 `json:"predicted"`
	Residuals []float64 `json:"residuals"`
}

// Report holds the three fits of the paper's analysis over one collection of models:
// the joint predictor and the two single-feature fits that show neither feature alone
// suffices.
type Report struct {
	Observations []Observation `json:"observations"`
	Joint        *FitResult    `json:"joint"`
	LossOnly     *FitResult    `json:"loss_only"`
	AUCOnly      *FitResult    `json:"auc_only"`
}

// FitAll fits the joint, loss-only and AUC-only models. It needs at least 4 models
// (more than the 3 parameters of the joint fit) and fails like Fit.
func FitAll(obs []Observation) (*Report, error) {
	r := &Report{Observations: slices.Clone(obs)}
	var err error
	if r.Joint, err = Fit(obs, Joint); err != nil {
		return nil, err
	}
	if r.LossOnly, err = Fit(obs, LossOnly); err != nil {
		return nil, err
	}
	if r.AUCOnly, err = Fit(obs, AUCOnly); err != nil {
		return nil, err
	}
	return r, nil
}

// Fit fits one kind of model by ordinary least squares. The features are
// standardised (centred, scaled to unit variance) before solving, through gonum's
// SVD, so the conditioning check does not depend on units. Errors: fewer models than
// parameters + 1 (4 for Joint, 3 for a single feature), a NaN/Inf value (named), a
// feature constant across models or two collinear features (ErrSingular), or an
// accuracy constant across models (R² undefined).
func Fit(obs []Observation, kind Kind) (*FitResult, error) {
	names, err := kind.features()
	if err != nil {
		return nil, err
	}
	n, p := len(obs), len(names)
	if n <= p+1 {
		return nil, fmt.Errorf("%w: %d models for a %s fit with %d parameters; need at least %d", ErrInput, n, kind, p+1, p+2)
	}
	for i, o := range obs {
		for _, v := range []struct {
			name string
			x    float64
		}{{"val_loss", o.ValLoss}, {"auc", o.AUC}, {"accuracy", o.Accuracy}} {
			if math.IsNaN(v.x) || math.IsInf(v.x, 0) {
				return nil, fmt.Errorf("%w: %s of model %d (%q) is %v", ErrInput, v.name, i, o.Name, v.x)
			}
		}
	}
	feature := func(o Observation, name string) float64 {
		if name == "val_loss" {
			return o.ValLoss
		}
		return o.AUC
	}
	// Standardise the columns.
	z := mat.NewDense(n, p, nil)
	means, scales := make([]float64, p), make([]float64, p)
	for j, name := range names {
		col := make([]float64, n)
		for i, o := range obs {
			col[i] = feature(o, name)
		}
		m, s := meanStd(col)
		if s <= 1e-12*math.Max(math.Abs(m), 1e-300) || s == 0 {
			return nil, fmt.Errorf("%w: %s is the same (%g) for every model, so its coefficient is undetermined", ErrSingular, name, m)
		}
		means[j], scales[j] = m, s
		for i, v := range col {
			z.Set(i, j, (v-m)/s)
		}
	}
	y := make([]float64, n)
	for i, o := range obs {
		y[i] = o.Accuracy
	}
	ym, ys := meanStd(y)
	if ys == 0 {
		return nil, fmt.Errorf("%w: accuracy is the same (%g) for every model; R² is undefined", ErrInput, ym)
	}
	yc := mat.NewVecDense(n, nil)
	for i, v := range y {
		yc.SetVec(i, v-ym)
	}
	var svd mat.SVD
	if !svd.Factorize(z, mat.SVDThin) {
		return nil, fmt.Errorf("%w: SVD did not converge", ErrSingular)
	}
	sv := svd.Values(nil)
	if sv[len(sv)-1] <= 1e-10*sv[0] {
		return nil, fmt.Errorf("%w: %s are collinear across the models (condition number %.3g)", ErrSingular, strings.Join(names, " and "), sv[0]/sv[len(sv)-1])
	}
	var beta mat.Dense
	svd.SolveTo(&beta, yc, p)

	res := &FitResult{Model: Model{Kind: kind, NumModels: n}}
	res.Intercept = ym
	for j, name := range names {
		coef := beta.At(j, 0) / scales[j]
		res.Intercept -= coef * means[j]
		if name == "val_loss" {
			res.LossCoef = coef
		} else {
			res.AUCCoef = coef
		}
	}
	var ssRes, ssTot float64
	for _, o := range obs {
		pred := res.Predict(o.ValLoss, o.AUC)
		res.Names = append(res.Names, o.Name)
		res.Predicted = append(res.Predicted, pred)
		res.Residuals = append(res.Residuals, o.Accuracy-pred)
		ssRes += (o.Accuracy - pred) * (o.Accuracy - pred)
		ssTot += (o.Accuracy - ym) * (o.Accuracy - ym)
	}
	res.R2 = 1 - ssRes/ssTot
	res.AdjustedR2 = 1 - (1-res.R2)*float64(n-1)/float64(n-p-1)
	res.RMSE = math.Sqrt(ssRes / float64(n))
	return res, nil
}

// meanStd returns the mean and population standard deviation (two-pass).
func meanStd(x []float64) (mean, std float64) {
	for _, v := range x {
		mean += v
	}
	mean /= float64(len(x))
	for _, v := range x {
		std += (v - mean) * (v - mean)
	}
	return mean, math.Sqrt(std / float64(len(x)))
}

// Candidate is an unlabelled model to rank: its validation loss and collapse AUC.
type Candidate struct {
	Name    string  `json:"name"`
	ValLoss float64 `json:"val_loss"`
	AUC     float64 `json:"auc"`
}

// Ranked is a Candidate with its predicted accuracy and 1-based rank.
type Ranked struct {
	Candidate
	Predicted float64 `json:"predicted"`
	Rank      int     `json:"rank"`
}

// Rank orders unlabelled candidates by predicted accuracy, best first (equal
// predictions keep input order), so the most promising model can be chosen without
// labels or fine-tuning. A NaN/Inf feature or an invalid model is an error.
func Rank(m Model, cands []Candidate) ([]Ranked, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	out := make([]Ranked, len(cands))
	for i, c := range cands {
		if math.IsNaN(c.ValLoss) || math.IsInf(c.ValLoss, 0) || math.IsNaN(c.AUC) || math.IsInf(c.AUC, 0) {
			return nil, fmt.Errorf("%w: candidate %d (%q) has val_loss %v, auc %v", ErrInput, i, c.Name, c.ValLoss, c.AUC)
		}
		out[i] = Ranked{Candidate: c, Predicted: m.Predict(c.ValLoss, c.AUC)}
	}
	slices.SortStableFunc(out, func(a, b Ranked) int {
		switch {
		case a.Predicted > b.Predicted:
			return -1
		case a.Predicted < b.Predicted:
			return 1
		}
		return 0
	})
	for i := range out {
		out[i].Rank = i + 1
	}
	return out, nil
}
