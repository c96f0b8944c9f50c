package backend_test

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestKernelsOnlyBelowBackend enforces the seam's import rule over the whole
// module: package kernels (and its subpackages) is imported only by kernels/ and
// backend/ (backend/cpu and its tests). Everything above reaches the CPU through
// backend.Backend.
func TestKernelsOnlyBelowBackend(t *testing.T) {
	root := ".."
	const kpath = "github.com/siam-ssl/siam/kernels"
	fset := token.NewFileSet()
	n := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if strings.HasPrefix(d.Name(), ".") && rel != "." || d.Name() == "testdata" || rel == "kernels" || rel == "backend" {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		n++
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if p == kpath || strings.HasPrefix(p, kpath+"/") && !strings.HasPrefix(p, kpath+"/cuda") {
				t.Errorf("%s imports %s: only kernels/ and backend/ may (go through backend.Backend)", rel, p)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 100 {
		t.Fatalf("walked only %d Go files from %s", n, root)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatal("test must run from backend/: ", err)
	}
}
