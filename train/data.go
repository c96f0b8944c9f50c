package train

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/siam-ssl/siam/atomicfile"
	"github.com/siam-ssl/siam/data"
)

// OpenData opens the dataset a config trains on: cfg.Data at side cfg.Size
// (ImageFolder trees and shards; 0 means data.DefaultImageSize), with
// cfg.Stream deciding whether a tree is decoded into memory or streamed.
// cacheDir receives the file index of a tree or shard set whose own folder
// is read-only (Run passes the run folder); log gets the indexing lines and
// one warning per unreadable file.
func OpenData(cfg Config, cacheDir string, log io.Writer) (train, test *data.Dataset, err error) {
	mode, err := data.ParseStreamMode(cfg.Stream)
	if err != nil {
		return nil, nil, err
	}
	return data.OpenWith(cfg.Data, data.OpenOptions{ImageSize: cfg.Size, Workers: cfg.Workers, Stream: mode,
		CacheDir: cacheDir, Log: log})
}

// samplerBlocks returns the block sizes for a sequential (shuffle-buffer)
// ordering: one per shard for shard sets, nil (one block) otherwise.
func samplerBlocks(cfg Config, ds *data.Dataset) []int {
	if cfg.ShuffleBuffer <= 0 {
		return nil
	}
	return data.ShardBlocks(ds)
}

// badImagesField adds the count of unreadable files met so far to a metrics
// line (only when there are some).
func badImagesField(extra map[string]float64, ds *data.Dataset) map[string]float64 {
	n := ds.BadFiles()
	if n == 0 {
		return extra
	}
	if extra == nil {
		extra = map[string]float64{}
	}
	extra["bad_images"] = float64(n)
	return extra
}

// DataFile records, in the run folder, which dataset a run trains on: its
// name, size and data.Fingerprint, checked on --resume.
const DataFile = "data.json"

type dataRecord struct {
	Dataset     string `json:"dataset"`
	N           int    `json:"n"`
	Streamed    bool   `json:"streamed"`
	Fingerprint string `json:"fingerprint"`
}

func recordOf(ds *data.Dataset) dataRecord {
	return dataRecord{Dataset: ds.Name, N: ds.N, Streamed: ds.Streamed(), Fingerprint: data.Fingerprint(ds)}
}

// writeDataRecord writes RUN_DIR/data.json for a new run.
func writeDataRecord(dir string, ds *data.Dataset) error {
	b, err := json.MarshalIndent(recordOf(ds), "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(filepath.Join(dir, DataFile), append(b, '\n'))
}

// checkDataRecord refuses to resume on a dataset whose index differs from
// the one the run started on (runs without data.json are not checked).
func checkDataRecord(dir string, ds *data.Dataset) error {
	b, err := os.ReadFile(filepath.Join(dir, DataFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var was dataRecord
	if err := json.Unmarshal(b, &was); err != nil {
		return fmt.Errorf("resume: %s: %v", filepath.Join(dir, DataFile), err)
	}
	if now := recordOf(ds); now.Fingerprint != was.Fingerprint {
		return fmt.Errorf("resume %s: the dataset changed since the run started (%d images, fingerprint %s; now %d, %s), so the same steps would read other images", dir, was.N, was.Fingerprint, now.N, now.Fingerprint)
	}
	return nil
}
