package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/siam-ssl/siam/tensor"
)

// TestEvalResidualFusionIsExact checks that inference with each block's residual
// join fused into its last convolution (tensor.ConvBNAddReLUEval) gives the same
// features, bit for bit, as the separate AddReLU path, for basic and bottleneck
// blocks and both stems; and that both agree with the recording (unfused, unfolded
// batch norm) evaluation path to float32 rounding.
func TestEvalResidualFusionIsExact(t *testing.T) {
	for _, c := range []struct {
		arch         string
		stem         Stem
		width, in, s int
	}{
		{"resnet18", CIFARStem, 8, 3, 16},
		{"resnet18", CIFARStem, 4, 1, 14}, // 28x28 input's odd sides, downscaled
		{"bottleneck26", CIFARStem, 4, 3, 8},
		{"resnet18", ImageNetStem, 4, 3, 32},
	} {
		t.Run(fmt.Sprintf("%s_%v_w%d_c%d_%d", c.arch, c.stem, c.width, c.in, c.s), func(t *testing.T) {
			var coll Collection
			bb, err := NewBackbone(&coll, "", BackboneSpec{Arch: c.arch, Width: c.width, InChannels: c.in, Stem: c.stem}, rand.New(rand.NewPCG(1, 2)))
			if err != nil {
				t.Fatal(err)
			}
			rng := rand.New(rand.NewPCG(3, 4))
			for _, bn := range coll.BNs {
				for i := range bn.RunningMean.Data {
					bn.RunningMean.Data[i] = float32(0.2 * rng.NormFloat64())
					bn.RunningVar.Data[i] = float32(0.5 + rng.Float64())
					bn.Weight.Data[i] = float32(0.5 + rng.Float64())
					bn.Bias.Data[i] = float32(0.2 * rng.NormFloat64())
				}
			}
			coll.SetTraining(false)
			x := tensor.New(3, c.in, c.s, c.s)
			for i := range x.Data {
				x.Data[i] = float32(rng.NormFloat64())
			}
			run := func(noGrad, fuse bool) []float32 {
				prev := fuseResidualEval
				fuseResidualEval = fuse
				defer func() { fuseResidualEval = prev }()
				g := tensor.NewGraph()
				g.SetNoGrad(noGrad)
				f := bb.Forward(g, x)
				if err := g.Err(); err != nil {
					t.Fatal(err)
				}
				return f.Data
			}
			fused, separate, recorded := run(true, true), run(true, false), run(false, true)
			for i := range fused {
				if math.Float32bits(fused[i]) != math.Float32bits(separate[i]) {
					t.Fatalf("feature %d: fused %g, separate AddReLU %g", i, fused[i], separate[i])
				}
				if d := math.Abs(float64(fused[i] - recorded[i])); d > 1e-4*(1+math.Abs(float64(recorded[i]))) {
					t.Fatalf("feature %d: fused %g, recording path %g", i, fused[i], recorded[i])
				}
			}
		})
	}
}
