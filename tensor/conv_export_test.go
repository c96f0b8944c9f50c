package tensor

// SetConvTargetCols sets the column count the lowered convolution GEMMs aim for and
// returns the previous one, so tests can force image grouping on and off.
func SetConvTargetCols(n int) int {
	old := convTargetCols
	convTargetCols = n
	return old
}

// SetConvShift sets when the shifted-view lowering of stride-1 convolutions is used
// (0 never, 1 where it pays, 2 always) and returns the previous setting.
func SetConvShift(mode int) int {
	old := convShift
	convShift = mode
	return old
}

// ConvPoolMisses returns how many conv work-buffer requests have allocated so far.
func ConvPoolMisses() int64 { return convPoolMisses.Load() }

// SetConvImplicit turns the implicit-im2col forward lowering on (1) or off (0) and
// returns the previous setting.
func SetConvImplicit(mode int) int {
	old := convImplicit
	convImplicit = mode
	return old
}

// SetConvWideFwd turns the widened output rows of the implicit forward lowering on
// (1) or off (0) and returns the previous setting.
func SetConvWideFwd(mode int) int {
	old := convWideFwd
	convWideFwd = mode
	return old
}

// SetConvPhaseBwd turns the phase-split input gradient of stride-2 convolutions on
// (1) or off (0, column matrix and col2im) and returns the previous setting.
func SetConvPhaseBwd(mode int) int {
	old := convPhaseBwd
	convPhaseBwd = mode
	return old
}
