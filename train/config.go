package train

import (
	"cmp"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"

	"gopkg.in/yaml.v3" // the maintained YAML library for Go; configs are YAML as in most ML code bases

	"github.com/siam-ssl/siam/data"
	"github.com/siam-ssl/siam/nn"
	"github.com/siam-ssl/siam/order"
	"github.com/siam-ssl/siam/ssl"
)

// Config is everything that defines a training run; it is written to
// RUN_DIR/config.yaml and read back on --resume. Flags override a YAML file.
type Config struct {
	Data            string  `yaml:"data" json:"data"`                         // "" = embedded dataset; see data.Open
	Method          string  `yaml:"method" json:"method"`                     // simsiam, or another of ssl.Names()
	Arch            string  `yaml:"arch" json:"arch"`                         // resnet18, resnet34, resnet50, bottleneck26, basic50
	Width           int     `yaml:"width" json:"width"`                       // base width (64 = standard)
	WidthMult       int     `yaml:"width_mult" json:"width_mult"`             // 1x or 2x inner width
	ViTDepth        int     `yaml:"vit_depth" json:"vit_depth"`               // ViT blocks (0: the preset's; required for arch vit)
	ViTDim          int     `yaml:"vit_dim" json:"vit_dim"`                   // ViT embedding width (0: the preset's)
	ViTHeads        int     `yaml:"vit_heads" json:"vit_heads"`               // ViT attention heads (0: the preset's)
	PatchSize       int     `yaml:"patch_size" json:"patch_size"`             // ViT patch side (0: from the input size)
	FrozenPatch     bool    `yaml:"frozen_patch" json:"frozen_patch"`         // ViT: keep the random patch projection frozen (MoCo v3)
	Stem            string  `yaml:"stem" json:"stem"`                         // cifar or imagenet
	ProjDim         int     `yaml:"proj_dim" json:"proj_dim"`                 // 0 = method default (simsiam 32*width, byol/mocov3 4*width)
	PredHidden      int     `yaml:"pred_hidden" json:"pred_hidden"`           // 0 = method default (simsiam 8*width, byol/mocov3 64*width)
	EMAMomentum     float64 `yaml:"ema_momentum" json:"ema_momentum"`         // BYOL/MoCo v3 target momentum (0 = 0.99), cosine to 1
	Temperature     float64 `yaml:"temperature" json:"temperature"`           // MoCo v3 InfoNCE temperature (0 = method default)
	Queue           int     `yaml:"queue" json:"queue"`                       // NNSiam support queue (0 = 25600)
	Teacher         string  `yaml:"teacher" json:"teacher"`                   // distill: the teacher's run folder
	Order           string  `yaml:"order" json:"order"`                       // multi, single, cumulative, hybrid, subset
	Chunks          int     `yaml:"chunks" json:"chunks"`                     // C
	SwitchAt        int     `yaml:"switch_at" json:"switch_at"`               // hybrid: K
	Subset          float64 `yaml:"subset" json:"subset"`                     // subset: fraction in (0,1]
	Steps           int     `yaml:"steps" json:"steps"`                       // total gradient steps
	Batch           int     `yaml:"batch" json:"batch"`                       // images per step
	LR              float64 `yaml:"lr" json:"lr"`                             // base rate, scaled by batch/256
	WD              float64 `yaml:"wd" json:"wd"`                             // weight decay
	Momentum        float64 `yaml:"momentum" json:"momentum"`                 // SGD momentum
	Optimizer       string  `yaml:"optimizer" json:"optimizer"`               // auto (sgd; adamw for ViT), sgd, lars, adamw
	WarmupSteps     int     `yaml:"warmup_steps" json:"warmup_steps"`         // linear warm-up
	FixPredictorLR  bool    `yaml:"fix_predictor_lr" json:"fix_predictor_lr"` // predictor keeps the base rate
	Seed            uint64  `yaml:"seed" json:"seed"`
	CheckpointEvery int     `yaml:"checkpoint_every" json:"checkpoint_every"`
	LogEvery        int     `yaml:"log_every" json:"log_every"`
	MonitorEvery    int     `yaml:"monitor_every" json:"monitor_every"` // 0 = off
	MonitorSamples  int     `yaml:"monitor_samples" json:"monitor_samples"`
	Workers         int     `yaml:"workers" json:"workers"` // augmentation workers
	Augment         string  `yaml:"augment" json:"augment"` // auto, gray28, color32
	// Collapse alarm (needs MonitorEvery > 0; see AlarmMessage): raised when the
	// monitored AUC exceeds AlarmAUC (0 = off) or RankMe falls below AlarmRankMe
	// (0 = off); AlarmAction "warn" (default) logs it, "stop" also ends the run
	// with a checkpoint (ErrAlarmStop).
	AlarmAUC    float64 `yaml:"alarm_auc" json:"alarm_auc"`
	AlarmRankMe float64 `yaml:"alarm_rankme" json:"alarm_rankme"`
	AlarmAction string  `yaml:"alarm_action" json:"alarm_action"`

	// Image data at scale: view side, ImageFolder streaming, shard reading.
	Size          int    `yaml:"size" json:"size"`                     // view side for any image dataset (0: the set's own; ImageFolder/shards 32)
	Stream        string `yaml:"stream" json:"stream"`                 // ImageFolder trees: auto, always, never (see data.StreamMode)
	ShuffleBuffer int    `yaml:"shuffle_buffer" json:"shuffle_buffer"` // multi only: read shards in order through this buffer (0: random access)
}

