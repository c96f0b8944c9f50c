package nn

import (
	"math"
	"math/rand/v2"

	"github.com/siam-ssl/siam/tensor"
)

// KaimingNormalFanOut fills a conv weight [K,C,R,S] with N(0, 2/(K*R*S)): torchvision's
// ResNet initialisation (mode fan_out, ReLU gain).
func KaimingNormalFanOut(w *tensor.Tensor, rng *rand.Rand) {
	s := w.Shape()
	fanOut := s[0]
	for _, d := range s[2:] {
		fanOut *= d
	}
	std := math.Sqrt(2 / float64(fanOut))
	for i := range w.Data {
		w.Data[i] = float32(rng.NormFloat64() * std)
	}
}

// UniformFanIn fills t with U(-1/sqrt(fanIn), 1/sqrt(fanIn)): PyTorch's default for
// Linear weights and biases.
func UniformFanIn(t *tensor.Tensor, fanIn int, rng *rand.Rand) {
	b := 1 / math.Sqrt(float64(fanIn))
	for i := range t.Data {
		t.Data[i] = float32((2*rng.Float64() - 1) * b)
	}
}

// Normal fills t with N(0, std^2), e.g. the linear probe's N(0, 0.01) init.
func Normal(t *tensor.Tensor, std float64, rng *rand.Rand) {
	for i := range t.Data {
		t.Data[i] = float32(rng.NormFloat64() * std)
	}
}

// Fill sets every element of t to v.
func Fill(t *tensor.Tensor, v float32) {
	for i := range t.Data {
		t.Data[i] = v
	}
}
