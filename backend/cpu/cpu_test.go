package cpu_test

import (
	"testing"

	"github.com/siam-ssl/siam/backend"
	"github.com/siam-ssl/siam/backend/backendtest"
	"github.com/siam-ssl/siam/backend/cpu"
)

// TestConformance runs the conformance suite on the default CPU backend and, for
// the operations, on every forced convolution lowering.
func TestConformance(t *testing.T) {
	b, err := backend.Open("cpu")
	if err != nil {
		t.Fatal(err)
	}
	backendtest.Run(t, b)
	for _, opts := range []backend.Options{
		{"conv.implicit": "false", "conv.shift": "never"},
		{"conv.implicit": "false", "conv.shift": "always"},
		{"conv.phase_bwd": "false", "conv.wide": "false"},
		{"conv.target_cols": "1"},
		{"conv.target_cols": "1048576"},
	} {
		b, err := backend.OpenWith("cpu", opts)
		if err != nil {
			t.Fatal(err)
		}
		t.Run(fmtOpts(opts), func(t *testing.T) { backendtest.Ops(t, b) })
	}
}

func fmtOpts(o backend.Options) string {
	s := ""
	for _, k := range []string{"conv.implicit", "conv.shift", "conv.phase_bwd", "conv.wide", "conv.target_cols"} {
		if v, ok := o[k]; ok {
			s += k + "=" + v + ","
		}
	}
	return s
}

// TestOptions checks that New rejects unknown keys and bad values and applies
// good ones.
func TestOptions(t *testing.T) {
	for _, c := range []struct {
		opts backend.Options
		ok   bool
	}{
		{nil, true},
		{backend.Options{"conv.shift": "always"}, true},
		{backend.Options{"conv.shift": "sometimes"}, false},
		{backend.Options{"conv.implicit": "maybe"}, false},
		{backend.Options{"conv.target_cols": "0"}, false},
		{backend.Options{"gemm.kernel": "avx2"}, false},
	} {
		_, err := cpu.New(c.opts)
		if (err == nil) != c.ok {
			t.Errorf("New(%v): error %v, want ok=%v", c.opts, err, c.ok)
		}
	}
	b, err := cpu.New(backend.Options{"conv.implicit": "false", "conv.target_cols": "64"})
	if err != nil {
		t.Fatal(err)
	}
	if p := b.Policy(); p.Implicit || p.TargetCols != 64 || !p.PhaseBwd {
		t.Errorf("policy %+v", p)
	}
}

// TestRegistered checks the registry: "cpu" is registered, opened once and shared.
func TestRegistered(t *testing.T) {
	a, err := backend.Open("cpu")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := backend.Open("cpu")
	if a != b || a.Name() != "cpu" || !a.IsHost() {
		t.Fatalf("Open(cpu) gives %v and %v", a, b)
	}
	if _, err := backend.Open("nope"); err == nil {
		t.Fatal("Open of an unregistered backend succeeded")
	}
}
