package cuda

import (
	"fmt"
	"strconv"
	"strings"
)

// Kind is where a command computes.
type Kind int

const (
	// Auto uses a GPU when one is usable, the CPU otherwise, and says which.
	Auto Kind = iota
	// CPU always computes on the CPU.
	CPU
	// GPU computes on a CUDA device and fails when none is usable.
	GPU
)

// DeviceSpec is a parsed --device value: auto, cpu, cuda or cuda:N.
type DeviceSpec struct {
	Kind  Kind
	Index int // CUDA device ordinal (GPU only)
}

// String renders the spec as the flag takes it.
func (d DeviceSpec) String() string {
	switch d.Kind {
	case CPU:
		return "cpu"
	case GPU:
		return "cuda:" + strconv.Itoa(d.Index)
	}
	return "auto"
}

// ParseDevice reads a --device value: auto, cpu, cuda (device 0) or cuda:N.
func ParseDevice(s string) (DeviceSpec, error) {
	v := strings.ToLower(strings.TrimSpace(s))
	switch v {
	case "", "auto":
		return DeviceSpec{Kind: Auto}, nil
	case "cpu":
		return DeviceSpec{Kind: CPU}, nil
	case "cuda", "gpu":
		return DeviceSpec{Kind: GPU}, nil
	}
	if rest, ok := strings.CutPrefix(v, "cuda:"); ok {
		n, err := strconv.Atoi(rest)
		if err == nil && n >= 0 && n < 1024 {
			return DeviceSpec{Kind: GPU, Index: n}, nil
		}
	}
	return DeviceSpec{}, fmt.Errorf("unknown device %q (want auto, cpu, cuda or cuda:N)", s)
}

// DeviceInfo describes one CUDA device as the driver reports it.
type DeviceInfo struct {
	Index       int    `json:"index"`
	Name        string `json:"name"`
	MemoryBytes uint64 `json:"memory_bytes"`
	Major       int    `json:"compute_major"`
	Minor       int    `json:"compute_minor"`
	SMs         int    `json:"multiprocessors"`
}

// Probe is what the machine offers: the driver's version and devices, and where
// each library was found (or looked for).
type Probe struct {
	Driver  string       `json:"driver_library,omitempty"`
	Version int          `json:"driver_version,omitempty"` // e.g. 13000 for CUDA 13.0
	Devices []DeviceInfo `json:"devices"`
	Libs    []Found      `json:"-"`
	Err     error        `json:"-"` // why no device is usable (nil when Devices is not empty)
}

// ErrKernelsMissing is returned when a GPU is present and asked for but this
// build has no GPU training kernels yet.
var ErrKernelsMissing = fmt.Errorf("the CUDA kernels (cuDNN convolutions, cuBLAS matmuls, NVRTC elementwise) are not in this build yet; use --device cpu")

// Resolve decides where a command computes: CPU for cpu; for auto, CPU unless a
// GPU and the GPU kernels are usable (note says which and why); for cuda[:N],
// the device, or one error naming what was looked for and where.
func Resolve(spec DeviceSpec, p *Probe) (use DeviceSpec, note string, err error) {
	switch spec.Kind {
	case CPU:
		return spec, "device: cpu", nil
	case Auto:
		if p.Err != nil || len(p.Devices) == 0 {
			return DeviceSpec{Kind: CPU}, fmt.Sprintf("device: cpu (auto: no usable GPU: %v)", p.Err), nil
		}
		return DeviceSpec{Kind: CPU}, fmt.Sprintf("device: cpu (auto: found %s, but %v)", p.Devices[0].Name, ErrKernelsMissing), nil
	}
	if p.Err != nil {
		return spec, "", fmt.Errorf("--device %s: %w", spec, p.Err)
	}
	if spec.Index >= len(p.Devices) {
		return spec, "", fmt.Errorf("--device %s: the driver reports %d CUDA device(s)", spec, len(p.Devices))
	}
	return spec, "", fmt.Errorf("--device %s (%s): %w", spec, p.Devices[spec.Index].Name, ErrKernelsMissing)
}
