package data

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// indexCacheName is the file an ImageFolder split's index is cached in,
// beside the class folders (or, named by a hash of the split's path, in
// OpenOptions.CacheDir when the data folder is read-only).
const indexCacheName = ".siam-index-v1.gz"

// indexMagic starts every index cache file; a different version is rebuilt.
const indexMagic = "siam-imagefolder-index 1"

// folderIndex is the file list of one ImageFolder split: every image path
// (relative to the split folder) with its label, in torchvision's order.
type folderIndex struct {
	root    string   // split folder
	classes []string // label order (the train split's sorted class folders)
	names   string   // relative paths, concatenated
	offs    []uint32 // path i is names[offs[i]:offs[i+1]]
	labels  []int
	dirs    []dirStamp // every folder walked, for staleness checks
	mean    []float32  // channel statistics (train split), nil if unknown
	std     []float32
	took    time.Duration // time to build (for the log)
}

// dirStamp is a folder's path (relative to the split) and modification time.
// Adding, removing or renaming a file changes its folder's time, so a cached
// index whose stamps all match lists the same files.
type dirStamp struct {
	rel   string
	mtime int64
}

func (x *folderIndex) len() int          { return len(x.labels) }
func (x *folderIndex) rel(i int) string  { return x.names[x.offs[i]:x.offs[i+1]] }
func (x *folderIndex) path(i int) string { return filepath.Join(x.root, filepath.FromSlash(x.rel(i))) }
func (x *folderIndex) hasStats() bool    { return len(x.mean) == 3 && len(x.std) == 3 }

// folderStore reads the files of a folderIndex.
type folderStore struct{ x *folderIndex }

func (s folderStore) Len() int          { return s.x.len() }
func (s folderStore) Path(i int) string { return s.x.path(i) }

// Read returns the bytes of file i, reusing buf.
func (s folderStore) Read(i int, buf []byte) ([]byte, error) {
	return readFileInto(s.x.path(i), buf)
}

// readFileInto reads a whole file into buf (grown if needed).
func readFileInto(path string, buf []byte) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return buf, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return buf, err
	}
	n := st.Size()
	if n > 1<<30 {
		return buf, fmt.Errorf("file of %d bytes is too large for an image", n)
	}
	if int64(cap(buf)) < n {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	if _, err := io.ReadFull(f, buf); err != nil {
		return buf, err
	}
	return buf, nil
}

// streamExts are the image file extensions an ImageFolder index lists
// (case-insensitive): torchvision's IMG_EXTENSIONS that Go can decode.
var streamExts = map[string]bool{".jpg": true, ".jpeg": true, ".png": true, ".bmp": true,
	".tif": true, ".tiff": true, ".webp": true}

// buildFolderIndex lists split folder root: for each class folder (sorted;
// hidden ones skipped) that is among classes, every image file below it,
// following symbolic links, ordered as torchvision's make_dataset orders
// them (folders by path, files by name). A class folder without images, or
// one that is not among classes, is an error.
func buildFolderIndex(root string, classes []string) (*folderIndex, error) {
	label := make(map[string]int, len(classes))
	for i, c := range classes {
		label[c] = i
	}
	present, err := classFolders(root)
	if err != nil {
		return nil, err
	}
	x := &folderIndex{root: root, classes: classes}
	var names strings.Builder
	x.offs = append(x.offs, 0)
	for _, c := range present {
		l, ok := label[c]
		if !ok {
			return nil, fmt.Errorf("imagefolder: %s: class folder %q is not among the train classes", root, c)
		}
		before := len(x.labels)
		dirs, err := walkClass(root, c)
		if err != nil {
			return nil, err
		}
		for _, d := range dirs {
			x.dirs = append(x.dirs, dirStamp{rel: d.rel, mtime: d.mtime})
			for _, f := range d.files {
				names.WriteString(d.rel + "/" + f)
				x.offs = append(x.offs, uint32(names.Len()))
				x.labels = append(x.labels, l)
			}
		}
		if len(x.labels) == before {
			return nil, fmt.Errorf("imagefolder: class folder %s has no image files (.jpg, .jpeg, .png, .bmp, .tif, .tiff, .webp)", filepath.Join(root, c))
		}
		if names.Len() > 1<<32-1 {
			return nil, fmt.Errorf("imagefolder: %s: file names exceed 4 GiB", root)
		}
	}
	x.names = names.String()
	return x, nil
}

