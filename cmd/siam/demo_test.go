package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDemoChecksEveryRunFirst: a setting that one of the demo's orderings cannot
// use fails before the first run trains, and leaves no folder.
func TestDemoChecksEveryRunFirst(t *testing.T) {
	out := filepath.Join(t.TempDir(), "demo")
	_, err := runCLI("demo", "--steps", "3", "--orders", "multi,hybrid", "--out", out)
	if err == nil || !strings.Contains(err.Error(), "hybrid") || !strings.Contains(err.Error(), "steps >= chunks") {
		t.Fatalf("want the hybrid run's ordering error, got %v", err)
	}
	if _, statErr := os.Stat(out); !os.IsNotExist(statErr) {
		t.Fatalf("the failed demo left %s behind", out)
	}
}
