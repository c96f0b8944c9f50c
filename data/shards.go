package data

import (
	"archive/tar"
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// WebDataset shards
//
// A shard is a tar file whose members are grouped into samples by key: the
// member path up to the first '.' of its base name is the key, the rest its
// extension ("n0144/123.jpg" is sample "n0144/123", extension "jpg"). A
// sample needs one image (jpg, jpeg, png, bmp, tif, tiff, webp) and a "cls"
// member holding its integer label as text; other members are ignored.
//
// The shards are indexed once (every sample's shard, byte offset and size,
// and its label; the index is cached like an ImageFolder's), so a shard set
// is a streamed Dataset with random access: every ordering of package order
// applies to it exactly as to a folder. Sequential reading is an ordering
// choice: order.Config.Blocks + Buffer (train's shuffle_buffer) gives
// WebDataset's shard-by-shard stream through a shuffle buffer, as a pure
// function of (seed, epoch) so resume stays exact.

// shardImageExts are the member extensions read as the sample image.
var shardImageExts = map[string]bool{"jpg": true, "jpeg": true, "png": true, "bmp": true, "tif": true, "tiff": true, "webp": true}

// maxClsBytes bounds a .cls member (a decimal label).
const maxClsBytes = 64

// tarSample is one sample of a shard: its image member and label.
type tarSample struct {
	key   string // key + "." + image extension, for messages
	off   int64  // image bytes start
	size  int64
	label int
}

// indexTar lists the samples of one tar stream (r must support Seek, so the
// image bytes are skipped rather than read). name is used in messages.
func indexTar(r io.ReadSeeker, name string) ([]tarSample, error) {
	end, err := r.Seek(0, io.SeekEnd)
	if err != nil {
		return nil, fmt.Errorf("shard %s: %w", name, err)
	}
	if _, err := r.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("shard %s: %w", name, err)
	}
	type acc struct {
		img      bool
		cls      bool
		s        tarSample
		firstPos int
	}
	byKey := map[string]*acc{}
	var keys []string
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("shard %s: not a readable tar file: %w", name, err)
		}
		switch h.Typeflag {
		case tar.TypeDir:
			continue
		case tar.TypeReg, tar.TypeRegA:
		default:
			return nil, fmt.Errorf("shard %s: member %q is not a regular file (type %q)", name, h.Name, h.Typeflag)
		}
		base := path.Base(h.Name)
		dot := strings.IndexByte(base, '.')
		if dot <= 0 {
			continue // no extension: not part of a sample
		}
		key := strings.TrimPrefix(path.Join(path.Dir(h.Name), base[:dot]), "./")
		ext := strings.ToLower(base[dot+1:])
		if !shardImageExts[ext] && ext != "cls" {
			continue
		}
		pos, err := r.Seek(0, io.SeekCurrent)
		if err != nil {
			return nil, fmt.Errorf("shard %s: %w", name, err)
		}
		if h.Size < 0 || pos+h.Size > end {
			return nil, fmt.Errorf("shard %s: member %q runs past the end of the file (truncated shard?)", name, h.Name)
		}
		a := byKey[key]
		if a == nil {
			a = &acc{firstPos: len(keys)}
			byKey[key] = a
			keys = append(keys, key)
		}
		if ext == "cls" {
			if a.cls {
				return nil, fmt.Errorf("shard %s: sample %q has two .cls members", name, key)
			}
			if h.Size > maxClsBytes {
				return nil, fmt.Errorf("shard %s: %s is %d bytes, not a class number", name, h.Name, h.Size)
			}
			b, err := io.ReadAll(tr)
			if err != nil {
				return nil, fmt.Errorf("shard %s: %s: %w", name, h.Name, err)
			}
			l, err := strconv.Atoi(strings.TrimSpace(string(b)))
			if err != nil || l < 0 || l >= 1<<24 {
				return nil, fmt.Errorf("shard %s: %s holds %q, not a class number in [0, 2^24)", name, h.Name, b)
			}
			a.cls, a.s.label = true, l
			continue
		}
		if a.img {
			continue // a second image of the sample: the first one is used
		}
		a.img = true
		a.s.key, a.s.off, a.s.size = key+"."+ext, pos, h.Size
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("shard %s holds no samples (want KEY.jpg + KEY.cls members)", name)
	}
	out := make([]tarSample, 0, len(keys))
	for _, k := range keys {
		a := byKey[k]
		switch {
		case !a.cls:
			return nil, fmt.Errorf("shard %s: sample %q has no .cls member (each sample needs KEY.jpg and KEY.cls)", name, k)
		case !a.img:
			return nil, fmt.Errorf("shard %s: sample %q has no image member (.jpg, .jpeg, .png, ...)", name, k)
		}
		out = append(out, a.s)
	}
	return out, nil
}