// walkedDir is one folder of a class with its image files, sorted.
type walkedDir struct {
	rel   string // relative to the split folder, slash-separated
	mtime int64
	files []string
}

// walkClass lists every folder below root/class (the class folder included),
// following symbolic links but never a folder twice, sorted by path.
func walkClass(root, class string) ([]walkedDir, error) {
	var out []walkedDir
	seen := map[string]bool{}
	var walk func(rel string, depth int) error
	walk = func(rel string, depth int) error {
		abs := filepath.Join(root, filepath.FromSlash(rel))
		real, err := filepath.EvalSymlinks(abs)
		if err != nil {
			return fmt.Errorf("imagefolder: %w", err)
		}
		if seen[real] || depth > 64 {
			return nil // a link cycle
		}
		seen[real] = true
		st, err := os.Stat(abs)
		if err != nil {
			return fmt.Errorf("imagefolder: %w", err)
		}
		ents, err := os.ReadDir(abs)
		if err != nil {
			return fmt.Errorf("imagefolder: %w", err)
		}
		d := walkedDir{rel: rel, mtime: st.ModTime().UnixNano()}
		var subs []string
		for _, e := range ents {
			name := e.Name()
			if strings.HasPrefix(name, ".") {
				continue
			}
			isDir := e.IsDir()
			if e.Type()&os.ModeSymlink != 0 {
				if st, err := os.Stat(filepath.Join(abs, name)); err == nil {
					isDir = st.IsDir()
				} else {
					continue // a dangling link
				}
			}
			switch {
			case isDir:
				subs = append(subs, rel+"/"+name)
			case streamExts[strings.ToLower(filepath.Ext(name))]:
				d.files = append(d.files, name)
			}
		}
		sort.Strings(d.files)
		out = append(out, d)
		for _, s := range subs {
			if err := walk(s, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(class, 0); err != nil {
		return nil, err
	}
	// torchvision sorts os.walk's (root, dirs, files) tuples by folder path.
	sort.SliceStable(out, func(i, j int) bool { return out[i].rel < out[j].rel })
	return out, nil
}

// cachePaths returns where split folder root's index may be cached: beside
// the data, then in cacheDir (named by a hash of the folder's absolute path).
func cachePaths(root, cacheDir string) []string {
	paths := []string{filepath.Join(root, indexCacheName)}
	if cacheDir != "" {
		abs, err := filepath.Abs(root)
		if err != nil {
			abs = root
		}
		h := sha256.Sum256([]byte(abs))
		paths = append(paths, filepath.Join(cacheDir, "siam-index-"+hex.EncodeToString(h[:8])+".gz"))
	}
	return paths
}

// loadFolderIndex returns the index of split folder root labelled by
// classes: from a cache file when one is current (same class folders, every
// folder's modification time unchanged), else built afresh and cached beside
// the data or, if that folder is read-only, in cacheDir; log receives one
// line saying where. A fresh index is passed to prepare (e.g. to estimate
// channel statistics) before it is cached.
func loadFolderIndex(root string, classes []string, cacheDir string, log io.Writer, prepare func(*folderIndex)) (*folderIndex, error) {
	present, err := classFolders(root)
	if err != nil {
		return nil, err
	}
	paths := cachePaths(root, cacheDir)
	for _, p := range paths {
		x, err := readFolderIndex(p, root)
		if err != nil {
			if !errors.Is(err, os.ErrNotExist) {
				fmt.Fprintf(log, "imagefolder: cached index %s is not usable (%v); rebuilding it\n", p, err)
			}
			continue
		}
		if !x.current(classes, present) {
			continue
		}
		return x, nil
	}
	t0 := time.Now()
	x, err := buildFolderIndex(root, classes)
	if err != nil {
		return nil, err
	}
	if prepare != nil {
		prepare(x)
	}
	x.took = time.Since(t0)
	if err := x.cache(paths, log); err != nil {
		fmt.Fprintf(log, "imagefolder: %s: index of %d files not cached: %v\n", root, x.len(), err)
	}
	return x, nil
}

// cache writes the index to the first of paths that can be written.
func (x *folderIndex) cache(paths []string, log io.Writer) error {
	p, err := writeIndexCache(paths, x.write)
	if err != nil {
		return err
	}
	fmt.Fprintf(log, "imagefolder: indexed %d files of %s in %.1fs (cached in %s)\n", x.len(), x.root, x.took.Seconds(), p)
	return nil
}

// current reports whether a cached index still describes the folder: the
// same label order, the same class folders and unchanged folder times.
func (x *folderIndex) current(classes, present []string) bool {
	if !slices.Equal(x.classes, classes) {
		return false
	}
	var cached []string
	for _, d := range x.dirs {
		if !strings.Contains(d.rel, "/") {
			cached = append(cached, d.rel)
		}
	}
	if !slices.Equal(cached, present) {
		return false
	}
	for _, d := range x.dirs {
		st, err := os.Stat(filepath.Join(x.root, filepath.FromSlash(d.rel)))
		if err != nil || st.ModTime().UnixNano() != d.mtime {
			return false
		}
	}
	return true
}

// write serialises the index: gzip of a line-based text format with quoted
// names, so any file name survives.
func (x *folderIndex) write(w io.Writer) error {
	return writeIndexText(w, x.mean, x.std, func(bw *bufio.Writer) {
		fmt.Fprintf(bw, "%s\nclasses %d\n", indexMagic, len(x.classes))
		for _, c := range x.classes {
			fmt.Fprintf(bw, "%s\n", strconv.Quote(c))
		}
		fmt.Fprintf(bw, "dirs %d\n", len(x.dirs))
		for _, d := range x.dirs {
			fmt.Fprintf(bw, "%d %s\n", d.mtime, strconv.Quote(d.rel))
		}
		fmt.Fprintf(bw, "files %d\n", x.len())
		for i := range x.labels {
			fmt.Fprintf(bw, "%d %s\n", x.labels[i], strconv.Quote(x.rel(i)))
		}
	})
}

// readFolderIndex parses a cache file written by write.
// checkRel reports why rel is not a clean slash-separated path inside a
// split folder of the form the index builder writes: relative, no empty, "."
// or ".." element, no hidden element.
func checkRel(rel string) error {
	if rel == "" || path.IsAbs(rel) || !filepath.IsLocal(filepath.FromSlash(rel)) {
		return errors.New("not a path inside the split folder")
	}
	for _, e := range strings.Split(rel, "/") {
		if e == "" || e == "." || e == ".." || strings.HasPrefix(e, ".") {
			return fmt.Errorf("path element %q", e)
		}
	}
	return nil
}

// checkEntry reports why rel, labelled class, cannot be an entry of a cached
// index: it must be a clean path inside the split (checkRel), below the
// folder of its own class, in a folder the index stamps (so a change to it
// is seen), with an image extension.
func checkEntry(rel, class string, dirs map[string]bool) error {
	if err := checkRel(rel); err != nil {
		return fmt.Errorf("index: entry %q: %v", rel, err)
	}
	if first, _, _ := strings.Cut(rel, "/"); first != class {
		return fmt.Errorf("index: entry %q is labelled %q but lies outside that class folder", rel, class)
	}
	if !dirs[path.Dir(rel)] {
		return fmt.Errorf("index: entry %q lies in a folder the index does not list", rel)
	}
	if !imageExts[strings.ToLower(path.Ext(rel))] {
		return fmt.Errorf("index: entry %q is not a .jpg, .jpeg or .png file", rel)
	}
	return nil
}

func readFolderIndex(path, root string) (*folderIndex, error) {
	return readIndexFile(path, func(r io.Reader) (*folderIndex, error) { return parseFolderIndex(r, root) })
}

// parseFolderIndex reads the text form of an index (see write).
func parseFolderIndex(r io.Reader, root string) (*folderIndex, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	line := func() (string, error) {
		if !sc.Scan() {
			if sc.Err() != nil {
				return "", sc.Err()
			}
			return "", io.ErrUnexpectedEOF
		}
		return sc.Text(), nil
	}
	count := func(key string) (int, error) {
		l, err := line()
		if err != nil {
			return 0, err
		}
		v, ok := strings.CutPrefix(l, key+" ")
		n, err := strconv.Atoi(v)
		if !ok || err != nil || n < 0 || n > 1<<28 {
			return 0, fmt.Errorf("index: bad %q line %q", key, l)
		}
		return n, nil
	}
	// numbered splits "N quoted-string".
	numbered := func(l string) (int64, string, error) {
		a, b, ok := strings.Cut(l, " ")
		if !ok {
			return 0, "", fmt.Errorf("index: bad line %q", l)
		}
		v, err := strconv.ParseInt(a, 10, 64)
		if err != nil {
			return 0, "", fmt.Errorf("index: bad line %q", l)
		}
		s, err := strconv.Unquote(b)
		if err != nil {
			return 0, "", fmt.Errorf("index: bad line %q", l)
		}
		return v, s, nil
	}
	if l, err := line(); err != nil || l != indexMagic {
		return nil, fmt.Errorf("index: not a %q file", indexMagic)
	}
	x := &folderIndex{root: root}
	n, err := count("classes")
	if err != nil {
		return nil, err
	}
	for range n {
		l, err := line()
		if err != nil {
			return nil, err
		}
		c, err := strconv.Unquote(l)
		if err != nil {
			return nil, fmt.Errorf("index: bad class line %q", l)
		}
		x.classes = append(x.classes, c)
	}
	if n, err = count("dirs"); err != nil {
		return nil, err
	}
	for range n {
		l, err := line()
		if err != nil {
			return nil, err
		}
		t, rel, err := numbered(l)
		if err != nil {
			return nil, err
		}
		if err := checkRel(rel); err != nil {
			return nil, fmt.Errorf("index: folder %q: %v", rel, err)
		}
		x.dirs = append(x.dirs, dirStamp{rel: rel, mtime: t})
	}
	dirs := make(map[string]bool, len(x.dirs))
	for _, d := range x.dirs {
		dirs[d.rel] = true
	}
	if n, err = count("files"); err != nil {
		return nil, err
	}
	var names strings.Builder
	x.offs = append(make([]uint32, 0, n+1), 0)
	x.labels = make([]int, 0, n)
	for range n {
		l, err := line()
		if err != nil {
			return nil, err
		}
		lab, rel, err := numbered(l)
		if err != nil {
			return nil, err
		}
		if lab < 0 || int(lab) >= len(x.classes) {
			return nil, fmt.Errorf("index: label %d outside [0,%d)", lab, len(x.classes))
		}
		if err := checkEntry(rel, x.classes[lab], dirs); err != nil {
			return nil, err
		}
		names.WriteString(rel)
		if names.Len() > 1<<32-1 {
			return nil, errors.New("index: names too long")
		}
		x.offs = append(x.offs, uint32(names.Len()))
		x.labels = append(x.labels, int(lab))
	}
	x.names = names.String()
	if x.mean, x.std, err = parseIndexTail(line); err != nil {
		return nil, err
	}
	return x, nil
}
