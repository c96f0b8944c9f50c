//go:build linux && !nocuda

package cuda

import (
	"fmt"
	"os"
	"sync"
	"unsafe"

	"github.com/ebitengine/purego" // dlopen without cgo: the GPU libraries are loaded at run time
)

// Device attributes of the driver API (cuda.h, CUdevice_attribute).
const (
	attrMultiprocessors = 16
	attrComputeMajor    = 75
	attrComputeMinor    = 76
)

// driver holds the bound driver-API entry points.
type driver struct {
	path           string
	cuInit         func(flags uint32) int32
	cuDriverGetVer func(v *int32) int32
	cuDeviceCount  func(n *int32) int32
	cuDeviceGet    func(d *int32, ordinal int32) int32
	cuDeviceName   func(name *byte, n int32, d int32) int32
	cuDeviceMem    func(bytes *uint64, d int32) int32
	cuDeviceAttr   func(v *int32, attr int32, d int32) int32
	cuErrorString  func(code int32, s **byte) int32
}

var (
	probeOnce sync.Once
	probed    *Probe
)

// ProbeMachine finds the libraries and asks the driver for its devices, once
// per process. It never fails: a machine without a GPU gives a Probe whose Err
// names what was looked for and where.
func ProbeMachine() *Probe {
	probeOnce.Do(func() { probed = probe(os.Getenv) })
	return probed
}

func probe(env Env) *Probe {
	dirs := SearchDirs(env)
	p := &Probe{}
	for _, lib := range Libraries {
		p.Libs = append(p.Libs, Find(lib, dirs))
	}
	d, err := openDriver(p.Libs[0])
	if err != nil {
		p.Err = err
		return p
	}
	p.Driver = d.path
	if err := d.check("cuInit", d.cuInit(0)); err != nil {
		p.Err = err
		return p
	}
	var v, n int32
	if err := d.check("cuDriverGetVersion", d.cuDriverGetVer(&v)); err != nil {
		p.Err = err
		return p
	}
	p.Version = int(v)
	if err := d.check("cuDeviceGetCount", d.cuDeviceCount(&n)); err != nil {
		p.Err = err
		return p
	}
	for i := int32(0); i < n; i++ {
		var dev int32
		if err := d.check("cuDeviceGet", d.cuDeviceGet(&dev, i)); err != nil {
			p.Err = err
			return p
		}
		name := make([]byte, 256)
		var mem uint64
		var major, minor, sms int32
		for _, e := range []error{
			d.check("cuDeviceGetName", d.cuDeviceName(&name[0], int32(len(name)), dev)),
			d.check("cuDeviceTotalMem", d.cuDeviceMem(&mem, dev)),
			d.check("cuDeviceGetAttribute", d.cuDeviceAttr(&major, attrComputeMajor, dev)),
			d.check("cuDeviceGetAttribute", d.cuDeviceAttr(&minor, attrComputeMinor, dev)),
			d.check("cuDeviceGetAttribute", d.cuDeviceAttr(&sms, attrMultiprocessors, dev)),
		} {
			if e != nil {
				p.Err = e
				return p
			}
		}
		p.Devices = append(p.Devices, DeviceInfo{Index: int(i), Name: cString(name), MemoryBytes: mem,
			Major: int(major), Minor: int(minor), SMs: int(sms)})
	}
	if len(p.Devices) == 0 {
		p.Err = fmt.Errorf("the driver %s reports no CUDA device", d.path)
	}
	return p
}

// openDriver dlopens the driver API from where discovery found it, or by
// soname through the dynamic loader, and binds the calls the probe makes.
func openDriver(f Found) (*driver, error) {
	candidates := f.Library.Sonames
	if f.Path != "" {
		candidates = append([]string{f.Path}, candidates...)
	}
	var h uintptr
	var path string
	for _, c := range candidates {
		if hh, err := purego.Dlopen(c, purego.RTLD_NOW|purego.RTLD_GLOBAL); err == nil {
			h, path = hh, c
			break
		}
	}
	if h == 0 {
		return nil, fmt.Errorf("no NVIDIA driver: %s", f.Where())
	}
	d := &driver{path: path}
	for _, b := range []struct {
		fn   any
		name string
	}{
		{&d.cuInit, "cuInit"}, {&d.cuDriverGetVer, "cuDriverGetVersion"}, {&d.cuDeviceCount, "cuDeviceGetCount"},
		{&d.cuDeviceGet, "cuDeviceGet"}, {&d.cuDeviceName, "cuDeviceGetName"}, {&d.cuDeviceMem, "cuDeviceTotalMem_v2"},
		{&d.cuDeviceAttr, "cuDeviceGetAttribute"}, {&d.cuErrorString, "cuGetErrorString"},
	} {
		sym, err := purego.Dlsym(h, b.name)
		if err != nil {
			return nil, fmt.Errorf("%s lacks %s: not a CUDA driver library", path, b.name)
		}
		purego.RegisterFunc(b.fn, sym)
	}
	return d, nil
}

// check turns a CUresult into an error naming the call and the driver's text.
func (d *driver) check(call string, code int32) error {
	if code == 0 {
		return nil
	}
	var s *byte
	msg := "unknown error"
	if d.cuErrorString(code, &s) == 0 && s != nil {
		msg = goString(s)
	}
	return fmt.Errorf("%s: CUDA error %d (%s)", call, code, msg)
}

// goString copies a NUL-terminated C string owned by the driver.
func goString(p *byte) string {
	var b []byte
	for q := unsafe.Pointer(p); *(*byte)(q) != 0 && len(b) < 4096; q = unsafe.Add(q, 1) {
		b = append(b, *(*byte)(q))
	}
	return string(b)
}

// cString cuts a NUL-terminated buffer.
func cString(b []byte) string {
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	return string(b)
}
