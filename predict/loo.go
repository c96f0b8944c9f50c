package predict

import "math"

// LeaveOneOut refits the model of the given kind once per observation, leaving it
// out, and predicts it: the honest estimate of how well accuracy is predicted for a
// model that was not in the fit. It returns the mean absolute error and the
// held-out predictions (in observation order). It needs one more observation than
// Fit does.
func LeaveOneOut(obs []Observation, kind Kind) (mae float64, heldOut []float64, err error) {
	heldOut = make([]float64, len(obs))
	rest := make([]Observation, 0, len(obs))
	for i := range obs {
		rest = append(rest[:0], obs[:i]...)
		rest = append(rest, obs[i+1:]...)
		f, err := Fit(rest, kind)
		if err != nil {
			return math.NaN(), nil, err
		}
		heldOut[i] = f.Predict(obs[i].ValLoss, obs[i].AUC)
		mae += math.Abs(heldOut[i] - obs[i].Accuracy)
	}
	return mae / float64(len(obs)), heldOut, nil
}
