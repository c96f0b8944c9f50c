package data

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
)

// maxIDXBytes bounds the payload an IDX header may declare (16 GiB), so a
// corrupt header cannot request an absurd allocation.
const maxIDXBytes = 1 << 34

// IDX is one decoded IDX file: its dimensions and its unsigned-byte payload.
type IDX struct {
	Dims []int  // e.g. [60000 28 28] for images, [60000] for labels
	Data []byte // product(Dims) bytes, row-major
}

// DecodeIDX reads an IDX file of unsigned bytes (type 0x08) from r, which may
// be gzip-compressed (detected by the gzip magic). name labels the errors.
// It checks the magic number, the dimensions and the exact payload length:
// a short file reports how many bytes the header promised.
func DecodeIDX(r io.Reader, name string) (*IDX, error) {
	br := bufio.NewReader(r)
	if head, _ := br.Peek(2); len(head) == 2 && head[0] == 0x1f && head[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("idx: %s: bad gzip stream: %w", name, err)
		}
		defer zr.Close()
		return decodeIDXRaw(zr, name)
	}
	return decodeIDXRaw(br, name)
}

func decodeIDXRaw(r io.Reader, name string) (*IDX, error) {
	var magic [4]byte
	if n, err := io.ReadFull(r, magic[:]); err != nil {
		return nil, fmt.Errorf("idx: %s: truncated: %d of 4 magic bytes: %w", name, n, err)
	}
	if magic[0] != 0 || magic[1] != 0 {
		return nil, fmt.Errorf("idx: %s: bad magic % x: not an IDX file", name, magic)
	}
	if magic[2] != 0x08 {
		return nil, fmt.Errorf("idx: %s: element type 0x%02x, only unsigned bytes (0x08) are supported", name, magic[2])
	}
	nd := int(magic[3])
	if nd == 0 {
		return nil, fmt.Errorf("idx: %s: zero dimensions", name)
	}
	raw := make([]byte, 4*nd)
	if n, err := io.ReadFull(r, raw); err != nil {
		return nil, fmt.Errorf("idx: %s: truncated: header needs %d dimension bytes, file has %d", name, 4*nd, n)
	}
	dims := make([]int, nd)
	need := int64(1)
	for i := range dims {
		v := binary.BigEndian.Uint32(raw[4*i:])
		if v > math.MaxInt32 {
			return nil, fmt.Errorf("idx: %s: dimension %d is %d, too large", name, i, v)
		}
		dims[i] = int(v)
		if v != 0 && need > maxIDXBytes/int64(v) {
			return nil, fmt.Errorf("idx: %s: dimensions %v exceed %d bytes", name, dims[:i+1], int64(maxIDXBytes))
		}
		need *= int64(v)
	}
	var buf bytes.Buffer
	buf.Grow(int(min(need, 1<<26)))
	got, err := buf.ReadFrom(io.LimitReader(r, need+1))
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		return nil, fmt.Errorf("idx: %s: reading payload: %w", name, err)
	}
	if got < need {
		return nil, fmt.Errorf("idx: %s: truncated: dimensions %v need %d payload bytes, file has %d", name, dims, need, got)
	}
	if got > need {
		return nil, fmt.Errorf("idx: %s: trailing data after the %d payload bytes of dimensions %v", name, need, dims)
	}
	return &IDX{Dims: dims, Data: buf.Bytes()}, nil
}

// ReadIDXFile opens and decodes one IDX file, raw or gzip.
func ReadIDXFile(path string) (*IDX, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("idx: %w", err)
	}
	defer f.Close()
	return DecodeIDX(f, path)
}

// IDXDataset pairs an idx3 image file (N, H, W) with an idx1 label file (N)
// into a one-channel Dataset; Classes is max label + 1 (at least classes).
// The names label errors.
func IDXDataset(images, labels *IDX, imagesName, labelsName string, classes int) (*Dataset, error) {
	if len(images.Dims) != 3 {
		return nil, fmt.Errorf("idx: %s: %d dimensions %v, images need 3 (N, H, W)", imagesName, len(images.Dims), images.Dims)
	}
	if len(labels.Dims) != 1 {
		return nil, fmt.Errorf("idx: %s: %d dimensions %v, labels need 1 (N)", labelsName, len(labels.Dims), labels.Dims)
	}
	n, h, w := images.Dims[0], images.Dims[1], images.Dims[2]
	if h == 0 || w == 0 {
		return nil, fmt.Errorf("idx: %s: empty image size %dx%d", imagesName, h, w)
	}
	if labels.Dims[0] != n {
		return nil, fmt.Errorf("idx: %s has %d labels but %s has %d images", labelsName, labels.Dims[0], imagesName, n)
	}
	ds := &Dataset{Name: imagesName, N: n, C: 1, H: h, W: w, Classes: classes, Pixels: images.Data, Labels: make([]int, n)}
	for i, l := range labels.Data {
		ds.Labels[i] = int(l)
		ds.Classes = max(ds.Classes, int(l)+1)
	}
	return ds, nil
}

