package hostinfo

import (
	"os"
	"path/filepath"
	"testing"
)

func TestParseCPUInfo(t *testing.T) {
	for _, tc := range []struct{ name, text, want string }{
		{"x86", "processor\t: 0\nmodel name\t: AMD EPYC 9R14\nflags\t\t: fpu sse avx2 fma avx512f avx512_bf16\n\nprocessor\t: 1\nmodel name\t: other\n",
			"AMD EPYC 9R14 (avx512f avx512_bf16 avx2 fma)"},
		{"no-flags", "model name\t: Some CPU\n", "Some CPU"},
		{"arm64", "processor\t: 0\nFeatures\t: fp asimd sve\n", "arm64-or-arch"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "cpuinfo")
			os.WriteFile(p, []byte(tc.text), 0o644)
			f, err := os.Open(p)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			got := parseCPUInfo(f)
			if tc.want == "arm64-or-arch" {
				if got == "" || got[len(got)-len("(asimd sve)"):] != "(asimd sve)" {
					t.Fatalf("got %q", got)
				}
				return
			}
			if got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
	if CPU() == "" || Commit() == "" {
		t.Fatal("empty description")
	}
}
