#!/usr/bin/python3
"""PyTorch peer of `siam bench embed`: evaluation-mode forward throughput of the backbone.

The backbone is the ResNet-18 (CIFAR stem, base width W) of bench/torch_simsiam.py,
the SimSiam training-step peer, copied here so this script stands alone; it must
stay identical to it. It runs as feature extraction
for k-NN, collapse and the linear probe runs: model.eval() (batch norm with running
statistics, set to random non-trivial values as the Go benchmark does) under
torch.no_grad(), on random input. Prints one JSON line with images per second
(median batch).

Run as bench/compare.sh does:
  GLIBC_TUNABLES=glibc.malloc.trim_threshold=17179869184:glibc.malloc.mmap_max=0 \
  OPENBLAS_NUM_THREADS=1 /usr/bin/python3 bench/torch_embed.py --width 16
"""
import argparse, json, os, statistics, sys, time

import torch
import torch.nn as nn
import torch.nn.functional as F


sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_simsiam import resnet18  # noqa: E402  (the one definition of the benchmarked model)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--width", type=int, default=16)
    ap.add_argument("--size", type=int, default=32)
    ap.add_argument("--channels", type=int, default=3)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--batches", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--channels-last", action="store_true",
                    help="run in channels-last memory format (faster for the peer at small widths)")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    model = resnet18(a.width, a.channels)
    g = torch.Generator().manual_seed(3)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            c = m.num_features
            m.running_mean.copy_(0.1 * torch.randn(c, generator=g))
            m.running_var.copy_(0.5 + torch.rand(c, generator=g))
            with torch.no_grad():
                m.weight.copy_(0.8 + 0.4 * torch.rand(c, generator=g))
                m.bias.copy_(0.1 * torch.randn(c, generator=g))
    model.eval()
    x = torch.randn(a.batch, a.channels, a.size, a.size)
    if a.channels_last:
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    times = []
    with torch.no_grad():
        for i in range(a.warmup + a.batches):
            t = time.perf_counter()
            f = model(x)
            dt = time.perf_counter() - t
            if i >= a.warmup:
                times.append(dt)
    med = statistics.median(times)
    print(json.dumps({"bench": "embed", "peer": "pytorch", "version": torch.__version__, "width": a.width,
                      "size": a.size, "channels": a.channels, "batch": a.batch, "threads": a.threads,
                      "channels_last": a.channels_last, "feature_dim": f.shape[1],
                      "batch_s_median": round(med, 5), "batch_s_min": round(min(times), 5),
                      "batch_s_max": round(max(times), 5), "images_per_s": round(a.batch / med, 1)}))


if __name__ == "__main__":
    main()
