package train

import (
	"io"

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
