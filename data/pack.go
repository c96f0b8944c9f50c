package data

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"golang.org/x/image/draw"

	"github.com/siam-ssl/siam/atomicfile"
)

// PackOptions configures Pack.
type PackOptions struct {
	// ShardSize is the most bytes a shard holds (a single larger sample gets
	// a shard of its own); default 1 GB.
	ShardSize int64
	// Resize, when > 0, resizes images whose shorter side is longer to that
	// side (Catmull-Rom, antialiased) and re-encodes them as JPEG, so that
	// training decodes less; smaller images keep their original bytes.
	Resize int
	// Quality is the JPEG quality of re-encoded images (default 90).
	Quality int
	// Seed shuffles the samples before they are cut into shards (each shard
	// then mixes the classes, which a sequential shuffle-buffer read needs);
	// 0 keeps the folder's order.
	Seed uint64
	// Workers resize in parallel (default GOMAXPROCS).
	Workers int
	// Log receives a line per shard written and one per unreadable file.
	Log io.Writer
}

// PackSplit reports one split written by Pack.
type PackSplit struct {
	Split   string `json:"split"`   // "train" or "val"
	Images  int    `json:"images"`  // samples written
	Skipped int    `json:"skipped"` // unreadable files left out
	Shards  int    `json:"shards"`
	Bytes   int64  `json:"bytes"`
	Pattern string `json:"pattern"` // brace range naming the shards
}

// Pack writes the ImageFolder tree at root as WebDataset shards in out
// (which must be empty or absent): out/train-000000.tar, ... and, when the
// tree has a val (or test) split, out/val-000000.tar, ..., plus
// out/classes.txt. Sample k of a split has key "%09d" (its position after
// the seeded shuffle), members KEY.<ext> (the image) and KEY.cls (its label
// as decimal text). The output is a pure function of the tree and the
// options: members are written in order with zero times and owners, so
// packing twice gives identical bytes. Each shard is written atomically.
// Unreadable images are reported on opt.Log, counted and left out.
func Pack(root, out string, opt PackOptions) ([]PackSplit, error) {
	if opt.ShardSize <= 0 {
		opt.ShardSize = 1 << 30
	}
	if opt.Quality <= 0 {
		opt.Quality = 90
	}
	if opt.Quality > 100 || opt.Resize < 0 {
		return nil, fmt.Errorf("data: pack: quality %d outside [1,100] or negative resize %d", opt.Quality, opt.Resize)
	}
	if opt.Workers <= 0 {
		opt.Workers = runtime.GOMAXPROCS(0)
	}
	log := opt.Log
	if log == nil {
		log = io.Discard
	}
	if !isDir(root) {
		return nil, fmt.Errorf("data: pack: %s is not a folder", root)
	}
	if ents, err := os.ReadDir(out); err == nil && len(ents) > 0 {
		return nil, fmt.Errorf("data: pack: output folder %s is not empty", out)
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return nil, fmt.Errorf("data: pack: %w", err)
	}
	trainDir, testDir, classes, err := folderSplits(root)
	if err != nil {
		return nil, err
	}
	var res []PackSplit
	for _, sp := range []struct{ name, dir string }{{"train", trainDir}, {"val", testDir}} {
		if sp.dir == "" {
			continue
		}
		x, err := buildFolderIndex(sp.dir, classes)
		if err != nil {
			return nil, err
		}
		r, err := packSplit(x, sp.name, out, opt, log)
		if err != nil {
			return nil, err
		}
		res = append(res, r)
	}
	if err := atomicfile.WriteFile(filepath.Join(out, ClassesFile), []byte(strings.Join(classes, "\n")+"\n")); err != nil {
		return nil, err
	}
	return res, nil
}

// packed is one sample ready to be written.
type packed struct {
	ext   string
	data  []byte
	label int
	err   error
}

