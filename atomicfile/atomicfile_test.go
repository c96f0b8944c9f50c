package atomicfile

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

func TestWriteReplacesOrKeeps(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f.json")
	if err := WriteFile(p, []byte("one")); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	err := Write(p, func(w io.Writer) error {
		w.Write([]byte("half"))
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("want the fill error, got %v", err)
	}
	b, _ := os.ReadFile(p)
	if string(b) != "one" {
		t.Fatalf("failed write changed the file to %q", b)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("temporary file left behind: %v", entries)
	}
	if err := WriteFile(p, []byte("two")); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(p); string(b) != "two" {
		t.Fatalf("got %q", b)
	}
	if err := WriteFile(filepath.Join(dir, "missing", "x"), nil); err == nil {
		t.Fatal("write into a missing directory must fail")
	}
}

func TestCreateExclusive(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "sweep.yaml")
	if err := CreateExclusive(p, []byte("first")); err != nil {
		t.Fatal(err)
	}
	err := CreateExclusive(p, []byte("second"))
	if !errors.Is(err, os.ErrExist) {
		t.Fatalf("second create: want os.ErrExist, got %v", err)
	}
	if b, _ := os.ReadFile(p); string(b) != "first" {
		t.Fatalf("existing file changed to %q", b)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Fatalf("temporary files left behind: %v", entries)
	}
	if err := CreateExclusive(filepath.Join(dir, "missing", "x"), nil); err == nil || errors.Is(err, os.ErrExist) {
		t.Fatalf("create in a missing directory: got %v", err)
	}
	// Racing creators: exactly one wins.
	q := filepath.Join(dir, "race")
	wins := make(chan bool, 8)
	for i := range 8 {
		go func() { wins <- CreateExclusive(q, []byte{byte('a' + i)}) == nil }()
	}
	n := 0
	for range 8 {
		if <-wins {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d racing creators won, want 1", n)
	}
}
