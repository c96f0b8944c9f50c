package predict

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// synthetic returns n observations with accuracy = a*loss + b*auc + c + noise.
func synthetic(n int, a, b, c, noise float64, seed uint64) []Observation {
	r := rand.New(rand.NewPCG(seed, 7))
	obs := make([]Observation, n)
	for i := range obs {
		loss := -0.95 + 0.1*r.Float64() // SimSiam loss is near -1
		auc := 0.6 + 0.3*r.Float64()
		obs[i] = Observation{Name: fmt.Sprintf("m%d", i), ValLoss: loss, AUC: auc, Accuracy: a*loss + b*auc + c + noise*r.NormFloat64()}
	}
	return obs
}

func TestExactRecovery(t *testing.T) {
	tests := []struct {
		name    string
		n       int
		a, b, c float64
	}{
		{"minimum 4 models", 4, -120, -80, 10},
		{"22 models like the paper", 22, -300, -95, -150},
		{"positive coefficients", 10, 3, 5, 0.5},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			obs := synthetic(tc.n, tc.a, tc.b, tc.c, 0, 1)
			f, err := Fit(obs, Joint)
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range []struct{ got, want float64 }{{f.LossCoef, tc.a}, {f.AUCCoef, tc.b}, {f.Intercept, tc.c}} {
				if math.Abs(v.got-v.want) > 1e-8*math.Max(1, math.Abs(v.want)) {
					t.Errorf("coefficients (%v, %v, %v), want (%v, %v, %v)", f.LossCoef, f.AUCCoef, f.Intercept, tc.a, tc.b, tc.c)
				}
			}
			if math.Abs(f.R2-1) > 1e-12 || f.RMSE > 1e-8 {
				t.Errorf("R2 = %v, RMSE = %v; want 1, 0", f.R2, f.RMSE)
			}
			for i, o := range obs {
				if math.Abs(f.Predicted[i]-o.Accuracy) > 1e-8 || math.Abs(f.Residuals[i]) > 1e-8 {
					t.Errorf("model %d: predicted %v, residual %v, accuracy %v", i, f.Predicted[i], f.Residuals[i], o.Accuracy)
				}
			}
		})
	}
}

// With noise, the joint fit keeps a high R²; each single feature explains only part.
func TestJointBeatsSingleFeatures(t *testing.T) {
	// Loss and AUC pull in opposite directions (as in the paper: more collapse lowers
	// the loss but hurts accuracy), so each alone is a poor predictor.
	r := rand.New(rand.NewPCG(5, 5))
	var obs []Observation
	for i := range 22 {
		auc := 0.6 + 0.3*r.Float64()
		loss := -0.9 - 0.2*(auc-0.6) + 0.02*r.NormFloat64() // more collapse, lower loss
		acc := -300*loss - 95*auc - 180 + 0.3*r.NormFloat64()
		obs = append(obs, Observation{Name: fmt.Sprint(i), ValLoss: loss, AUC: auc, Accuracy: acc})
	}
	rep, err := FitAll(obs)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("R2 joint %.3f, loss only %.3f, auc only %.3f", rep.Joint.R2, rep.LossOnly.R2, rep.AUCOnly.R2)
	if rep.Joint.R2 < 0.95 {
		t.Errorf("joint R2 = %v, want >= 0.95", rep.Joint.R2)
	}
	if rep.LossOnly.R2 > 0.7 || rep.AUCOnly.R2 > 0.7 {
		t.Errorf("single-feature R2 = %v (loss), %v (auc); want both well below the joint fit", rep.LossOnly.R2, rep.AUCOnly.R2)
	}
	if rep.LossOnly.AUCCoef != 0 || rep.AUCOnly.LossCoef != 0 {
		t.Error("single-feature fits must leave the other coefficient zero")
	}
	if rep.Joint.AdjustedR2 > rep.Joint.R2 {
		t.Errorf("adjusted R2 %v > R2 %v", rep.Joint.AdjustedR2, rep.Joint.R2)
	}
}

// R² against a hand computation on a tiny fit.
func TestR2ByHand(t *testing.T) {
	// y = 2x + 1 with residuals +1, -1, -1, +1 at x = 0..3 (orthogonal to 1 and x).
	obs := []Observation{{ValLoss: 0, AUC: 0.5, Accuracy: 2}, {ValLoss: 1, AUC: 0.5, Accuracy: 2}, {ValLoss: 2, AUC: 0.5, Accuracy: 4}, {ValLoss: 3, AUC: 0.5, Accuracy: 8}}
	f, err := Fit(obs, LossOnly)
	if err != nil {
		t.Fatal(err)
	}
	// Fitted: slope 2, intercept 1 => predictions 1,3,5,7; residuals 1,-1,-1,1; SSres=4.
	// mean y = 4, SStot = 4+4+0+16 = 24, R2 = 1 - 4/24.
	if math.Abs(f.LossCoef-2) > 1e-12 || math.Abs(f.Intercept-1) > 1e-12 || math.Abs(f.R2-(1-4.0/24)) > 1e-12 || math.Abs(f.RMSE-1) > 1e-12 {
		t.Errorf("fit %+v", f.Model)
	}
	if want := 1 - (4.0/24)*3/2; math.Abs(f.AdjustedR2-want) > 1e-12 {
		t.Errorf("adjusted R2 = %v, want %v", f.AdjustedR2, want)
	}
}