// packSplit writes the shards of one split.
func packSplit(x *folderIndex, split, out string, opt PackOptions, log io.Writer) (PackSplit, error) {
	order := make([]int, x.len())
	for i := range order {
		order[i] = i
	}
	if opt.Seed != 0 {
		order = rand.New(rand.NewPCG(opt.Seed, 0x9ac4)).Perm(x.len())
	}
	res := PackSplit{Split: split}
	// Samples are prepared in parallel, a block at a time, and consumed in order.
	const block = 256
	var pending []packed
	pos := 0
	fillBlock := func() {
		n := min(block, len(order)-pos)
		pending = make([]packed, n)
		var wg sync.WaitGroup
		var next sync.Mutex
		k := 0
		for range min(opt.Workers, n) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					next.Lock()
					j := k
					k++
					next.Unlock()
					if j >= n {
						return
					}
					i := order[pos+j]
					pending[j] = packOne(x.path(i), opt)
					pending[j].label = x.labels[i]
				}
			}()
		}
		wg.Wait()
		pos += n
	}
	// peek returns the next readable sample without consuming it.
	peek := func() (*packed, bool) {
		for {
			if len(pending) == 0 {
				if pos >= len(order) {
					return nil, false
				}
				fillBlock()
			}
			if pending[0].err != nil {
				fmt.Fprintf(log, "warning: skipping unreadable image %s\n", pending[0].err)
				res.Skipped++
				pending = pending[1:]
				continue
			}
			return &pending[0], true
		}
	}
	key := 0
	for {
		if _, ok := peek(); !ok {
			break
		}
		name := fmt.Sprintf("%s-%06d.tar", split, res.Shards)
		var size int64
		err := atomicfile.Write(filepath.Join(out, name), func(w io.Writer) error {
			tw := tar.NewWriter(w)
			size = 1024 // the end-of-archive blocks
			for n := 0; ; n++ {
				s, ok := peek()
				if !ok {
					break
				}
				cls := []byte(fmt.Sprint(s.label))
				need := tarSize(len(s.data)) + tarSize(len(cls))
				if n > 0 && size+need > opt.ShardSize {
					break
				}
				k := fmt.Sprintf("%09d", key)
				if err := writeMember(tw, k+"."+s.ext, s.data); err != nil {
					return err
				}
				if err := writeMember(tw, k+".cls", cls); err != nil {
					return err
				}
				size += need
				key++
				res.Images++
				pending = pending[1:]
			}
			return tw.Close()
		})
		if err != nil {
			return res, fmt.Errorf("data: pack: %w", err)
		}
		res.Shards++
		res.Bytes += size
		fmt.Fprintf(log, "pack: %s (%d images so far)\n", filepath.Join(out, name), res.Images)
	}
	if res.Images == 0 {
		return res, fmt.Errorf("data: pack: no readable image in %s", x.root)
	}
	res.Pattern = filepath.Join(out, fmt.Sprintf("%s-{%06d..%06d}.tar", split, 0, res.Shards-1))
	return res, nil
}

// tarSize is the bytes a member of n bytes takes in a tar file.
func tarSize(n int) int64 { return 512 + (int64(n)+511)/512*512 }

// writeMember writes one regular file with fixed metadata (deterministic).
func writeMember(tw *tar.Writer, name string, data []byte) error {
	h := &tar.Header{Typeflag: tar.TypeReg, Name: name, Size: int64(len(data)), Mode: 0o644,
		ModTime: time.Unix(0, 0), Format: tar.FormatUSTAR}
	if err := tw.WriteHeader(h); err != nil {
		return err
	}
	_, err := tw.Write(data)
	return err
}

// packOne reads one image file and, with opt.Resize, shrinks it; the error
// names the file.
func packOne(p string, opt PackOptions) packed {
	raw, err := os.ReadFile(p)
	if err != nil {
		return packed{err: err}
	}
	_, w, h, err := imageHeader(raw)
	if err != nil {
		return packed{err: fmt.Errorf("%s: %v", p, err)}
	}
	ext := strings.TrimPrefix(strings.ToLower(filepath.Ext(p)), ".")
	if ext == "jpeg" {
		ext = "jpg"
	}
	if opt.Resize <= 0 || min(w, h) <= opt.Resize {
		if opt.Resize > 0 { // small enough: check that it decodes before keeping it
			if _, _, err := image.Decode(bytes.NewReader(raw)); err != nil {
				return packed{err: fmt.Errorf("%s: %v", p, err)}
			}
		}
		return packed{ext: ext, data: raw}
	}
	src, _, err := image.Decode(bytes.NewReader(raw))
	if err != nil {
		return packed{err: fmt.Errorf("%s: %v", p, err)}
	}
	nw, nh := opt.Resize*w/min(w, h), opt.Resize*h/min(w, h)
	if w < h {
		nw = opt.Resize
	} else {
		nh = opt.Resize
	}
	dst := image.NewRGBA(image.Rect(0, 0, nw, nh))
	draw.CatmullRom.Scale(dst, dst.Rect, src, src.Bounds(), draw.Src, nil)
	var b bytes.Buffer
	if err := jpeg.Encode(&b, dst, &jpeg.Options{Quality: opt.Quality}); err != nil {
		return packed{err: fmt.Errorf("%s: %v", p, err)}
	}
	return packed{ext: "jpg", data: b.Bytes()}
}

// ParseByteSize parses sizes such as "1GB", "500MB", "64KiB" or "1048576"
// (decimal units are powers of 1000, binary ones of 1024).
func ParseByteSize(s string) (int64, error) {
	t := strings.TrimSpace(strings.ToUpper(s))
	units := []struct {
		suffix string
		mult   int64
	}{{"KIB", 1 << 10}, {"MIB", 1 << 20}, {"GIB", 1 << 30}, {"TIB", 1 << 40},
		{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12}, {"K", 1e3}, {"M", 1e6}, {"G", 1e9}, {"B", 1}}
	mult := int64(1)
	for _, u := range units {
		if v, ok := strings.CutSuffix(t, u.suffix); ok {
			t, mult = strings.TrimSpace(v), u.mult
			break
		}
	}
	var v float64
	if _, err := fmt.Sscanf(t, "%g", &v); err != nil || t == "" || !(v > 0) || v*float64(mult) > 1<<50 {
		return 0, fmt.Errorf("bad size %q (want e.g. 1GB, 500MB, 64KiB)", s)
	}
	if rest := strings.TrimLeft(t, "0123456789.eE+-"); rest != "" {
		return 0, errors.New("bad size " + s)
	}
	return int64(v * float64(mult)), nil
}
