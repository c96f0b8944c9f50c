package tensor

import (
	"github.com/siam-ssl/siam/backend"
	"github.com/siam-ssl/siam/backend/cpu"
)

// The convolution lowerings are backend/cpu's choices (cpu.ConvPolicy). These
// test helpers force one by making a CPU backend with that policy the default,
// which the graphs made afterwards compute on; each returns the previous setting.

var testPolicy = cpu.DefaultPolicy()

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func applyTestPolicy() { backend.SetDefault(cpu.WithPolicy(testPolicy)) }

// SetConvTargetCols sets the column count the lowered convolution GEMMs aim for and
// returns the previous one, so tests can force image grouping on and off.
func SetConvTargetCols(n int) int {
	old := testPolicy.TargetCols
	testPolicy.TargetCols = n
	applyTestPolicy()
	return old
}

// SetConvShift sets when the shifted-view lowering of stride-1 convolutions is used
// (0 never, 1 where it pays, 2 always) and returns the previous setting.
func SetConvShift(mode int) int {
	old := testPolicy.Shift
	testPolicy.Shift = mode
	applyTestPolicy()
	return old
}

// ConvPoolMisses returns how many conv work-buffer requests have allocated so far.
func ConvPoolMisses() int64 { return cpu.PoolMisses() }

// SetConvImplicit turns the implicit-im2col forward lowering on (1) or off (0) and
// returns the previous setting.
func SetConvImplicit(mode int) int {
	old := b2i(testPolicy.Implicit)
	testPolicy.Implicit = mode != 0
	applyTestPolicy()
	return old
}

// SetConvWideFwd turns the widened output rows of the implicit forward lowering on
// (1) or off (0) and returns the previous setting.
func SetConvWideFwd(mode int) int {
	old := b2i(testPolicy.WideFwd)
	testPolicy.WideFwd = mode != 0
	applyTestPolicy()
	return old
}

// SetConvPhaseBwd turns the phase-split input gradient of stride-2 convolutions on
// (1) or off (0, column matrix and col2im) and returns the previous setting.
func SetConvPhaseBwd(mode int) int {
	old := b2i(testPolicy.PhaseBwd)
	testPolicy.PhaseBwd = mode != 0
	applyTestPolicy()
	return old
}
