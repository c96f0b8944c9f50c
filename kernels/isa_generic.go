//go:build !amd64 || purego

package kernels

// hasVec512 is false without the amd64 assembly.
const hasVec512 = false

// impls lists the GEMM implementations available: only the portable one.
func impls() []*gemmImpl { return []*gemmImpl{goImpl} }

func init() { active = goImpl }

func axpy512(n int, alpha float32, x, y *float32) { panic("unreachable") }
func scale512(n int, alpha float32, x *float32)   { panic("unreachable") }
func dot512(n int, x, y *float32) float32         { panic("unreachable") }
func sum512(n int, x *float32) float32            { panic("unreachable") }
func relu512(n int, dst, src *float32)            { panic("unreachable") }
func reluBwd512(n int, dx, dy, y *float32)        { panic("unreachable") }
func add512(n int, dst, a, b *float32)            { panic("unreachable") }
func fmaPeak512(n int)                            { panic("unreachable") }

func expShift512(n int, dst, src *float32, shift float32) float32 { panic("unreachable") }
func max512(n int, x *float32) float32                            { panic("unreachable") }
func gelu512(n int, dst, src *float32)                            { panic("unreachable") }
func geluGrad512(n int, dx, dy, x *float32)                       { panic("unreachable") }
func geluGradAdd512(n int, dx, dy, x *float32)                    { panic("unreachable") }
