//go:build !linux || nocuda

package cuda

import "errors"

// ProbeMachine reports that this build cannot load NVIDIA's libraries: it is
// not a Linux build, or it was built with -tags nocuda.
func ProbeMachine() *Probe {
	return &Probe{Err: errors.New("this siam build has no CUDA support (not Linux, or built with -tags nocuda)")}
}
