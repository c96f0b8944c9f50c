package data

import (
	"bufio"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/siam-ssl/siam/atomicfile"
)

// The framing that both cached file indexes (folder indexes, folderindex.go,
// and shard indexes, shards.go) share: gzip'd line-based text that ends with
// an optional channel-statistics line and an "end" line, written atomically to
// the first cache path that can be written.

// writeIndexCache writes an index (folder or shard) atomically with write to
// the first of paths that can be written, making the folders of any path
// after the first (the fall-back cache folder), and returns that path; when
// none can be written, the error joins every path's.
func writeIndexCache(paths []string, write func(io.Writer) error) (string, error) {
	var errs []error
	for i, p := range paths {
		if i > 0 {
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				errs = append(errs, err)
				continue
			}
		}
		if err := atomicfile.Write(p, write); err != nil {
			errs = append(errs, err)
			continue
		}
		return p, nil
	}
	return "", errors.Join(errs...)
}

// writeIndexText writes an index gzip'd to w: the lines body writes, then
// "stats" with mean and std when both have 3 values, then "end".
func writeIndexText(w io.Writer, mean, std []float32, body func(bw *bufio.Writer)) error {
	zw := gzip.NewWriter(w)
	bw := bufio.NewWriter(zw)
	body(bw)
	if len(mean) == 3 && len(std) == 3 {
		fmt.Fprintf(bw, "stats %g %g %g %g %g %g\n", mean[0], mean[1], mean[2], std[0], std[1], std[2])
	}
	fmt.Fprintf(bw, "end\n")
	if err := bw.Flush(); err != nil {
		return err
	}
	return zw.Close()
}

// readIndexFile opens the gzip'd index cache at path and parses its text with
// parse.
func readIndexFile[T any](path string, parse func(io.Reader) (T, error)) (T, error) {
	var zero T
	f, err := os.Open(path)
	if err != nil {
		return zero, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return zero, err
	}
	return parse(zr)
}

// parseIndexTail reads, with next, what writeIndexText writes after the body
// and returns the channel statistics (nil when the index has none).
func parseIndexTail(next func() (string, error)) (mean, std []float32, err error) {
	l, err := next()
	if err != nil {
		return nil, nil, err
	}
	if v, ok := strings.CutPrefix(l, "stats "); ok {
		f := strings.Fields(v)
		if len(f) != 6 {
			return nil, nil, fmt.Errorf("index: bad stats line %q", l)
		}
		vals := make([]float32, 6)
		for i, s := range f {
			p, err := strconv.ParseFloat(s, 32)
			if err != nil {
				return nil, nil, fmt.Errorf("index: bad stats line %q", l)
			}
			vals[i] = float32(p)
		}
		mean, std = vals[:3], vals[3:]
		if l, err = next(); err != nil {
			return nil, nil, err
		}
	}
	if l != "end" {
		return nil, nil, errors.New("index: missing end line")
	}
	return mean, std, nil
}