// shardIndex is the sample list of a shard set.
type shardIndex struct {
	files   []string // shard paths
	stamps  []fileStamp
	shard   []int32 // sample i lives in files[shard[i]]
	off     []int64
	size    []int64
	keys    string
	keyOffs []uint32
	labels  []int
	blocks  []int // samples per shard
	mean    []float32
	std     []float32
}

// fileStamp is a shard's size and modification time, for staleness checks.
type fileStamp struct {
	size, mtime int64
}

func (x *shardIndex) len() int         { return len(x.labels) }
func (x *shardIndex) key(i int) string { return x.keys[x.keyOffs[i]:x.keyOffs[i+1]] }
func (x *shardIndex) hasStats() bool   { return len(x.mean) == 3 && len(x.std) == 3 }

// shardStore reads sample images straight from their shard (one ReadAt).
type shardStore struct{ x *shardIndex }

func (s shardStore) Len() int { return s.x.len() }
func (s shardStore) Path(i int) string {
	return s.x.files[s.x.shard[i]] + ":" + s.x.key(i)
}

// Read returns the image bytes of sample i, reusing buf.
func (s shardStore) Read(i int, buf []byte) ([]byte, error) {
	n := s.x.size[i]
	if n > 1<<30 {
		return buf, fmt.Errorf("member of %d bytes is too large for an image", n)
	}
	if int64(cap(buf)) < n {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	f, err := os.Open(s.x.files[s.x.shard[i]])
	if err != nil {
		return buf, err
	}
	defer f.Close()
	if _, err := f.ReadAt(buf, s.x.off[i]); err != nil {
		return buf, err
	}
	return buf, nil
}

// buildShardIndex indexes every shard in order.
func buildShardIndex(files []string) (*shardIndex, error) {
	x := &shardIndex{files: files, keyOffs: []uint32{0}}
	var keys strings.Builder
	for si, p := range files {
		f, err := os.Open(p)
		if err != nil {
			return nil, fmt.Errorf("data: %w", err)
		}
		st, err := f.Stat()
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("data: %w", err)
		}
		samples, err := indexTar(f, p)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("data: %w", err)
		}
		x.stamps = append(x.stamps, fileStamp{st.Size(), st.ModTime().UnixNano()})
		x.blocks = append(x.blocks, len(samples))
		for _, s := range samples {
			x.shard = append(x.shard, int32(si))
			x.off = append(x.off, s.off)
			x.size = append(x.size, s.size)
			x.labels = append(x.labels, s.label)
			keys.WriteString(s.key)
			if keys.Len() > 1<<32-1 {
				return nil, errors.New("data: shard keys exceed 4 GiB")
			}
			x.keyOffs = append(x.keyOffs, uint32(keys.Len()))
		}
	}
	x.keys = keys.String()
	return x, nil
}

// shardCachePaths returns where a shard set's index may be cached: beside
// the first shard, then in cacheDir; the name hashes the shard list.
func shardCachePaths(files []string, cacheDir string) []string {
	h := sha256.New()
	for _, f := range files {
		abs, err := filepath.Abs(f)
		if err != nil {
			abs = f
		}
		fmt.Fprintf(h, "%s\n", abs)
	}
	name := ".siam-shards-" + hex.EncodeToString(h.Sum(nil)[:8]) + ".gz"
	paths := []string{filepath.Join(filepath.Dir(files[0]), name)}
	if cacheDir != "" {
		paths = append(paths, filepath.Join(cacheDir, name[1:]))
	}
	return paths
}

// loadShardIndex returns the index of the given shards, from a current cache
// file (every shard's size and time unchanged) or built and cached.
func loadShardIndex(files []string, cacheDir string, log io.Writer, prepare func(*shardIndex)) (*shardIndex, error) {
	paths := shardCachePaths(files, cacheDir)
	for _, p := range paths {
		if x, err := readShardIndex(p, files); err == nil && x.current() {
			return x, nil
		}
	}
	t0 := time.Now()
	x, err := buildShardIndex(files)
	if err != nil {
		return nil, err
	}
	if prepare != nil {
		prepare(x)
	}
	took := time.Since(t0).Seconds()
	p, err := writeIndexCache(paths, x.write)
	if err != nil {
		fmt.Fprintf(log, "shards: index of %d samples not cached: %v\n", x.len(), err)
		return x, nil
	}
	fmt.Fprintf(log, "shards: indexed %d samples in %d shards in %.1fs (cached in %s)\n", x.len(), len(files), took, p)
	return x, nil
}

