package data

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// MaxBraceExpansion bounds how many names one pattern may expand to.
const MaxBraceExpansion = 1_000_000

// ExpandBraces expands brace groups the way WebDataset's shard specs (and
// bash) do: "{a,b}" lists alternatives, "{000..146}" is a numeric range,
// zero-padded to the wider endpoint when either endpoint has a leading zero,
// descending when the first endpoint is larger. Groups nest and several
// groups multiply, expanded left to right. A group with neither a comma nor a
// range ("{x}") is kept literally, braces included. Unbalanced braces and
// expansions of more than MaxBraceExpansion names are errors.
func ExpandBraces(pattern string) ([]string, error) {
	p := braceParser{s: pattern}
	out, err := p.seq(false)
	if err != nil {
		return nil, fmt.Errorf("data: pattern %q: %w", pattern, err)
	}
	if p.i != len(p.s) {
		return nil, fmt.Errorf("data: pattern %q: unmatched '}' at byte %d", pattern, p.i)
	}
	return out, nil
}

type braceParser struct {
	s string
	i int
}

var errTooMany = fmt.Errorf("expands to more than %d names", MaxBraceExpansion)

// seq parses literals and groups up to the end, or (inGroup) up to a
// top-level ',' or '}', returning the cartesian product of its parts.
func (p *braceParser) seq(inGroup bool) ([]string, error) {
	out := []string{""}
	for p.i < len(p.s) {
		c := p.s[p.i]
		if inGroup && (c == ',' || c == '}') {
			break
		}
		if c == '}' {
			return nil, fmt.Errorf("unmatched '}' at byte %d", p.i)
		}
		var part []string
		if c == '{' {
			var err error
			if part, err = p.group(); err != nil {
				return nil, err
			}
		} else {
			j := p.i
			for j < len(p.s) && p.s[j] != '{' && p.s[j] != '}' && !(inGroup && p.s[j] == ',') {
				j++
			}
			part = []string{p.s[p.i:j]}
			p.i = j
		}
		if len(out)*len(part) > MaxBraceExpansion {
			return nil, errTooMany
		}
		next := make([]string, 0, len(out)*len(part))
		for _, a := range out {
			for _, b := range part {
				next = append(next, a+b)
			}
		}
		out = next
	}
	return out, nil
}

// group parses "{...}" starting at p.i.
func (p *braceParser) group() ([]string, error) {
	start := p.i
	p.i++ // '{'
	var alts [][]string
	for {
		a, err := p.seq(true)
		if err != nil {
			return nil, err
		}
		alts = append(alts, a)
		if p.i >= len(p.s) {
			return nil, fmt.Errorf("unmatched '{' at byte %d", start)
		}
		if p.s[p.i] == '}' {
			p.i++
			break
		}
		p.i++ // ','
	}
	body := p.s[start+1 : p.i-1]
	if len(alts) == 1 {
		if r, ok, err := braceRange(body); ok || err != nil {
			return r, err
		}
		out := make([]string, len(alts[0]))
		for i, a := range alts[0] {
			out[i] = "{" + a + "}"
		}
		return out, nil
	}
	var out []string
	for _, a := range alts {
		if len(out)+len(a) > MaxBraceExpansion {
			return nil, errTooMany
		}
		out = append(out, a...)
	}
	return out, nil
}

// braceRange expands "N..M" (decimal integers); ok is false for anything else.
func braceRange(body string) (out []string, ok bool, err error) {
	a, b, found := strings.Cut(body, "..")
	if !found || !isInteger(a) || !isInteger(b) {
		return nil, false, nil
	}
	lo, err1 := strconv.ParseInt(a, 10, 64)
	hi, err2 := strconv.ParseInt(b, 10, 64)
	if err1 != nil || err2 != nil {
		return nil, true, fmt.Errorf("range {%s} out of bounds", body)
	}
	n := hi - lo
	step := int64(1)
	if n < 0 {
		n, step = -n, -1
	}
	if n >= MaxBraceExpansion {
		return nil, true, errTooMany
	}
	width := 0
	if padded(a) || padded(b) {
		width = max(len(a), len(b))
	}
	out = make([]string, 0, n+1)
	for v := lo; ; v += step {
		s := strconv.FormatInt(v, 10)
		if width > 0 {
			neg := v < 0
			digits := strings.TrimPrefix(s, "-")
			w := width
			if neg {
				w--
			}
			if len(digits) < w {
				digits = strings.Repeat("0", w-len(digits)) + digits
			}
			if neg {
				digits = "-" + digits
			}
			s = digits
		}
		out = append(out, s)
		if v == hi {
			break
		}
	}
	return out, true, nil
}

func isInteger(s string) bool {
	s = strings.TrimPrefix(s, "-")
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// padded reports whether a range endpoint asks for zero padding ("007").
func padded(s string) bool {
	s = strings.TrimPrefix(s, "-")
	return len(s) > 1 && s[0] == '0'
}

// ResolveShards turns a shard spec into file paths: braces are expanded
// (ExpandBraces), each result is globbed when it has glob characters (* ? [)
// and must otherwise name an existing file. Duplicates are dropped, order is
// kept (each glob's matches sorted). A glob that matches nothing or a missing
// file is an error naming it.
func ResolveShards(spec string) ([]string, error) {
	names, err := ExpandBraces(spec)
	if err != nil {
		return nil, err
	}
	var out []string
	seen := map[string]bool{}
	add := func(p string) {
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	for _, n := range names {
		if strings.ContainsAny(n, "*?[") {
			m, err := filepath.Glob(n)
			if err != nil {
				return nil, fmt.Errorf("data: shard pattern %q: %w", n, err)
			}
			if len(m) == 0 {
				return nil, fmt.Errorf("data: shard pattern %q matches no file", n)
			}
			for _, p := range m {
				add(p)
			}
			continue
		}
		st, err := os.Stat(n)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return nil, fmt.Errorf("data: shard %s: no such file (from %q)", n, spec)
			}
			return nil, fmt.Errorf("data: shard %w", err)
		}
		if st.IsDir() {
			return nil, fmt.Errorf("data: shard %s is a folder, not a tar file", n)
		}
		add(n)
	}
	return out, nil
}

// isShardSpec reports whether a dataset spec names WebDataset shards: a
// pattern (braces or glob characters) or a .tar file.
func isShardSpec(spec string) bool {
	return strings.ContainsAny(spec, "{*?[") || strings.HasSuffix(strings.ToLower(spec), ".tar")
}
