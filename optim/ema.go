package optim

import (
	"fmt"
	"math"

	"github.com/siam-ssl/siam/parallel"
	"github.com/siam-ssl/siam/tensor"
)

// EMA keeps Target as an exponential moving average of Online (BYOL's and MoCo's
// momentum encoder): target = m*target + (1-m)*online. With Cosine the momentum
// rises from Base to 1 over Total steps as in BYOL.
type EMA struct {
	Target, Online []*tensor.Tensor
	Base           float64
	Cosine         bool
	Total          int
}

// NewEMA pairs target and online tensors, which must match in number and shapes,
// and copies online into target.
func NewEMA(target, online []*tensor.Tensor, base float64) (*EMA, error) {
	if len(target) != len(online) {
		return nil, fmt.Errorf("ema: %d target tensors, %d online", len(target), len(online))
	}
	for i := range target {
		if !tensor.SameShape(target[i].Shape(), online[i].Shape()) {
			return nil, fmt.Errorf("ema: %s %v does not match %s %v", target[i].Name, target[i].Shape(), online[i].Name, online[i].Shape())
		}
		copy(target[i].Data, online[i].Data)
	}
	return &EMA{Target: target, Online: online, Base: base}, nil
}

// Momentum returns m at step.
func (e *EMA) Momentum(step int) float64 {
	if !e.Cosine || e.Total <= 0 {
		return e.Base
	}
	p := math.Min(1, float64(step)/float64(e.Total))
	return 1 - (1-e.Base)*(math.Cos(math.Pi*p)+1)/2
}

// Update moves every target tensor towards its online twin.
func (e *EMA) Update(step int) {
	m := float32(e.Momentum(step))
	parallel.For(len(e.Target), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			t, o := e.Target[i].Data, e.Online[i].Data
			for j := range t {
				t[j] = m*t[j] + (1-m)*o[j]
			}
		}
	})
}
