// Package jsonltest reads JSON-lines files (metrics.jsonl, results.jsonl,
// spectra.jsonl) in the tests of the packages that write or aggregate them,
// strictly: one JSON object a line, no blank line, no read error.
package jsonltest

import (
	"bufio"
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// Read returns the records of the JSON-lines file at path, one map a line in
// file order, and fails t on an unreadable file, a blank line or a line that
// is not a JSON object.
func Read(t testing.TB, path string) []map[string]any {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []map[string]any
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<24)
	for sc.Scan() {
		if strings.TrimSpace(sc.Text()) == "" {
			t.Fatalf("%s: blank line", path)
		}
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		out = append(out, m)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