// current reports whether every shard still has its indexed size and time.
func (x *shardIndex) current() bool {
	for i, p := range x.files {
		st, err := os.Stat(p)
		if err != nil || st.Size() != x.stamps[i].size || st.ModTime().UnixNano() != x.stamps[i].mtime {
			return false
		}
	}
	return true
}

const shardIndexMagic = "siam-shard-index 1"

// write serialises the index (gzip'd text, one line per shard and sample).
func (x *shardIndex) write(w io.Writer) error {
	return writeIndexText(w, x.mean, x.std, func(bw *bufio.Writer) {
		fmt.Fprintf(bw, "%s\nshards %d\n", shardIndexMagic, len(x.files))
		for i, f := range x.files {
			fmt.Fprintf(bw, "%d %d %d %s\n", x.stamps[i].size, x.stamps[i].mtime, x.blocks[i], strconv.Quote(f))
		}
		fmt.Fprintf(bw, "samples %d\n", x.len())
		for i := range x.labels {
			fmt.Fprintf(bw, "%d %d %d %s\n", x.off[i], x.size[i], x.labels[i], strconv.Quote(x.key(i)))
		}
	})
}

// readShardIndex reads a cache file and checks it lists exactly files.
func readShardIndex(p string, files []string) (*shardIndex, error) {
	return readIndexFile(p, func(r io.Reader) (*shardIndex, error) { return parseShardIndex(r, files) })
}