func TestFitErrors(t *testing.T) {
	good := synthetic(6, -100, -50, 10, 0.1, 2)
	withNaN := synthetic(6, -100, -50, 10, 0.1, 2)
	withNaN[3].AUC = math.NaN()
	sameAUC := synthetic(6, -100, -50, 10, 0.1, 2)
	for i := range sameAUC {
		sameAUC[i].AUC = 0.8
	}
	collinear := synthetic(6, -100, -50, 10, 0.1, 2)
	for i := range collinear {
		collinear[i].AUC = 2*collinear[i].ValLoss + 3
	}
	sameAcc := synthetic(6, -100, -50, 10, 0.1, 2)
	for i := range sameAcc {
		sameAcc[i].Accuracy = 40
	}
	tests := []struct {
		name string
		obs  []Observation
		kind Kind
		want error
	}{
		{"three models", good[:3], Joint, ErrInput},
		{"no models", nil, Joint, ErrInput},
		{"two models single feature", good[:2], LossOnly, ErrInput},
		{"NaN", withNaN, Joint, ErrInput},
		{"all AUC equal", sameAUC, Joint, ErrSingular},
		{"all AUC equal, auc only", sameAUC, AUCOnly, ErrSingular},
		{"collinear", collinear, Joint, ErrSingular},
		{"constant accuracy", sameAcc, Joint, ErrInput},
		{"unknown kind", good, "loss*auc", ErrInput},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Fit(tc.obs, tc.kind)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			t.Log(err)
		})
	}
	if _, err := FitAll(good[:3]); !errors.Is(err, ErrInput) {
		t.Errorf("FitAll with 3 models: %v", err)
	}
	// Loss-only works even when AUC is constant.
	if _, err := Fit(sameAUC, LossOnly); err != nil {
		t.Errorf("loss-only fit with constant AUC: %v", err)
	}
}

func TestModelJSONRoundTripAndRank(t *testing.T) {
	f, err := Fit(synthetic(12, -200, -60, -100, 0.5, 3), Joint)
	if err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(f.Model)
	if err != nil {
		t.Fatal(err)
	}
	m, err := LoadModel(data)
	if err != nil {
		t.Fatal(err)
	}
	if m != f.Model {
		t.Errorf("round trip: %+v != %+v", m, f.Model)
	}
	if got, want := Predict(m, -0.9, 0.7), -200*-0.9-60*0.7-100; math.Abs(got-want) > 2 {
		t.Errorf("Predict = %v, want about %v", got, want)
	}
	cands := []Candidate{
		{Name: "collapsed", ValLoss: -0.97, AUC: 0.88},
		{Name: "healthy", ValLoss: -0.93, AUC: 0.62},
		{Name: "middle", ValLoss: -0.95, AUC: 0.75},
	}
	ranked, err := Rank(m, cands)
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i < len(ranked); i++ {
		if ranked[i].Predicted > ranked[i-1].Predicted || ranked[i].Rank != i+1 {
			t.Errorf("not ranked: %+v", ranked)
		}
	}
	if _, err := Rank(m, []Candidate{{Name: "x", ValLoss: math.NaN()}}); !errors.Is(err, ErrInput) {
		t.Errorf("NaN candidate: %v", err)
	}
	for _, bad := range []string{`{"kind":"nope"}`, `{"kind":"auc","auc_coef":1e999}`, `not json`} {
		if _, err := LoadModel([]byte(bad)); err == nil {
			t.Errorf("LoadModel(%s): want error", bad)
		}
	}
}

func ExampleFit() {
	// Four models with accuracy = -100*loss - 50*auc + 10 exactly.
	obs := []Observation{
		{Name: "r18-1%", ValLoss: -0.90, AUC: 0.61, Accuracy: -100*-0.90 - 50*0.61 + 10},
		{Name: "r18-5%", ValLoss: -0.94, AUC: 0.75, Accuracy: -100*-0.94 - 50*0.75 + 10},
		{Name: "r18-100%", ValLoss: -0.97, AUC: 0.86, Accuracy: -100*-0.97 - 50*0.86 + 10},
		{Name: "r18-single", ValLoss: -0.93, AUC: 0.66, Accuracy: -100*-0.93 - 50*0.66 + 10},
	}
	f, err := Fit(obs, Joint)
	if err != nil {
		panic(err)
	}
	fmt.Printf("a=%.1f b=%.1f c=%.1f R2=%.2f\n", f.LossCoef, f.AUCCoef, f.Intercept, f.R2)
	fmt.Printf("new model: %.2f\n", f.Predict(-0.95, 0.70))
	// Output:
	// a=-100.0 b=-50.0 c=10.0 R2=1.00
	// new model: 70.00
}
