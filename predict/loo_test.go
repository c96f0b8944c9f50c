package predict

import (
	"math"
	"testing"
)

func TestLeaveOneOut(t *testing.T) {
	// Exact linear data: every held-out model is predicted exactly.
	var obs []Observation
	for i := 0; i < 7; i++ {
		l, a := -0.9+0.05*float64(i), 0.6+0.04*float64((i*3)%7)
		obs = append(obs, Observation{ValLoss: l, AUC: a, Accuracy: -40*l - 80*a + 100})
	}
	mae, held, err := LeaveOneOut(obs, Joint)
	if err != nil {
		t.Fatal(err)
	}
	if mae > 1e-9 || len(held) != len(obs) {
		t.Fatalf("exact data: mae %v, held-out %v", mae, held)
	}
	// Noise on one model shows up in its held-out error.
	obs[3].Accuracy += 5
	mae, held, err = LeaveOneOut(obs, Joint)
	if err != nil || mae < 0.5 || math.Abs(held[3]-(obs[3].Accuracy-5)) > 2.5 {
		t.Fatalf("noisy data: mae %v held %v err %v", mae, held, err)
	}
	if _, _, err := LeaveOneOut(obs[:4], Joint); err == nil {
		t.Fatal("4 models leave 3 per fit: must fail")
	}
}
