package train

import (
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

func FuzzParseConfigYAML(f *testing.F) {
	f.Add([]byte("order: hybrid\nswitch_at: 40\n"))
	f.Add([]byte("steps: -1\nlr: .nan\n"))
	f.Add([]byte("{{{"))
	f.Add([]byte("size: 224\nstream: always\nshuffle_buffer: 1000\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseConfigYAML(b, DefaultConfig())
		if err != nil {
			return
		}
		_ = c.Validate() // must not panic on anything that parses
	})
}