// DefaultConfig is a CPU-sized SimSiam run with the paper's optimiser settings.
func DefaultConfig() Config {
	return Config{
		Method: "simsiam", Arch: "resnet18", Width: 16, WidthMult: 1, Stem: "cifar",
		Order: "multi", Chunks: 100, Subset: 1,
		Optimizer: "auto", Steps: 2000, Batch: 128, LR: 0.05, WD: 1e-4, Momentum: 0.9, FixPredictorLR: true,
		Seed: 1, CheckpointEvery: 500, LogEvery: 10, MonitorSamples: 5000, Workers: 2, Augment: "auto",
		AlarmAction: AlarmWarn,
		Stream:      "auto",
	}
}

// ParseConfigYAML overlays YAML onto base. Unknown keys and values of the wrong
// type are errors that name the key and its line, so a typo never passes silently.
func ParseConfigYAML(b []byte, base Config) (Config, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(b, &root); err != nil {
		return base, fmt.Errorf("config: %v", err)
	}
	if len(root.Content) == 0 {
		return base, nil
	}
	m := root.Content[0]
	if m.Kind != yaml.MappingNode {
		return base, fmt.Errorf("config: line %d: want a mapping of key: value", m.Line)
	}
	known := map[string]bool{}
	t := reflect.TypeOf(Config{})
	for i := 0; i < t.NumField(); i++ {
		known[strings.Split(t.Field(i).Tag.Get("yaml"), ",")[0]] = true
	}
	c := base
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		if !known[k.Value] {
			return base, fmt.Errorf("config: line %d: unknown key %q", k.Line, k.Value)
		}
		one := &yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{k, v}}
		if err := one.Decode(&c); err != nil {
			return base, fmt.Errorf("config: line %d: key %q: bad value %q", k.Line, k.Value, v.Value)
		}
	}
	return c, nil
}

// YAML renders the resolved configuration for RUN_DIR/config.yaml.
func (c Config) YAML() []byte {
	b, _ := yaml.Marshal(c)
	return b
}

