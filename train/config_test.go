package train

import (
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
)

func TestParseConfigYAML(t *testing.T) {
	cases := []struct {
		name, yaml string
		wantErr    string
		check      func(Config) bool
	}{
		{"empty keeps defaults", "", "", func(c Config) bool { return c == DefaultConfig() }},
		{"overrides", "order: hybrid\nswitch_at: 40\nsteps: 100\n", "", func(c Config) bool {
			return c.Order == "hybrid" && c.SwitchAt == 40 && c.Steps == 100 && c.Batch == 128
		}},
		{"unknown key", "stepz: 3\n", "stepz", nil},
		{"wrong type", "steps: many\n", "steps", nil},
	}
	for _, c := range cases {
		got, err := ParseConfigYAML([]byte(c.yaml), DefaultConfig())
		if c.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("%s: error %v, want one mentioning %q", c.name, err, c.wantErr)
			}
			continue
		}
		if err != nil || !c.check(got) {
			t.Errorf("%s: got %+v, %v", c.name, got, err)
		}
	}
}

func TestValidate(t *testing.T) {
	mod := []struct {
		name string
		f    func(*Config)
		want string
	}{
		{"arch", func(c *Config) { c.Arch = "vgg" }, "architecture"},
		{"order", func(c *Config) { c.Order = "random" }, "random"},
		{"batch", func(c *Config) { c.Batch = 1 }, "batch"},
		{"lr", func(c *Config) { c.LR = -1 }, "learning rate"},
		{"warmup", func(c *Config) { c.WarmupSteps = c.Steps }, "warm-up"},
		{"stem", func(c *Config) { c.Stem = "odd" }, "stem"},
		{"size", func(c *Config) { c.Size = -3 }, "size"},
		{"stream", func(c *Config) { c.Stream = "sometimes" }, "stream mode"},
		{"shuffle buffer order", func(c *Config) { c.ShuffleBuffer, c.Order = 100, "cumulative" }, "multi only"},
		{"shuffle buffer", func(c *Config) { c.ShuffleBuffer = -1 }, "shuffle buffer"},
	}
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatalf("defaults invalid: %v", err)
	}
	for _, m := range mod {
		c := DefaultConfig()
		m.f(&c)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), m.want) {
			t.Errorf("%s: error %v, want one mentioning %q", m.name, err, m.want)
		}
	}
}

// FuzzParseConfigYAML: any bytes either fail to parse (an error, never a panic)
// or give a config that Validate accepts or rejects with an error, and that
// re-marshals (YAML) to text parsing back to the same config, on any base.
func FuzzParseConfigYAML(f *testing.F) {
	f.Add([]byte("order: hybrid\nswitch_at: 40\n"))
	f.Add([]byte("steps: -1\nlr: .nan\n"))
	f.Add([]byte("{{{"))
	f.Add([]byte("data: \"a: b\\n- c\"\nseed: 18446744073709551615\nwd: 1e-400\nmomentum: -0.0\n"))
	f.Add([]byte("arch: resnet50\nstem: imagenet\nlr: .inf\nsubset: 0x10\n"))
	f.Add(DefaultConfig().YAML())
	f.Add([]byte("size: 224\nstream: always\nshuffle_buffer: 1000\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseConfigYAML(b, DefaultConfig())
		if err != nil {
			return
		}
		if err := c.Validate(); err != nil && err.Error() == "" {
			t.Fatal("rejected with an empty message")
		}
		out := c.YAML()
		for _, base := range []Config{DefaultConfig(), {}} {
			back, err := ParseConfigYAML(out, base)
			if err != nil {
				t.Fatalf("re-parsing its own YAML: %v\n%s", err, out)
			}
			if d := configDiff(c, back); d != "" {
				t.Fatalf("YAML round trip changed %s\n%s", d, out)
			}
		}
	})
}

func TestOptimizerChoice(t *testing.T) {
	for _, c := range []struct{ arch, opt, want string }{
		{"resnet18", "auto", "sgd"}, {"resnet18", "", "sgd"}, {"vit-s", "auto", "adamw"},
		{"resnet18", "adamw", "adamw"}, {"vit-tiny", "SGD", "sgd"}, {"resnet50", "lars", "lars"},
	} {
		cfg := DefaultConfig()
		cfg.Arch, cfg.Optimizer = c.arch, c.opt
		if got := cfg.OptimizerName(); got != c.want {
			t.Errorf("%s/%q: %s, want %s", c.arch, c.opt, got, c.want)
		}
		if _, err := NewOptimizer(cfg, nil); err != nil {
			t.Errorf("%s/%q: %v", c.arch, c.opt, err)
		}
	}
	cfg := DefaultConfig()
	cfg.Optimizer = "adam"
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "adamw") {
		t.Errorf("an unknown optimizer must be rejected listing the valid ones: %v", err)
	}
}

func TestViTDefaults(t *testing.T) {
	c := DefaultConfig()
	c.Arch, c.Steps, c.WD = "vit-tiny", 1000, 0.05 // as if read from the YAML below
	got := WithArchDefaults(c, ConfigKeys([]byte("arch: vit-tiny\nwd: 0.05\n")))
	if got.OptimizerName() != "adamw" || got.LR != ViTLR || got.WD != 0.05 || got.WarmupSteps != 100 {
		t.Fatalf("ViT defaults: %+v", got)
	}
	c.Arch = "resnet18"
	if r := WithArchDefaults(c, nil); r.LR != c.LR || r.OptimizerName() != "sgd" {
		t.Fatalf("a ResNet config must not change: %+v", r)
	}
}

// configDiff names the first field where a and b differ ("" when equal), with
// NaN float fields equal to each other.
func configDiff(a, b Config) string {
	va, vb := reflect.ValueOf(a), reflect.ValueOf(b)
	for i := range va.NumField() {
		fa, fb := va.Field(i), vb.Field(i)
		same := fa.Interface() == fb.Interface()
		if fa.Kind() == reflect.Float64 { // NaN equals NaN; -0 equals 0 (same setting)
			x, y := fa.Float(), fb.Float()
			same = x == y || (math.IsNaN(x) && math.IsNaN(y))
		}
		if !same {
			return fmt.Sprintf("%s: %v -> %v", va.Type().Field(i).Name, fa.Interface(), fb.Interface())
		}
	}
	return ""
}
