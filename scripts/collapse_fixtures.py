#!/usr/bin/env python3
"""Generate numpy reference fixtures for the Go package collapse.

Writes collapse/testdata/numpy_fixtures.json: a few small random matrices with
decaying spectra, and for each the singular values of the column-centred matrix
(numpy.linalg.svd), the cumulative explained variance (Eq. 1, sigma not sigma^2),
AUC (Eq. 2), RankMe (q = sigma/sum(sigma) + 1e-7) and the per-dimension std
(ddof=1, as torch.std) of the L2-normalised rows.

Run from the repository root with a Python that has numpy, e.g.
    /usr/bin/python3 scripts/collapse_fixtures.py
The output is committed; the Go tests read it and do not need Python.
"""
import json
import os

import numpy as np


def metrics(x, normalize_rows):
    x = np.asarray(x, dtype=np.float64)
    norms = np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    z = x / norms
    if normalize_rows:  # reference order: normalise rows, then centre columns
        x = z
    xc = x - x.mean(axis=0, keepdims=True)
    s = np.linalg.svd(xc, compute_uv=False)
    s = np.concatenate([s, np.zeros(x.shape[1] - s.shape[0])])  # N < d: pad zeros
    ev = np.cumsum(s) / np.sum(s)
    q = s / np.sum(s) + 1e-7
    return {
        "singular_values": s.tolist(),
        "explained": ev.tolist(),
        "auc": float(ev.mean()),
        "rankme": float(np.exp(-np.sum(q * np.log(q)))),
        "dim_std": z.std(axis=0, ddof=1).tolist(),
    }


def decaying(rng, n, d, decay, offset):
    g = rng.standard_normal((n, d))
    q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    scales = decay ** np.arange(d)
    x = g * scales @ q.T + offset * rng.standard_normal(d)
    return np.round(x, 5)  # short decimal text; metrics are computed on the rounded values


def main():
    rng = np.random.default_rng(20240501)
    cases = [
        ("decay200x16", decaying(rng, 200, 16, 0.7, 3.0), False),
        ("decay200x16_rownorm", decaying(rng, 200, 16, 0.8, 2.0), True),
        ("fast_decay300x24", decaying(rng, 300, 24, 0.5, 1.0), False),
        ("wide30x40", decaying(rng, 30, 40, 0.9, 0.5), False),
        ("relu300x32", np.maximum(decaying(rng, 300, 32, 0.85, 0.3), 0), False),
    ]
    out = {"generator": "scripts/collapse_fixtures.py (numpy %s)" % np.__version__, "cases": []}
    for name, x, norm in cases:
        n, d = x.shape
        c = {"name": name, "n": n, "d": d, "normalize_rows": norm, "x": x.reshape(-1).tolist()}
        c.update(metrics(x, norm))
        out["cases"].append(c)
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "collapse", "testdata", "numpy_fixtures.json")
    with open(path, "w") as f:
        json.dump(out, f)
        f.write("\n")
    print("wrote", os.path.normpath(path))


if __name__ == "__main__":
    main()
