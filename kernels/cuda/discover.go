package cuda

import (
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Library is one of NVIDIA's shared libraries the backend loads, by the
// sonames it is known under, newest first.
type Library struct {
	Name    string   // short name: cuda, cublas, cublasLt, cudnn, nvrtc
	Sonames []string // file names to look for, newest ABI first
}

// Libraries are the shared libraries the backend uses: the driver API, cuBLAS
// and cuBLASLt for matmuls, cuDNN 9 for convolutions and batch norm, NVRTC to
// compile the embedded CUDA C kernels.
var Libraries = []Library{
	{"cuda", []string{"libcuda.so.1", "libcuda.so"}},
	{"cublas", []string{"libcublas.so.13", "libcublas.so.12", "libcublas.so"}},
	{"cublasLt", []string{"libcublasLt.so.13", "libcublasLt.so.12", "libcublasLt.so"}},
	{"cudnn", []string{"libcudnn.so.9", "libcudnn.so"}},
	{"nvrtc", []string{"libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so"}},
}

// SearchDir is one folder discovery looks in, and why.
type SearchDir struct {
	Path   string
	Source string // SIAM_CUDA_LIBS, LD_LIBRARY_PATH, cuda-toolkit, python site-packages, system
}

// Env reads an environment variable; tests pass their own.
type Env func(string) string

// SearchDirs lists the folders to look in, in order: every entry of
// SIAM_CUDA_LIBS (colon-separated), LD_LIBRARY_PATH, the CUDA toolkit under
// CUDA_HOME or /usr/local/cuda, the nvidia/*/lib folders of every Python
// site-packages found (VIRTUAL_ENV, /usr/lib/python3*, /usr/local/lib/python3*,
// ~/.local/lib/python3*, /opt/*/.venv), and the system library folders.
// Folders that do not exist are left out; none is listed twice.
func SearchDirs(env Env) []SearchDir {
	var out []SearchDir
	seen := map[string]bool{}
	add := func(p, src string) {
		if p == "" {
			return
		}
		p = filepath.Clean(p)
		if seen[p] {
			return
		}
		if st, err := os.Stat(p); err != nil || !st.IsDir() {
			return
		}
		seen[p] = true
		out = append(out, SearchDir{p, src})
	}
	for _, p := range filepath.SplitList(env("SIAM_CUDA_LIBS")) {
		add(p, "SIAM_CUDA_LIBS")
	}
	for _, p := range filepath.SplitList(env("LD_LIBRARY_PATH")) {
		add(p, "LD_LIBRARY_PATH")
	}
	for _, root := range []string{env("CUDA_HOME"), env("CUDA_PATH"), "/usr/local/cuda"} {
		if root == "" {
			continue
		}
		add(filepath.Join(root, "lib64"), "cuda-toolkit")
		add(filepath.Join(root, "targets", "x86_64-linux", "lib"), "cuda-toolkit")
		add(filepath.Join(root, "targets", "sbsa-linux", "lib"), "cuda-toolkit")
		add(filepath.Join(root, "lib"), "cuda-toolkit")
	}
	for _, sp := range sitePackages(env) {
		libs, _ := filepath.Glob(filepath.Join(sp, "nvidia", "*", "lib"))
		sort.Strings(libs)
		for _, l := range libs {
			add(l, "python site-packages")
		}
	}
	for _, p := range []string{"/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64", "/usr/lib", "/lib/x86_64-linux-gnu", "/lib64"} {
		add(p, "system")
	}
	return out
}

// sitePackages lists Python package folders where pip puts nvidia-* wheels.
func sitePackages(env Env) []string {
	var roots []string
	if v := env("VIRTUAL_ENV"); v != "" {
		roots = append(roots, v)
	}
	if h := env("HOME"); h != "" {
		roots = append(roots, filepath.Join(h, ".local"))
	}
	roots = append(roots, "/usr", "/usr/local")
	venvs, _ := filepath.Glob("/opt/*/.venv")
	roots = append(roots, venvs...)
	var out []string
	for _, r := range roots {
		for _, pat := range []string{"lib/python3*/site-packages", "lib/python3*/dist-packages", "lib64/python3*/site-packages"} {
			m, _ := filepath.Glob(filepath.Join(r, pat))
			sort.Strings(m)
			out = append(out, m...)
		}
	}
	return slices.Compact(out)
}

// Found is where a library was found, or the places it was looked for.
type Found struct {
	Library Library
	Path    string   // the file, or "" when not found in any folder
	Tried   []string // folders searched, "folder (source)"
}

// Find looks for lib's sonames in dirs (the first folder holding any of them
// wins, newest soname first). Path is "" when no folder has it; the dynamic
// loader may still find it by soname (its cache), which Load tries last.
func Find(lib Library, dirs []SearchDir) Found {
	f := Found{Library: lib}
	for _, d := range dirs {
		f.Tried = append(f.Tried, d.Path+" ("+d.Source+")")
		for _, so := range lib.Sonames {
			p := filepath.Join(d.Path, so)
			if st, err := os.Stat(p); err == nil && !st.IsDir() {
				f.Path = p
				return f
			}
		}
	}
	return f
}

// Where summarises a failed search for an error message: the sonames and the
// folders tried (at most a few, with a count of the rest).
func (f Found) Where() string {
	tried := f.Tried
	more := ""
	if len(tried) > 6 {
		more = " and " + strconv.Itoa(len(tried)-6) + " more"
		tried = tried[:6]
	}
	where := "no folder"
	if len(tried) > 0 {
		where = strings.Join(tried, ", ") + more
	}
	return strings.Join(f.Library.Sonames, " / ") + " not found in " + where + ", nor by the dynamic loader; set SIAM_CUDA_LIBS to the folder that holds it"
}
