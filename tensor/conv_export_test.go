package tensor

// SetConvTargetCols sets the column count the lowered convolution GEMMs aim for and
// returns the previous one, so tests can force image grouping on and off.
func SetConvTargetCols(n int) int {
	old := convTargetCols
	convTargetCols = n
	return old
}
