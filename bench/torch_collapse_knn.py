#!/usr/bin/python3
"""PyTorch peers of `siam bench collapse` and `siam bench knn`, on the same shapes.

collapse: random 50000 x 512 float32 features; centre + singular values + AUC,
          (a) torch.linalg.svdvals of the centred matrix, (b) float64 covariance
          + torch.linalg.eigvalsh (what siam computes); median of 5 runs.
knn:      10000 random unit queries x 50000 unit keys, dim 512; similarities
          (one matmul per 1024-query chunk) + top-200; median of 3 runs.
Run: GLIBC_TUNABLES=... OPENBLAS_NUM_THREADS=1 /usr/bin/python3 bench/torch_collapse_knn.py
     [--only collapse|knn] [--threads N]   (bench/compare.sh runs each part alone)
"""
import argparse, json, statistics, time
import torch

ap = argparse.ArgumentParser()
ap.add_argument("--only", choices=["collapse", "knn"], help="run one of the two benchmarks")
ap.add_argument("--threads", type=int, default=2)
args = ap.parse_args()
torch.set_num_threads(args.threads)
torch.manual_seed(0)


def med(f, runs):
    ts = []
    for _ in range(runs):
        t = time.perf_counter()
        f()
        ts.append(time.perf_counter() - t)
    return statistics.median(ts)


x = torch.randn(50000, 512)


def auc(s):
    c = torch.cumsum(s, 0) / s.sum()
    return c.mean().item()


def svd_route():
    xc = x - x.mean(0, keepdim=True)
    return auc(torch.linalg.svdvals(xc))


def cov_route():
    xd = x.double()
    xc = xd - xd.mean(0, keepdim=True)
    ev = torch.linalg.eigvalsh(xc.T @ xc).clamp_min(0).sqrt().flip(0)
    return auc(ev)


q = torch.nn.functional.normalize(torch.randn(10000, 512), dim=1)
k = torch.nn.functional.normalize(torch.randn(50000, 512), dim=1)


def knn():
    for i in range(0, q.shape[0], 1024):
        torch.topk(q[i:i + 1024] @ k.T, 200, dim=1)


out = {"peer": "pytorch", "version": torch.__version__, "threads": args.threads}
if args.only != "knn":
    out["collapse_svdvals_s"] = round(med(svd_route, 5), 4)
    out["collapse_cov64_eigvalsh_s"] = round(med(cov_route, 5), 4)
if args.only != "collapse":
    out["knn_s"] = round(med(knn, 3), 3)
print(json.dumps(out))
