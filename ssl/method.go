package ssl

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/siam-ssl/siam/nn"
	"github.com/siam-ssl/siam/optim"
	"github.com/siam-ssl/siam/tensor"
)

// Method is a self-supervised training method: everything the trainer, the
// checkpoints and every evaluation need, so that none of them names SimSiam,
// BYOL or any other method. Each method lives in its own file and registers a
// constructor with Register.
type Method interface {
	// Name is the method's registered name (simsiam, byol, ...).
	Name() string
	// Views is the number of augmented views Loss takes: 2 for the Siamese
	// methods, 1 for distillation (x2 is then nil).
	Views() int
	// Loss runs the views through the model and returns the training loss, a
	// one-element tensor whose gradient reaches every trainable parameter.
	Loss(g *tensor.Graph, x1, x2 *tensor.Tensor) *tensor.Tensor
	// Backbone is the network whose features collapse, k-NN and the linear
	// probe measure.
	Backbone() nn.Backbone
	// Represent is Backbone().Forward: images [N,C,H,W] to features [N,d].
	Represent(g *tensor.Graph, x *tensor.Tensor) *tensor.Tensor
	// SetTraining switches the batch-norm layers of every network the method owns.
	SetTraining(bool)
	// Modules holds the trainable networks (parameters, BN layers and
	// statistics), in state-dict order.
	Modules() *nn.Collection
	// ParamGroups returns the optimizer groups: the encoder on the schedule,
	// and, for methods with a predictor, a group at the fixed rate lr when
	// fixPredictor is set; all with weight decay wd.
	ParamGroups(lr, wd float64, fixPredictor bool) []optim.Group
	// AfterStep runs after the optimizer step that completed step (1-based)
	// of total: EMA target updates, queue updates, running statistics.
	AfterStep(step, total int)
	// ExtraState lists the tensors a checkpoint must carry beyond
	// Modules().StateDict() (EMA target weights, a queue, running statistics),
	// with names that do not clash with those; loading copies values into them.
	ExtraState() []*tensor.Tensor
	// FLOPs estimates the floating-point work of one training step per image
	// on h x w inputs (all views, forward and backward).
	FLOPs(h, w int) float64
}

// Config sizes any method. Zero values take each method's defaults, scaled with
// the backbone width as the paper's models are (see each method's file).
type Config struct {
	Backbone   nn.BackboneSpec // the encoder's backbone
	ProjDim    int             // projector width and output size (0: method default)
	PredHidden int             // predictor bottleneck (0: method default)
	// EMAMomentum is the base momentum of a target encoder (BYOL, MoCo v3),
	// raised to 1 on a cosine schedule; 0 means the method's default (0.99).
	EMAMomentum float64
	// Temperature of a contrastive loss (MoCo v3); 0 means the method's default.
	Temperature float64
	// Queue is the size of a nearest-neighbour support queue (NNSiam); 0 means
	// the method's default.
	Queue int
	// Teacher is the frozen backbone a distillation student regresses; its
	// Collection is put in evaluation mode and never trained.
	Teacher *Teacher
}

// Teacher is a frozen, already trained backbone (for distillation).
type Teacher struct {
	Backbone nn.Backbone
	Modules  *nn.Collection
}

// Constructor builds a method from a config, initialised from seed.
type Constructor func(cfg Config, seed uint64) (Method, error)

var registry = map[string]Constructor{}

// Register makes a method available to New under name; each method's file
// calls it from init. Registering a name twice panics (a programming error).
func Register(name string, c Constructor) {
	if _, dup := registry[name]; dup {
		panic("ssl: method " + name + " registered twice")
	}
	registry[name] = c
}

// Names lists the registered methods, sorted.
func Names() []string {
	n := make([]string, 0, len(registry))
	for k := range registry {
		n = append(n, k)
	}
	sort.Strings(n)
	return n
}

// Known reports whether name is a registered method.
func Known(name string) bool { return slices.Contains(Names(), strings.ToLower(name)) }

// New builds the named method; an unknown name is an error listing the valid ones.
func New(name string, cfg Config, seed uint64) (Method, error) {
	c, ok := registry[strings.ToLower(name)]
	if !ok {
		return nil, fmt.Errorf("unknown method %q (want one of %s)", name, strings.Join(Names(), ", "))
	}
	return c(cfg, seed)
}

// State is every tensor a checkpoint of m carries: Modules' state dict, then
// ExtraState.
func State(m Method) []*tensor.Tensor {
	return append(m.Modules().StateDict(), m.ExtraState()...)
}

// LoadState copies values into m's state (Modules and ExtraState). A missing
// or misshapen tensor fails naming it, and then nothing is changed.
func LoadState(m Method, values map[string]*tensor.Tensor) error {
	extra := m.ExtraState()
	for _, t := range extra {
		v, ok := values[t.Name]
		if !ok {
			return fmt.Errorf("state dict: missing %s %v", t.Name, t.Shape())
		}
		if !tensor.SameShape(v.Shape(), t.Shape()) {
			return fmt.Errorf("state dict: %s has shape %v, model expects %v", t.Name, v.Shape(), t.Shape())
		}
	}
	if err := m.Modules().LoadStateDict(values); err != nil {
		return err
	}
	for _, t := range extra {
		copy(t.Data, values[t.Name].Data)
	}
	return nil
}
