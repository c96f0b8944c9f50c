package main

import (
	"io"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/spf13/pflag"
	"gopkg.in/yaml.v3"

	"github.com/siam-ssl/siam/train"
)

// FuzzConfigMerge fuzzes the merge of `siam train`'s config: defaults, then a YAML
// file, then the flags the user set. It must never panic; when the merge succeeds
// the result must validate and equal the YAML file parsed onto the defaults with
// each set flag then applied as its own YAML key (flag name with - as _), i.e.
// flags win over the file, which wins over the defaults.
func FuzzConfigMerge(f *testing.F) {
	f.Add([]byte("order: hybrid\nswitch_at: 40\nsteps: 100\n"), "--steps 50 --order hybrid --chunks 10")
	f.Add([]byte("lr: 0.1\n"), "--lr=0.2 --seed 7 --data x")
	f.Add([]byte("bogus: 1\n"), "--width 8")
	f.Add([]byte(""), "--monitor-every 5 --monitor-samples 100 --stem imagenet")
	f.Add([]byte("steps: 10\nwarmup_steps: 5\n"), "--warmup-steps 20")
	f.Fuzz(func(t *testing.T, yamlText []byte, args string) {
		fs := pflag.NewFlagSet("train", pflag.ContinueOnError)
		fs.SetOutput(io.Discard)
		cf := addConfigFlags(fs)
		if err := fs.Parse(strings.Fields(args)); err != nil {
			return
		}
		path := filepath.Join(t.TempDir(), "c.yaml")
		if err := os.WriteFile(path, yamlText, 0o644); err != nil {
			t.Fatal(err)
		}
		cfg, err := cf.resolve(fs, path)
		if err != nil {
			return
		}
		if err := cfg.Validate(); err != nil {
			t.Fatalf("resolve returned an invalid config: %v", err)
		}
		want, err := train.ParseConfigYAML(yamlText, train.DefaultConfig())
		if err != nil {
			t.Fatalf("resolve accepted YAML that ParseConfigYAML rejects: %v", err)
		}
		fs.Visit(func(fl *pflag.Flag) {
			if _, ok := cf.apply[fl.Name]; !ok {
				return
			}
			var v any
			switch fl.Value.Type() {
			case "string":
				v, _ = fs.GetString(fl.Name)
			case "int":
				v, _ = fs.GetInt(fl.Name)
			case "float64":
				v, _ = fs.GetFloat64(fl.Name)
			case "uint64":
				v, _ = fs.GetUint64(fl.Name)
			default:
				t.Fatalf("flag %s of type %s", fl.Name, fl.Value.Type())
			}
			b, err := yaml.Marshal(map[string]any{strings.ReplaceAll(fl.Name, "-", "_"): v})
			if err != nil {
				t.Fatal(err)
			}
			if want, err = train.ParseConfigYAML(b, want); err != nil {
				t.Fatalf("flag --%s: %v", fl.Name, err)
			}
		})
		if !sameConfig(cfg, want) {
			t.Fatalf("merge gave\n%s\nwant\n%s", cfg.YAML(), want.YAML())
		}
	})
}

// sameConfig compares configs field by field, NaN equal to NaN.
func sameConfig(a, b train.Config) bool {
	va, vb := reflect.ValueOf(a), reflect.ValueOf(b)
	for i := range va.NumField() {
		fa, fb := va.Field(i), vb.Field(i)
		if fa.Kind() == reflect.Float64 {
			x, y := fa.Float(), fb.Float()
			if x != y && !(math.IsNaN(x) && math.IsNaN(y)) {
				return false
			}
		} else if fa.Interface() != fb.Interface() {
			return false
		}
	}
	return true
}
