package eval

import (
	"encoding/binary"
	"errors"
	"math"
	"slices"
	"testing"
)

// FuzzKNN runs KNN on arbitrary matrices and labels (float32 bit patterns: NaN,
// Inf, subnormal and huge values included; labels from single bytes or wide
// values) and options. It must never panic; it either fails with ErrKNN, leaving
// the inputs as they were, or returns accuracies in [0, 1] with consistent k
// bookkeeping, and the same result with and without InPlace.
func FuzzKNN(f *testing.F) {
	f32 := func(vs ...float32) []byte {
		b := make([]byte, 4*len(vs))
		for i, v := range vs {
			binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
		}
		return b
	}
	f.Add(uint8(2), uint8(3), uint8(2), uint16(0), []byte{0, 1, 1, 0}, f32(1, 0, 0, 1, 1, 1, 0.5, 0.5, -1, 0))
	f.Add(uint8(1), uint8(2), uint8(1), uint16(5), []byte{0, 200, 7}, f32(1e-45, 3e38, -2, 0))
	f.Add(uint8(3), uint8(1), uint8(9), uint16(1), []byte{255, 0}, f32(float32(math.NaN()), 1, 2, 3, 4, 5))
	f.Add(uint8(2), uint8(4), uint8(0), uint16(0), []byte{1, 2, 3, 4, 5, 6}, f32(0, 0, 1e-40, 1e-41, 7, 8, 9, 1, 2, 3, 4, 5))
	f.Fuzz(func(t *testing.T, dim, nk, maxK uint8, opt uint16, labels, b []byte) {
		d := int(dim%8) + 1
		x := make([]float32, len(b)/4)
		for i := range x {
			x[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		}
		rows := len(x) / d
		k := min(int(nk), rows)
		keys, queries := x[:k*d], x[k*d:rows*d]
		label := func(i int) int {
			if len(labels) == 0 {
				return 0
			}
			l := int(labels[i%len(labels)])
			if opt&0x100 != 0 && l > 250 { // wide and negative labels now and then
				return []int{-1, MaxClasses, MaxClasses - 1, math.MaxInt, math.MinInt}[l-251]
			}
			return l % 7
		}
		kl, ql := make([]int, k), make([]int, rows-k)
		for i := range kl {
			kl[i] = label(i)
		}
		for i := range ql {
			ql[i] = label(k + i)
		}
		opts := KNNOptions{MaxK: int(maxK % 16), WeightedK: int(opt % 7), Chunk: int(opt>>4) % 5,
			NumClasses:  []int{0, 0, 7, 3, MaxClasses + 1, -1}[int(opt>>8)%6],
			Temperature: []float64{0, 0.05, 1, -1, math.NaN(), math.Inf(1), 1e-300}[int(opt>>11)%7]}
		k0, q0 := slices.Clone(keys), slices.Clone(queries)
		res, err := KNN(keys, kl, queries, ql, d, opts)
		same := func(a, b []float32) bool {
			for i := range a {
				if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
					return false
				}
			}
			return true
		}
		if !same(keys, k0) || !same(queries, q0) {
			t.Fatal("KNN without InPlace changed its inputs")
		}
		in, inErr := KNN(keys, kl, queries, ql, d, KNNOptions{MaxK: opts.MaxK, WeightedK: opts.WeightedK,
			Chunk: opts.Chunk, NumClasses: opts.NumClasses, Temperature: opts.Temperature, InPlace: true})
		if (err == nil) != (inErr == nil) {
			t.Fatalf("InPlace changes the outcome: %v vs %v", err, inErr)
		}
		if err != nil {
			if !errors.Is(err, ErrKNN) {
				t.Fatalf("error without ErrKNN: %v", err)
			}
			if !same(keys, k0) || !same(queries, q0) {
				t.Fatal("a failed InPlace call changed its inputs")
			}
			return
		}
		if res.NumKeys != k || res.NumQueries != rows-k || res.Dim != d || res.NumClasses < 1 || res.NumClasses > MaxClasses {
			t.Fatalf("bookkeeping: %+v", res)
		}
		if len(res.Accuracy) < 1 || len(res.Accuracy) > k || res.BestK < 1 || res.BestK > len(res.Accuracy) ||
			res.BestAccuracy != slices.Max(res.Accuracy) || res.Accuracy[res.BestK-1] != res.BestAccuracy {
			t.Fatalf("k sweep: %+v", res)
		}
		for _, a := range append(slices.Clone(res.Accuracy), res.WeightedAccuracy) {
			if !(a >= 0 && a <= 1) {
				t.Fatalf("accuracy %v outside [0, 1]: %+v", a, res)
			}
		}
		if !slices.Equal(res.Accuracy, in.Accuracy) || res.WeightedAccuracy != in.WeightedAccuracy {
			t.Fatalf("InPlace changes the result: %+v vs %+v", res, in)
		}
	})
}
