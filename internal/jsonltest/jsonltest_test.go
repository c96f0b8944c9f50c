package jsonltest

import (
	"os"
	"path/filepath"
	"testing"
)

// recorder is a testing.TB that records a failure instead of stopping the test.
type recorder struct {
	testing.TB
	failed bool
}

func (r *recorder) Helper() {}
func (r *recorder) Fatal(...any) {
	r.failed = true
	panic(r)
}
func (r *recorder) Fatalf(string, ...any) {
	r.failed = true
	panic(r)
}

// read runs Read with a recorder and reports its records and whether it failed.
func read(t *testing.T, path string) (recs []map[string]any, failed bool) {
	r := &recorder{TB: t}
	defer func() {
		if v := recover(); v != nil && v != any(r) {
			panic(v)
		}
		failed = r.failed
	}()
	return Read(r, path), false
}

func TestRead(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, text string
		want       []float64 // the "step" of each record; nil with fail
		fail       bool
	}{
		{"empty", "", nil, false},
		{"two", "{\"step\":1}\n{\"step\":2,\"loss\":0.5}\n", []float64{1, 2}, false},
		{"no final newline", "{\"step\":3}", []float64{3}, false},
		{"blank line", "{\"step\":1}\n\n{\"step\":2}\n", nil, true},
		{"not json", "{\"step\":1}\nstep 2\n", nil, true},
		{"not an object", "[1,2]\n", nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, tc.name+".jsonl")
			if err := os.WriteFile(p, []byte(tc.text), 0o644); err != nil {
				t.Fatal(err)
			}
			recs, failed := read(t, p)
			if failed != tc.fail {
				t.Fatalf("failed %v, want %v", failed, tc.fail)
			}
			if tc.fail {
				return
			}
			if len(recs) != len(tc.want) {
				t.Fatalf("%d records, want %d", len(recs), len(tc.want))
			}
			for i, r := range recs {
				if r["step"] != tc.want[i] {
					t.Errorf("record %d: step %v, want %v", i, r["step"], tc.want[i])
				}
			}
		})
	}
	if _, failed := read(t, filepath.Join(dir, "missing.jsonl")); !failed {
		t.Error("a missing file did not fail")
	}
}
