// Package matrixio loads a 2-D numeric matrix (rows = samples, columns =
// features) from .npy, .safetensors, .csv or .tsv files, so analyses such as the
// collapse metric can run on embeddings produced by any tool. Every loader returns
// row-major float64 data and rejects NaN and ±Inf with the offending position.
package matrixio

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/siam-ssl/siam/npy"
	"github.com/siam-ssl/siam/safetensors"
)

// Options tunes Load.
type Options struct {
	// TensorName selects the tensor of a .safetensors file. It may be empty when
	// the file holds exactly one tensor.
	TensorName string
}

// Load reads the matrix stored at path, choosing the format by extension
// (case-insensitive): .npy, .safetensors, .csv (comma) or .tsv (tab). The array
// must be 2-D with at least one row and one column; data is row-major. Checking
// a minimum row count is left to the caller. Errors name the path.
func Load(path string, opts Options) (rows, cols int, data []float64, err error) {
	rows, cols, data, err = load(path, opts)
	var pe *fs.PathError
	switch {
	case errors.As(err, &pe): // already names the path
		return 0, 0, nil, err
	case err != nil:
		return 0, 0, nil, fmt.Errorf("%s: %w", path, err)
	}
	return rows, cols, data, nil
}

func load(path string, opts Options) (rows, cols int, data []float64, err error) {
	switch ext := strings.ToLower(filepath.Ext(path)); ext {
	case ".npy":
		data, err := os.ReadFile(path)
		if err != nil {
			return 0, 0, nil, fmt.Errorf("matrixio: %w", err)
		}
		a, err := npy.ReadBytes(data)
		if err != nil {
			return 0, 0, nil, err
		}
		return FromNPY(a)
	case ".safetensors":
		data, err := os.ReadFile(path)
		if err != nil {
			return 0, 0, nil, fmt.Errorf("matrixio: %w", err)
		}
		f, err := safetensors.Read(data)
		if err != nil {
			return 0, 0, nil, err
		}
		return FromSafetensors(f, opts.TensorName)
	case ".csv", ".tsv":
		fh, err := os.Open(path)
		if err != nil {
			return 0, 0, nil, fmt.Errorf("matrixio: %w", err)
		}
		defer fh.Close()
		sep := ','
		if ext == ".tsv" {
			sep = '\t'
		}
		return ReadCSV(fh, sep)
	default:
		return 0, 0, nil, fmt.Errorf("matrixio: unknown extension %q (want .npy, .safetensors, .csv or .tsv)", ext)
	}
}

// FromNPY converts a decoded .npy array to a row-major float64 matrix, checking it
// is 2-D, non-empty and finite.
func FromNPY(a *npy.Array) (rows, cols int, data []float64, err error) {
	if err := check2D(a.Shape, "array"); err != nil {
		return 0, 0, nil, err
	}
	rows, cols = a.Shape[0], a.Shape[1]
	data = a.Float64()
	if err := checkFinite(data, cols); err != nil {
		return 0, 0, nil, fmt.Errorf("matrixio: %w", err)
	}
	return rows, cols, data, nil
}

// FromSafetensors extracts the named 2-D tensor (or the only tensor, when name is
// empty and the file has exactly one) as a row-major float64 matrix. F64 data is
// converted exactly; F16/BF16/F32 and integers are widened.
func FromSafetensors(f *safetensors.File, name string) (rows, cols int, data []float64, err error) {
	if name == "" {
		names := f.Names()
		if len(names) != 1 {
			return 0, 0, nil, fmt.Errorf("matrixio: file has %d tensors %s; name the one to load", len(names), listNames(names))
		}
		name = names[0]
	}
	t, err := f.Get(name)
	if err != nil {
		return 0, 0, nil, fmt.Errorf("matrixio: %w", err)
	}
	if err := check2D(t.Shape, fmt.Sprintf("tensor %q", name)); err != nil {
		return 0, 0, nil, err
	}
	rows, cols = t.Shape[0], t.Shape[1]
	if data, err = t.Float64(); err != nil {
		return 0, 0, nil, fmt.Errorf("matrixio: %w", err)
	}
	if err := checkFinite(data, cols); err != nil {
		return 0, 0, nil, fmt.Errorf("matrixio: tensor %q: %w", name, err)
	}
	return rows, cols, data, nil
}

