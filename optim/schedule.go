package optim

import "math"

// Cosine is a step-based learning-rate schedule: linear warm-up from Base/Warmup to
// Base over the first Warmup steps, then cosine decay from Base to 0 at Total —
// SimSiam's per-epoch cosine, applied per step.
type Cosine struct {
	Base   float64
	Total  int
	Warmup int
}

// At returns the rate for step (0-based).
func (s Cosine) At(step int) float64 {
	if s.Warmup > 0 && step < s.Warmup {
		return s.Base * float64(step+1) / float64(s.Warmup)
	}
	span := s.Total - s.Warmup
	if span <= 0 {
		return s.Base
	}
	p := math.Min(1, float64(step-s.Warmup)/float64(span))
	return s.Base * 0.5 * (1 + math.Cos(math.Pi*p))
}

// ScaledLR returns base*batch/256, the paper's linear scaling rule.
func ScaledLR(base float64, batch int) float64 { return base * float64(batch) / 256 }