// LoadIDX reads an image file and a label file (raw or .gz) into a Dataset.
func LoadIDX(imagesPath, labelsPath string) (*Dataset, error) {
	im, err := ReadIDXFile(imagesPath)
	if err != nil {
		return nil, err
	}
	lb, err := ReadIDXFile(labelsPath)
	if err != nil {
		return nil, err
	}
	return IDXDataset(im, lb, imagesPath, labelsPath, 0)
}

// findIDX returns dir/base or dir/base.gz, whichever exists (raw preferred).
func findIDX(dir, base string) (string, error) {
	for _, p := range []string{filepath.Join(dir, base), filepath.Join(dir, base+".gz")} {
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			return p, nil
		}
	}
	return "", fmt.Errorf("idx: %s: no %s or %s.gz", dir, base, base)
}

// hasIDX reports whether dir looks like an MNIST-style IDX directory.
func hasIDX(dir string) bool {
	_, err := findIDX(dir, "train-images-idx3-ubyte")
	return err == nil
}

// LoadIDXDir loads the MNIST file layout from dir: train-images-idx3-ubyte,
// train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte,
// each raw or .gz. Both splits get the same Classes (the larger of the two).
func LoadIDXDir(dir string) (train, test *Dataset, err error) {
	load := func(prefix string) (*Dataset, error) {
		ip, err := findIDX(dir, prefix+"-images-idx3-ubyte")
		if err != nil {
			return nil, err
		}
		lp, err := findIDX(dir, prefix+"-labels-idx1-ubyte")
		if err != nil {
			return nil, err
		}
		return LoadIDX(ip, lp)
	}
	if train, err = load("train"); err != nil {
		return nil, nil, err
	}
	if test, err = load("t10k"); err != nil {
		return nil, nil, err
	}
	if train.H != test.H || train.W != test.W {
		return nil, nil, fmt.Errorf("idx: %s: train images are %dx%d but test images %dx%d", dir, train.H, train.W, test.H, test.W)
	}
	base := filepath.Base(filepath.Clean(dir))
	train.Name, test.Name = base+"/train", base+"/test"
	train.Classes = max(train.Classes, test.Classes)
	test.Classes = train.Classes
	return train, test, nil
}

// EncodeIDX writes dims and data as an IDX file of unsigned bytes to w,
// gzip-compressed (best compression, no timestamp) when gz is set; the
// embedded-dataset generator and the tests use it.
func EncodeIDX(w io.Writer, dims []int, data []byte, gz bool) error {
	if len(dims) == 0 || len(dims) > 255 {
		return fmt.Errorf("idx: encode: %d dimensions", len(dims))
	}
	n := 1
	for _, d := range dims {
		if d < 0 || d > math.MaxInt32 {
			return fmt.Errorf("idx: encode: bad dimension %d", d)
		}
		n *= d
	}
	if n != len(data) {
		return fmt.Errorf("idx: encode: dimensions %v need %d bytes, have %d", dims, n, len(data))
	}
	out := w
	var zw *gzip.Writer
	if gz {
		var err error
		if zw, err = gzip.NewWriterLevel(w, gzip.BestCompression); err != nil {
			return err
		}
		out = zw
	}
	head := make([]byte, 4+4*len(dims))
	head[2], head[3] = 0x08, byte(len(dims))
	for i, d := range dims {
		binary.BigEndian.PutUint32(head[4+4*i:], uint32(d))
	}
	if _, err := out.Write(head); err != nil {
		return err
	}
	if _, err := out.Write(data); err != nil {
		return err
	}
	if zw != nil {
		return zw.Close()
	}
	return nil
}

// WriteIDX writes a one-channel dataset as an IDX image file and an IDX label
// file; paths ending in ".gz" are gzip-compressed.
func WriteIDX(ds *Dataset, imagesPath, labelsPath string) error {
	if ds.C != 1 {
		return fmt.Errorf("idx: %s: IDX images hold one channel, dataset has %d", ds.Name, ds.C)
	}
	lab := make([]byte, ds.N)
	for i, l := range ds.Labels {
		if l < 0 || l > 255 {
			return fmt.Errorf("idx: %s: label %d does not fit a byte", ds.Name, l)
		}
		lab[i] = byte(l)
	}
	write := func(path string, dims []int, data []byte) error {
		var b bytes.Buffer
		if err := EncodeIDX(&b, dims, data, filepath.Ext(path) == ".gz"); err != nil {
			return err
		}
		return os.WriteFile(path, b.Bytes(), 0o644)
	}
	if err := write(imagesPath, []int{ds.N, ds.H, ds.W}, ds.Pixels); err != nil {
		return err
	}
	return write(labelsPath, []int{ds.N}, lab)
}