func listNames(names []string) string {
	if len(names) > 8 {
		return fmt.Sprintf("(%s, ...)", strings.Join(names[:8], ", "))
	}
	return fmt.Sprintf("(%s)", strings.Join(names, ", "))
}

func check2D(shape []int, what string) error {
	if len(shape) != 2 {
		return fmt.Errorf("matrixio: %s has %d dimensions (shape %v), want 2 (rows = samples, columns = features)", what, len(shape), shape)
	}
	if shape[0] == 0 || shape[1] == 0 {
		return fmt.Errorf("matrixio: %s is empty (shape %v)", what, shape)
	}
	return nil
}

// checkFinite rejects NaN and ±Inf, reporting a 0-based row and column.
func checkFinite(data []float64, cols int) error {
	if cols <= 0 {
		return nil
	}
	for i, v := range data {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nonFinite{v, i / cols, i % cols}
		}
	}
	return nil
}

// nonFinite is the error for a NaN or infinite entry (0-based position).
type nonFinite struct {
	v        float64
	row, col int
}

// Error names the value and its 0-based position.
func (e nonFinite) Error() string {
	return fmt.Sprintf("value %v at row %d, column %d (0-based) is not finite", e.v, e.row, e.col)
}

// ReadCSV reads a delimited numeric matrix (sep ',' for CSV, '\t' for TSV). The
// first row is a header, and skipped, when any of its fields is not a number.
// Blank lines are ignored, fields may be surrounded by spaces, every row must
// have the same number of fields, and NaN/Inf or non-numeric values are errors
// that give the 1-based line and column.
func ReadCSV(r io.Reader, sep rune) (rows, cols int, data []float64, err error) {
	cr := csv.NewReader(r)
	cr.Comma = sep
	cr.FieldsPerRecord = 0 // the first record fixes the column count
	cr.ReuseRecord = true
	first := true
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) && errors.Is(pe.Err, csv.ErrFieldCount) {
				return 0, 0, nil, fmt.Errorf("matrixio: line %d has %d fields, expected %d", pe.Line, len(rec), cols)
			}
			return 0, 0, nil, fmt.Errorf("matrixio: %w", err)
		}
		if first {
			first = false
			cols = len(rec)
			if len(rec) > 0 {
				rec[0] = strings.TrimPrefix(rec[0], "\ufeff") // byte-order mark
			}
			if isHeader(rec) {
				continue
			}
		}
		line, _ := cr.FieldPos(0)
		for j, field := range rec {
			v, err := strconv.ParseFloat(strings.TrimSpace(field), 64)
			if err != nil {
				if errors.Is(err, strconv.ErrRange) {
					return 0, 0, nil, fmt.Errorf("matrixio: line %d, column %d: %q overflows float64", line, j+1, field)
				}
				return 0, 0, nil, fmt.Errorf("matrixio: line %d, column %d: %q is not a number", line, j+1, trunc(field))
			}
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return 0, 0, nil, fmt.Errorf("matrixio: line %d, column %d: value %q is not finite", line, j+1, field)
			}
			data = append(data, v)
		}
		rows++
	}
	if rows == 0 || cols == 0 {
		return 0, 0, nil, errors.New("matrixio: no data rows")
	}
	return rows, cols, data, nil
}

// isHeader reports whether a first row is a header: some field is not a number
// (NaN/Inf spellings count as numbers, so a data row holding them is reported).
func isHeader(rec []string) bool {
	for _, f := range rec {
		if _, err := strconv.ParseFloat(strings.TrimSpace(f), 64); err != nil && !errors.Is(err, strconv.ErrRange) {
			return true
		}
	}
	return false
}

func trunc(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}