// parseShardIndex reads the text form of a shard index (see write) and
// checks that it lists exactly files.
func parseShardIndex(r io.Reader, files []string) (*shardIndex, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	next := func() ([]string, error) {
		if !sc.Scan() {
			return nil, io.ErrUnexpectedEOF
		}
		return strings.SplitN(sc.Text(), " ", 4), nil
	}
	ints := func(f []string, n int) ([]int64, error) {
		if len(f) < n {
			return nil, errors.New("index: short line")
		}
		out := make([]int64, n)
		for i := range out {
			v, err := strconv.ParseInt(f[i], 10, 64)
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	}
	if !sc.Scan() || sc.Text() != shardIndexMagic {
		return nil, errors.New("index: wrong magic")
	}
	l, err := next()
	if err != nil || len(l) != 2 || l[0] != "shards" || l[1] != strconv.Itoa(len(files)) {
		return nil, errors.New("index: different shard count")
	}
	x := &shardIndex{files: files, keyOffs: []uint32{0}}
	total := int64(0)
	for i := range files {
		l, err := next()
		if err != nil {
			return nil, err
		}
		v, err := ints(l, 3)
		if err != nil || len(l) != 4 {
			return nil, errors.New("index: bad shard line")
		}
		if name, err := strconv.Unquote(l[3]); err != nil || name != files[i] {
			return nil, errors.New("index: different shard list")
		}
		if v[2] < 0 || v[2] > 1<<28 {
			return nil, errors.New("index: bad shard line")
		}
		x.stamps = append(x.stamps, fileStamp{v[0], v[1]})
		x.blocks = append(x.blocks, int(v[2]))
		total += v[2]
	}
	l, err = next()
	if err != nil || len(l) != 2 || l[0] != "samples" || l[1] != strconv.FormatInt(total, 10) {
		return nil, errors.New("index: bad samples line")
	}
	var keys strings.Builder
	for si, n := range x.blocks {
		for range n {
			l, err := next()
			if err != nil {
				return nil, err
			}
			v, err := ints(l, 3)
			if err != nil || len(l) != 4 || v[0] < 0 || v[1] < 0 || v[2] < 0 || v[2] >= 1<<24 {
				return nil, errors.New("index: bad sample line")
			}
			k, err := strconv.Unquote(l[3])
			if err != nil {
				return nil, errors.New("index: bad sample line")
			}
			x.shard = append(x.shard, int32(si))
			x.off = append(x.off, v[0])
			x.size = append(x.size, v[1])
			x.labels = append(x.labels, int(v[2]))
			keys.WriteString(k)
			x.keyOffs = append(x.keyOffs, uint32(keys.Len()))
		}
	}
	x.keys = keys.String()
	line := func() (string, error) {
		if !sc.Scan() {
			return "", io.ErrUnexpectedEOF
		}
		return sc.Text(), nil
	}
	if x.mean, x.std, err = parseIndexTail(line); err != nil {
		return nil, err
	}
	return x, nil
}

// ClassesFile is the optional file of class names (one per line, label
// order) beside the shards; `siam data pack` writes it.
const ClassesFile = "classes.txt"

// OpenShards opens a WebDataset shard set (a spec for ResolveShards, e.g.
// "shards/train-{000000..000146}.tar" or "shards/*.tar") as a streamed train
// split at side opt.ImageSize. When the train shards' names start with
// "train" and val-*.tar files sit beside them, those are the test split
// (nil otherwise). Classes are named by classes.txt beside the shards when
// present, else numbered; their count is the larger of its lines and the
// largest label + 1.
func OpenShards(spec string, opt OpenOptions) (train, test *Dataset, err error) {
	files, err := ResolveShards(spec)
	if err != nil {
		return nil, nil, err
	}
	var valFiles []string
	if strings.HasPrefix(filepath.Base(files[0]), "train") {
		if m, _ := filepath.Glob(filepath.Join(filepath.Dir(files[0]), "val-*.tar")); len(m) > 0 {
			valFiles = m
		}
	}
	return openShardFiles(files, valFiles, opt)
}

// openShardDir opens dir/train-*.tar (+ dir/val-*.tar), or every dir/*.tar.
func openShardDir(dir string, opt OpenOptions) (train, test *Dataset, err error) {
	if m, _ := filepath.Glob(filepath.Join(dir, "train-*.tar")); len(m) > 0 {
		return OpenShards(filepath.Join(dir, "train-*.tar"), opt)
	}
	return OpenShards(filepath.Join(dir, "*.tar"), opt)
}

// hasTarFiles reports whether dir holds *.tar files.
func hasTarFiles(dir string) bool {
	m, _ := filepath.Glob(filepath.Join(dir, "*.tar"))
	return len(m) > 0
}

func openShardFiles(files, valFiles []string, opt OpenOptions) (train, test *Dataset, err error) {
	if opt.ImageSize <= 0 {
		opt.ImageSize = DefaultImageSize
	}
	log := opt.Log
	if log == nil {
		log = io.Discard
	}
	bad := &badFiles{seen: map[string]bool{}}
	dir := filepath.Dir(files[0])
	names, err := readClassesFile(filepath.Join(dir, ClassesFile))
	if err != nil {
		return nil, nil, err
	}
	name := filepath.Base(dir) + "/" + strings.TrimSuffix(filepath.Base(files[0]), ".tar")
	if len(files) > 1 {
		name += fmt.Sprintf("+%d", len(files)-1)
	}
	mk := func(name string, x *shardIndex, size int, classes int) *Dataset {
		ds := &Dataset{Name: name, N: x.len(), C: 3, H: size, W: size, Classes: classes, Labels: x.labels,
			Files: &FileSet{Store: shardStore{x}, Warn: opt.Log, bad: bad}}
		if len(names) == classes {
			ds.ClassNames = names
		}
		return ds
	}
	statsOf := func(x *shardIndex) {
		x.mean, x.std = EstimateStats(mk(name, x, statsSide, maxLabel(x.labels)+1), statsSamples)
	}
	xtr, err := loadShardIndex(files, opt.CacheDir, log, statsOf)
	if err != nil {
		return nil, nil, err
	}
	if !xtr.hasStats() {
		statsOf(xtr)
	}
	classes := max(len(names), maxLabel(xtr.labels)+1)
	var xte *shardIndex
	if len(valFiles) > 0 {
		if xte, err = loadShardIndex(valFiles, opt.CacheDir, log, nil); err != nil {
			return nil, nil, err
		}
		classes = max(classes, maxLabel(xte.labels)+1)
	}
	if len(names) > 0 && len(names) < classes {
		return nil, nil, fmt.Errorf("data: %s names %d classes but the shards use label %d", filepath.Join(dir, ClassesFile), len(names), classes-1)
	}
	train = mk(name, xtr, opt.ImageSize, classes)
	train.Files.Mean, train.Files.Std = xtr.mean, xtr.std
	if xte != nil {
		test = mk(filepath.Base(dir)+"/val", xte, opt.ImageSize, classes)
		test.Files.Mean, test.Files.Std = xtr.mean, xtr.std
	}
	return train, test, nil
}

// ShardBlocks returns the number of samples in each shard of a streamed
// shard dataset, in index order (nil for other datasets): the contiguous
// blocks a sequential, shuffle-buffered ordering reads one after another.
func ShardBlocks(ds *Dataset) []int {
	if ds == nil || ds.Files == nil {
		return nil
	}
	if s, ok := ds.Files.Store.(shardStore); ok {
		return append([]int(nil), s.x.blocks...)
	}
	return nil
}

func maxLabel(l []int) int {
	m := -1
	for _, v := range l {
		m = max(m, v)
	}
	return m
}

// readClassesFile reads a classes.txt (missing file: nil, no error).
func readClassesFile(p string) ([]string, error) {
	b, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("data: %w", err)
	}
	var out []string
	for _, l := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
		out = append(out, strings.TrimRight(l, "\r"))
	}
	return out, nil
}
