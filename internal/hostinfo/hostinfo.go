// Package hostinfo describes the machine and the build a result was produced on
// (CPU model and vector extensions, core count, the siam commit), so that every
// committed record and benchmark figure says where it came from.
package hostinfo

import (
	"bufio"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
)

// CPU returns the processor's model name and its widest vector extensions, e.g.
// "AMD EPYC 9R14 (avx512f avx512_bf16 avx2)"; on systems without /proc/cpuinfo,
// the architecture.
func CPU() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	defer f.Close()
	return parseCPUInfo(f)
}

// cpuFlags are the flags CPU reports, in this order, when present.
var cpuFlags = []string{"avx512f", "avx512_bf16", "amx_bf16", "avx2", "fma", "asimd", "sve"}

func parseCPUInfo(f *os.File) string {
	model, flags := "", map[string]bool{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 1<<16), 1<<20)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		switch k {
		case "model name", "Model", "cpu model":
			if model == "" {
				model = v
			}
		case "flags", "Features":
			if len(flags) == 0 {
				for _, fl := range strings.Fields(v) {
					flags[fl] = true
				}
			}
		}
	}
	if model == "" {
		model = runtime.GOARCH
	}
	var have []string
	for _, fl := range cpuFlags {
		if flags[fl] {
			have = append(have, fl)
		}
	}
	if len(have) == 0 {
		return model
	}
	return model + " (" + strings.Join(have, " ") + ")"
}

// Commit returns the siam commit this binary was built from ("abc123def456",
// with "+dirty" when the tree had uncommitted changes), or "unknown" when the
// build carries no version-control stamp (go run, go test).
func Commit() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	rev, dirty := "", false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev == "" {
		return "unknown"
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if dirty {
		rev += "+dirty"
	}
	return rev
}

// Host returns the host name ("" when unknown).
func Host() string {
	h, _ := os.Hostname()
	return h
}
