// Package kernels holds the engine's hot loops: single-precision GEMM (packed panels,
// cache blocking, AVX-512 and AVX2 Go-assembly micro-kernels chosen at run time via
// golang.org/x/sys/cpu) and vector primitives (batch norm, ReLU, and the float32
// exp and GELU of the transformer ops in act.go), with a pure-Go fallback used on other
// architectures and under the purego build tag. Everything above the engine reaches
// the CPU only through this package.
package kernels