// Validate checks every field and the combination of ordering parameters.
func (c Config) Validate() error {
	if !slices.Contains(nn.ArchNames(), strings.ToLower(c.Arch)) {
		return fmt.Errorf("unknown architecture %q (want one of %s)", c.Arch, strings.Join(nn.ArchNames(), ", "))
	}
	if !ssl.Known(c.Method) {
		return fmt.Errorf("unknown method %q (want one of %s)", c.Method, strings.Join(ssl.Names(), ", "))
	}
	if _, err := order.ParseKind(c.Order); err != nil {
		return err
	}
	switch strings.ToLower(c.Stem) {
	case "cifar", "imagenet":
	default:
		return fmt.Errorf("unknown stem %q (want cifar or imagenet)", c.Stem)
	}
	switch strings.ToLower(c.Optimizer) {
	case "", "auto", "sgd", "lars", "adamw":
	default:
		return fmt.Errorf("unknown optimizer %q (want auto, sgd, lars or adamw)", c.Optimizer)
	}
	switch c.Augment {
	case "auto", "gray28", "color32":
	default:
		return fmt.Errorf("unknown augmentation %q (want auto, gray28 or color32)", c.Augment)
	}
	if _, err := data.ParseStreamMode(c.Stream); err != nil {
		return err
	}
	switch {
	case c.Size < 0 || c.Size > 4096:
		return fmt.Errorf("size %d out of range [0, 4096] (0 = the dataset's own)", c.Size)
	case c.ShuffleBuffer < 0:
		return fmt.Errorf("shuffle buffer %d < 0", c.ShuffleBuffer)
	case c.ShuffleBuffer > 0 && !strings.EqualFold(c.Order, "multi"):
		return fmt.Errorf("shuffle_buffer (sequential shard reading) works with order multi only; %s reads by random access (shuffle_buffer 0)", c.Order)
	}
	finite := func(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
	switch {
	case c.Width < 1 || c.Width > 4096:
		return fmt.Errorf("width %d out of range [1, 4096]", c.Width)
	case c.WidthMult < 1 || c.WidthMult > 8:
		return fmt.Errorf("width multiplier %d out of range [1, 8]", c.WidthMult)
	case c.ProjDim < 0 || c.PredHidden < 0:
		return fmt.Errorf("head sizes must be >= 0 (0 = default)")
	case !finite(c.EMAMomentum) || c.EMAMomentum < 0 || c.EMAMomentum >= 1:
		return fmt.Errorf("ema momentum %v out of range [0, 1) (0 = default 0.99)", c.EMAMomentum)
	case !finite(c.Temperature) || c.Temperature < 0:
		return fmt.Errorf("temperature %v must be > 0 (0 = method default)", c.Temperature)
	case c.ViTDepth < 0 || c.ViTDim < 0 || c.ViTHeads < 0 || c.PatchSize < 0:
		return fmt.Errorf("vit_depth, vit_dim, vit_heads and patch_size must be >= 0 (0 = default)")
	case c.Queue < 0:
		return fmt.Errorf("queue %d must be >= 0 (0 = default)", c.Queue)
	case c.Queue > ssl.MaxQueue:
		return fmt.Errorf("queue %d out of range [0, %d] (0 = default %d)", c.Queue, ssl.MaxQueue, ssl.DefaultQueue)
	case strings.EqualFold(c.Method, "nnsiam") && cmp.Or(c.Queue, ssl.DefaultQueue) < c.Batch:
		return fmt.Errorf("queue %d is smaller than the batch %d: NNSiam enqueues the whole batch every step (--queue >= --batch)", cmp.Or(c.Queue, ssl.DefaultQueue), c.Batch)
	case strings.EqualFold(c.Method, "distill") && c.Teacher == "":
		return fmt.Errorf("method distill needs --teacher RUN_DIR: the run folder of a trained model")
	case !strings.EqualFold(c.Method, "distill") && c.Teacher != "":
		return fmt.Errorf("--teacher %s is only used by --method distill (method is %s)", c.Teacher, c.Method)
	case c.Steps < 1:
		return fmt.Errorf("steps %d < 1", c.Steps)
	case c.Batch < 2:
		return fmt.Errorf("batch %d < 2 (batch norm needs two samples)", c.Batch)
	case !finite(c.LR) || c.LR <= 0:
		return fmt.Errorf("learning rate %v must be positive", c.LR)
	case !finite(c.WD) || c.WD < 0:
		return fmt.Errorf("weight decay %v must be >= 0", c.WD)
	case !finite(c.Momentum) || c.Momentum < 0 || c.Momentum >= 1:
		return fmt.Errorf("momentum %v out of range [0, 1)", c.Momentum)
	case c.WarmupSteps < 0 || c.WarmupSteps >= c.Steps:
		return fmt.Errorf("warm-up %d must be in [0, steps)", c.WarmupSteps)
	case c.CheckpointEvery < 0 || c.LogEvery < 1 || c.MonitorEvery < 0:
		return fmt.Errorf("checkpoint-every >= 0, log-every >= 1 and monitor-every >= 0 required")
	case c.MonitorEvery > 0 && c.MonitorSamples < 2:
		return fmt.Errorf("monitor samples %d < 2", c.MonitorSamples)
	case c.Workers < 1 || c.Workers > 64:
		return fmt.Errorf("workers %d out of range [1, 64]", c.Workers)
	}
	return c.validateAlarm()
}

// ConfigKeys returns the top-level keys a YAML config sets, so that callers know
// which values were chosen by the user (see WithArchDefaults). Malformed YAML
// gives no keys; ParseConfigYAML reports the error.
func ConfigKeys(b []byte) map[string]bool {
	keys := map[string]bool{}
	var root yaml.Node
	if yaml.Unmarshal(b, &root) != nil || len(root.Content) == 0 || root.Content[0].Kind != yaml.MappingNode {
		return keys
	}
	m := root.Content[0]
	for i := 0; i+1 < len(m.Content); i += 2 {
		keys[m.Content[i].Value] = true
	}
	return keys
}
