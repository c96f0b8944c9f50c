package pretrained

import (
	"fmt"
	"slices"
	"strings"
)

// Key mapping: where in a weights file the backbone lives.
//
// A ResNet's tensors carry torchvision's names (conv1.weight, bn1.*,
// layerS.B.convI.weight, ...) below some prefix that depends on who saved it:
//
//	plain torchvision state dict        ""
//	official SimSiam release            "state_dict.module.encoder."
//	MoCo v3 release                     "state_dict.module.base_encoder." (and module.momentum_encoder.)
//	MoCo v1/v2 release                  "state_dict.module.encoder_q." (and encoder_k.)
//	siam's own checkpoint               "backbone."
//
// A candidate root is any prefix p with both p+"conv1.weight" and
// p+"layer1.0.conv1.weight". Roots inside a momentum, target or key encoder
// (what MoCo, BYOL and friends keep beside the online network) are used only
// when nothing else is there, because the releases evaluate the online (base,
// query) encoder. Two or more remaining roots are ambiguous: the user picks
// one with --prefix.

// stemKey and firstBlockKey are the two names that mark a ResNet's root.
const (
	stemKey       = "conv1.weight"
	firstBlockKey = "layer1.0.conv1.weight"
)

// headNames are first components of names below the root that are not part of
// the backbone (classifier, projector, predictor) and are ignored.
var headNames = []string{"fc", "head", "heads", "classifier", "projector", "predictor",
	"projection_head", "prediction_head"}

// isHead reports whether rel (a name relative to the root) belongs to a head.
func isHead(rel string) bool {
	first, _, _ := strings.Cut(rel, ".")
	return slices.Contains(headNames, first)
}

// secondary reports whether a root lies inside a network that the releases do
// not evaluate (momentum/target/key encoders, optimizer momentum buffers).
func secondary(root string) bool {
	for _, part := range strings.Split(strings.TrimSuffix(root, "."), ".") {
		p := strings.ToLower(part)
		if strings.Contains(p, "momentum") || strings.Contains(p, "target") || p == "encoder_k" ||
			p == "key_encoder" || p == "ema" || strings.HasPrefix(p, "ema_") {
			return true
		}
	}
	return false
}

// roots lists the candidate ResNet roots of w, in file order.
func roots(w *Weights) []string {
	var out []string
	for _, n := range w.Names {
		p, ok := strings.CutSuffix(n, stemKey)
		if !ok || (p != "" && !strings.HasSuffix(p, ".")) {
			continue
		}
		if _, ok := w.Tensors[p+firstBlockKey]; ok && len(w.Tensors[n].Shape) == 4 {
			out = append(out, p)
		}
	}
	return out
}

// quoteRoots formats roots for messages ("" is shown as the file's root).
func quoteRoots(rs []string) string {
	q := make([]string, len(rs))
	for i, r := range rs {
		if r == "" {
			q[i] = `"" (the top level)`
		} else {
			q[i] = fmt.Sprintf("%q", r)
		}
	}
	return strings.Join(q, ", ")
}

// findRoot picks the backbone's root in w: the explicit prefix when set (as
// written, or as a sub-tree at any depth, e.g. "module.encoder." inside
// "state_dict."), otherwise the single primary candidate root.
func findRoot(w *Weights, prefix string, prefixSet bool) (string, error) {
	rs := roots(w)
	if prefixSet {
		if prefix != "" && !strings.HasSuffix(prefix, ".") {
			prefix += "."
		}
		if prefix == "" {
			return "", nil
		}
		for _, n := range w.Names {
			if strings.HasPrefix(n, prefix) {
				return prefix, nil
			}
		}
		// A sub-tree named below a wrapper ("state_dict.", "model.").
		var found []string
		for _, n := range w.Names {
			if i := strings.Index(n, "."+prefix); i >= 0 {
				p := n[:i+1+len(prefix)]
				if !slices.Contains(found, p) {
					found = append(found, p)
				}
			}
		}
		switch len(found) {
		case 1:
			return found[0], nil
		case 0:
			hint := "the file holds no ResNet backbone"
			if len(rs) > 0 {
				hint = "backbones found at " + quoteRoots(rs)
			}
			return "", fmt.Errorf("--prefix %q: no tensor name starts with it (%s)", prefix, hint)
		}
		return "", fmt.Errorf("--prefix %q matches several sub-trees: %s; give the full prefix", prefix, quoteRoots(found))
	}
	var primary, other []string
	for _, r := range rs {
		if secondary(r) {
			other = append(other, r)
		} else {
			primary = append(primary, r)
		}
	}
	if len(primary) == 0 {
		primary = other
	}
	switch len(primary) {
	case 1:
		return primary[0], nil
	case 0:
		return "", fmt.Errorf("no ResNet backbone found (no name ending in %s next to %s); first names: %s",
			stemKey, firstBlockKey, firstNames(w.Names, 5))
	}
	return "", fmt.Errorf("several backbones in the file: %s; choose one with --prefix", quoteRoots(primary))
}

// firstNames lists up to n names for messages.
func firstNames(names []string, n int) string {
	if len(names) == 0 {
		return "(no float tensors)"
	}
	s := strings.Join(names[:min(n, len(names))], ", ")
	if len(names) > n {
		s += fmt.Sprintf(", ... (%d in all)", len(names))
	}
	return s
}
