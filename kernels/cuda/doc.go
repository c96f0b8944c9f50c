// Package cuda finds NVIDIA's libraries on the machine and talks to the GPU
// through them, loaded at run time with github.com/ebitengine/purego: no cgo, so
// `CGO_ENABLED=0 go build ./cmd/siam` works everywhere and the GPU is used only
// where the driver (libcuda.so.1) and, for the kernels, cuBLAS, cuDNN and NVRTC
// exist.
//
// Today the package provides library discovery (SIAM_CUDA_LIBS, the dynamic
// loader's path, /usr/local/cuda, and the nvidia/*/lib folders of Python
// site-packages where PyTorch users have them), the driver-API probe (driver
// version, devices, names, memory, compute capability) and the --device
// selection every command shares. The training kernels are not in this build:
// a run asked to use a GPU says so in one error line.
//
// Build with -tags nocuda for a binary that never loads a shared library (purego
// makes the binary dynamically linked to the C loader on Linux).
package cuda
