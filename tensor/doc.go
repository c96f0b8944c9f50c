// Package tensor is the engine's array and reverse-mode autodiff layer: dense float32
// tensors in row-major NCHW order, a Graph that records operations on a tape so
// Backward can run them in reverse, and the differentiable ops (one op family per
// file) that models are built from.
//
// Layout: NCHW, contiguous. It matches PyTorch state dicts byte for byte, and the
// convolution lowers each image to a GEMM whose rows are output channels
// (M = channels, N = H*W), which keeps the 8x32 AVX-512 tile full even at width 16,
// where a channels-last lowering would leave N = 16 columns (half a tile).
//
// Memory: a Graph owns a size-keyed arena. Reset hands every buffer of the step back
// to it, so the next step with the same shapes reuses them and a training loop does
// not grow the heap or page-fault its working set in afresh each step.
//
// Errors: ops never panic on bad input. The first shape or value error is recorded
// in the Graph (a sticky error naming the op and the shapes); later ops become
// no-ops and Graph.Err, Graph.Backward and Graph.Value report it.
package tensor
