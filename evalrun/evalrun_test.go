package evalrun

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/siam-ssl/siam/data"
	"github.com/siam-ssl/siam/eval"
	"github.com/siam-ssl/siam/train"
)

// tinyRun trains 3 steps at width 4 on 128/64 images of the embedded set.
func tinyRun(t *testing.T) string {
	t.Helper()
	tr, te, err := data.Open("")
	if err != nil {
		t.Fatal(err)
	}
	dd := t.TempDir()
	for _, s := range []struct {
		ds     *data.Dataset
		n      int
		prefix string
	}{{tr, 128, "train"}, {te, 64, "t10k"}} {
		idx := make([]int, s.n)
		for i := range idx {
			idx[i] = i * (s.ds.N / s.n)
		}
		sub, err := s.ds.Select(idx)
		if err != nil {
			t.Fatal(err)
		}
		if err := data.WriteIDX(sub, filepath.Join(dd, s.prefix+"-images-idx3-ubyte"), filepath.Join(dd, s.prefix+"-labels-idx1-ubyte")); err != nil {
			t.Fatal(err)
		}
	}
	c := train.DefaultConfig()
	c.Data, c.Width, c.Batch, c.Steps, c.Workers, c.CheckpointEvery = dd, 4, 16, 3, 1, 0
	dir := filepath.Join(t.TempDir(), "run")
	if _, err := train.Run(context.Background(), c, train.RunOptions{Dir: dir}); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestEvaluations(t *testing.T) {
	dir := tinyRun(t)
	r, err := Load(dir, "", false)
	if err != nil {
		t.Fatal(err)
	}
	if r.Step != 3 || r.Train.N != 128 || r.Test.N != 64 {
		t.Fatalf("loaded step %d, %d/%d images", r.Step, r.Train.N, r.Test.N)
	}
	rec, res, err := r.Collapse(CollapseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rec["kind"] != KindCollapse || rec["auc"] != res.AUC || rec["n"] != 128 || rec["split"] != "train" || rec["step"] != 3 {
		t.Errorf("collapse record %v", rec)
	}
	// k-NN reuses (and consumes) the training features collapse computed; a second
	// k-NN computes them again and gets the same answer.
	rec1, k1, err := r.KNN(KNNOptions{KNNOptions: eval.KNNOptions{MaxK: 20}})
	if err != nil {
		t.Fatal(err)
	}
	_, k2, err := r.KNN(KNNOptions{KNNOptions: eval.KNNOptions{MaxK: 20}})
	if err != nil {
		t.Fatal(err)
	}
	if k1.BestAccuracy != k2.BestAccuracy || k1.BestK != k2.BestK || rec1["accuracy"] != k1.BestAccuracy || rec1["keys"] != 128 {
		t.Errorf("k-NN %+v then %+v; record %v", k1, k2, rec1)
	}
	rec, lres, err := r.Loss(LossOptions{LossOptions: eval.LossOptions{Samples: 32}})
	if err != nil {
		t.Fatal(err)
	}
	if rec["val_loss"] != lres.Loss || rec["images"] != 32 || rec["split"] != "test" {
		t.Errorf("loss record %v", rec)
	}
	rec, pres, err := r.Linear(eval.LinearOptions{Epochs: 2, CachedFeatures: true})
	if err != nil {
		t.Fatal(err)
	}
	if rec["accuracy"] != pres.ValAccuracy || rec["epochs"] != 2 || rec["cached"] != true {
		t.Errorf("linear record %v", rec)
	}
	if err := Append(dir, rec); err != nil {
		t.Fatal(err)
	}
	if _, ok := rec["time"]; !ok {
		t.Error("Append did not stamp the time")
	}
}

func TestLoadErrors(t *testing.T) {
	if _, err := Load("", "", false); err == nil || !strings.Contains(err.Error(), "--checkpoint") {
		t.Errorf("empty dir: %v", err)
	}
	if _, err := Load(t.TempDir(), "", false); !errors.Is(err, train.ErrNoCheckpoint) {
		t.Errorf("no checkpoint: %v", err)
	}
	r := &Run{Data: "x"}
	if _, err := r.Split("dev"); err == nil {
		t.Error("split dev accepted")
	}
	if _, err := r.NeedTest(); err == nil || !strings.Contains(err.Error(), "no validation split") {
		t.Errorf("no test set: %v", err)
	}
}
