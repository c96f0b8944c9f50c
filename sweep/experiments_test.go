package sweep

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// TestExperimentFiles parses every sweep file of experiments/ (a file that needs
// a method not registered yet must say so in its comment).
func TestExperimentFiles(t *testing.T) {
	files, err := filepath.Glob("../experiments/*.yaml")
	if err != nil || len(files) < 6 {
		t.Fatalf("experiment files: %v %v", files, err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		s, err := Parse(b)
		if err != nil {
			if strings.Contains(err.Error(), "unknown method") && strings.Contains(string(b), "NEEDS the methods") {
				t.Logf("%s: waits for its methods: %v", f, err)
				continue
			}
			t.Errorf("%s: %v", f, err)
			continue
		}
		if s.Name != strings.TrimSuffix(filepath.Base(f), ".yaml") {
			t.Errorf("%s: name %q, want the file name", f, s.Name)
		}
		if !strings.Contains(string(b), "Compute") || !strings.Contains(string(b), "Paper") {
			t.Errorf("%s: the comment must give the compute estimate and the paper's version", f)
		}
	}
}

// TestClusterExamples checks the Slurm and Kubernetes examples: the Kubernetes
// Job is valid YAML whose completions, parallelism and --shard count agree, and
// docs/SWEEPS.md shows the Slurm script's commands as they are in the file.
func TestClusterExamples(t *testing.T) {
	b, err := os.ReadFile("../experiments/cluster/k8s-indexed-job.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var job struct {
		Spec struct {
			CompletionMode string `yaml:"completionMode"`
			Completions    int    `yaml:"completions"`
			Parallelism    int    `yaml:"parallelism"`
			Template       struct {
				Spec struct {
					Containers []struct {
						Args []string `yaml:"args"`
					} `yaml:"containers"`
				} `yaml:"spec"`
			} `yaml:"template"`
		} `yaml:"spec"`
	}
	if err := yaml.Unmarshal(b, &job); err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`--shard "\$JOB_COMPLETION_INDEX/(\d+)"`).FindStringSubmatch(strings.Join(job.Spec.Template.Spec.Containers[0].Args, " "))
	if job.Spec.CompletionMode != "Indexed" || m == nil {
		t.Fatalf("k8s job: %+v", job.Spec)
	}
	if n, _ := strconv.Atoi(m[1]); n != job.Spec.Completions || n != job.Spec.Parallelism {
		t.Errorf("k8s job: %d shards, completions %d, parallelism %d", n, job.Spec.Completions, job.Spec.Parallelism)
	}
	script, err := os.ReadFile("../experiments/cluster/slurm-array.sh")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile("../docs/SWEEPS.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(script), "\n") {
		if line == "" || (strings.HasPrefix(line, "#") && !strings.HasPrefix(line, "#SBATCH") && !strings.HasPrefix(line, "#!")) {
			continue
		}
		if !strings.Contains(string(doc), line) {
			t.Errorf("docs/SWEEPS.md lacks the script line %q", line)
		}
	}
}
