package pretrained

import (
	"fmt"

	"github.com/siam-ssl/siam/tensor"
)

// SetInput sets the per-channel normalisation Represent applies: one value
// for every channel, or one per model input channel (3 for RGB models).
// nil/nil switches normalisation off (the images are already normalised).
func (m *Model) SetInput(mean, std []float32) error {
	c := m.Spec.InChannels
	if (mean == nil) != (std == nil) {
		return fmt.Errorf("mean and std must be given together")
	}
	for _, v := range [][]float32{mean, std} {
		if v != nil && len(v) != 1 && len(v) != c {
			return fmt.Errorf("%d normalisation values for a %d-channel model (want 1 or %d)", len(v), c, c)
		}
	}
	for _, s := range std {
		if !(s > 0) {
			return fmt.Errorf("std %v must be > 0", s)
		}
	}
	m.Mean, m.Std = mean, std
	return nil
}

// InChannels is the number of image channels the backbone takes.
func (m *Model) InChannels() int { return m.Spec.InChannels }

// FeatureDim is the size of one representation.
func (m *Model) FeatureDim() int { return m.Backbone.FeatureDim() }

// SetTraining switches the backbone's batch-norm layers between batch
// statistics (true) and running statistics (false, the default).
func (m *Model) SetTraining(v bool) {
	m.training = v
	m.Params.SetTraining(v)
}

// Training reports the mode last set by SetTraining.
func (m *Model) Training() bool { return m.training }

// Represent maps images x [N,C,H,W] with pixel values in [0,1] to the
// backbone's features [N, FeatureDim()]. It first normalises each channel with
// Mean/Std and, for a one-channel image and a three-channel model, repeats the
// gray channel (torchvision's Grayscale(3)) so that an ImageNet model can be
// measured on Fashion-MNIST. This input step is not differentiated: the
// backbone is a frozen feature extractor.
func (m *Model) Represent(g *tensor.Graph, x *tensor.Tensor) *tensor.Tensor {
	if g.Err() != nil {
		return x
	}
	cin := m.Spec.InChannels
	if x.Rank() != 4 || (x.Dim(1) != cin && x.Dim(1) != 1) {
		return g.Failf("pretrained input", []*tensor.Tensor{x}, "want images [N,%d,H,W] (or [N,1,H,W], repeated)", cin)
	}
	n, c, h, w := x.Dim(0), x.Dim(1), x.Dim(2), x.Dim(3)
	if c == cin && m.Mean == nil {
		return m.Backbone.Forward(g, x)
	}
	y := g.Alloc(n, cin, h, w)
	plane := h * w
	for ch := range cin {
		scale, off := float32(1), float32(0)
		if m.Mean != nil {
			mu, sd := m.Mean[min(ch, len(m.Mean)-1)], m.Std[min(ch, len(m.Std)-1)]
			scale, off = 1/sd, -mu/sd
		}
		src := ch
		if c == 1 {
			src = 0
		}
		for i := range n {
			in := x.Data[(i*c+src)*plane : (i*c+src+1)*plane]
			out := y.Data[(i*cin+ch)*plane : (i*cin+ch+1)*plane]
			for j, v := range in {
				out[j] = v*scale + off
			}
		}
	}
	return m.Backbone.Forward(g, y)
}
