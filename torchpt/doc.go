// Package torchpt reads PyTorch checkpoints (the zip archives torch.save
// writes: .pth, .pth.tar, .pt) in pure Go, so that models trained in PyTorch
// can be measured without Python.
//
// A checkpoint is a zip archive with one directory (named "archive", or after
// the file for PyTorch < 2) holding data.pkl, a pickle of the saved object, and
// data/KEY, the raw little-endian bytes of each tensor storage. The pickle is
// run by a small virtual machine that accepts only what a state dict needs:
// dicts and OrderedDicts, lists, tuples, strings, bytes, numbers, None,
// tensors rebuilt from storages (torch._utils._rebuild_tensor_v2 and its
// relatives), torch.device and dtype names (see AllowedGlobals). It never imports or executes anything: each
// allowed name is mapped to a few lines of Go that build data, and any other
// global (os.system, builtins.eval, a model class) is refused with an error
// naming it, before the rest of the file is read.
//
// Tensors come out contiguous whatever their strides, offsets or sharing in
// the file; float16, bfloat16 and float64 are converted to float32, integer
// and bool tensors to int64. The package depends on nothing but the standard
// library and package safetensors (for dtypes and half-float conversion).
package torchpt
