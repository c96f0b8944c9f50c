#!/usr/bin/python3
"""Reference: PyTorch CPU throughput of one training step of SimSiam, BYOL or MoCo v3.

The peer that `siam bench train --method M` is measured against, on the same
machine, in the same run. Needs Debian's PyTorch:  apt-get install -y python3-torch
and runs with the Debian interpreter:
    /usr/bin/python3 bench/torch_methods.py --method byol --width 16

SimSiam (--method simsiam, the default) is bench/torch_simsiam.py's (a copy of
../shared/bench/torch_simsiam.py): its model code (resnet18, simsiam) is imported
from there, and its step, CLI and JSON are the same (plus "method" and "arch" keys).

Models (must match the Go benchmark, train.BenchStep, exactly):
  backbone  ResNet-18, CIFAR stem (3x3 conv stride 1, no max-pool), base width W
            (channels W, 2W, 4W, 8W), BatchNorm + ReLU, global average pool
  simsiam   projector 8W -> 32W -> 32W -> 32W, BN+ReLU after the first two, BN
            (affine=False) last; predictor 32W -> 8W (BN+ReLU) -> 32W;
            loss -(cos(p1, sg(z2)) + cos(p2, sg(z1))) / 2
  byol      projector 8W -> 64W (bias, BN+ReLU) -> 4W, predictor 4W -> 64W -> 4W
            alike; target = EMA copy of backbone + projector, forward without
            gradients in train mode; loss mean(2-2cos(p1, t2)) + mean(2-2cos(p2, t1));
            EMA update after the optimizer step
  mocov3    projector 8W -> 64W (BN+ReLU) -> 4W (BN affine=False), predictor
            4W -> 64W (BN+ReLU) -> 4W (MoCo_ResNet's _build_mlp heads, no bias);
            momentum encoder = EMA copy, updated at the start of the step as the
            reference; loss InfoNCE(q1, k2) + InfoNCE(q2, k1) at T = 1.0, x 2T
  optimizer SGD lr 0.05, momentum 0.9, weight decay 5e-4 on the online networks
  momentum  1 - (1 - 0.99) (cos(pi k / K) + 1) / 2 over K = warmup + steps
At W=64 SimSiam is the standard SimSiam CIFAR ResNet-18 (projector 2048, predictor
512) and BYOL / MoCo v3 have the papers' heads (hidden 4096, output 256).
Prints one JSON line: images per second, where one image is its two views, and
the median process CPU time of a step (comparable between runs on a shared host;
OpenMP's spinning threads count in it).
"""
import argparse, copy, json, math, os, statistics, sys, time

import torch
import torch.nn as nn
import torch.nn.functional as F


sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_simsiam import resnet18, simsiam  # noqa: E402  (the one definition of the benchmarked model)


def byol_mlp(in_dim, hidden, out):
    return nn.Sequential(nn.Linear(in_dim, hidden, bias=True), nn.BatchNorm1d(hidden), nn.ReLU(),
                         nn.Linear(hidden, out, bias=False))


def build_mlp(num_layers, input_dim, mlp_dim, output_dim, last_bn=True):
    mlp = []
    for l in range(num_layers):
        dim1 = input_dim if l == 0 else mlp_dim
        dim2 = output_dim if l == num_layers - 1 else mlp_dim
        mlp.append(nn.Linear(dim1, dim2, bias=False))
        if l < num_layers - 1:
            mlp.append(nn.BatchNorm1d(dim2))
            mlp.append(nn.ReLU(inplace=True))
        elif last_bn:
            mlp.append(nn.BatchNorm1d(dim2, affine=False))
    return nn.Sequential(*mlp)


def byol(width, in_ch):
    d, p, h = 8 * width, 4 * width, 64 * width
    return nn.Sequential(resnet18(width, in_ch), byol_mlp(d, h, p)), byol_mlp(p, h, p)


def mocov3(width, in_ch):
    d, p, h = 8 * width, 4 * width, 64 * width
    return nn.Sequential(resnet18(width, in_ch), build_mlp(2, d, h, p)), build_mlp(2, p, h, p, False)


def contrastive_loss(q, k, T):
    q = F.normalize(q, dim=1)
    k = F.normalize(k, dim=1)
    logits = torch.einsum("nc,mc->nm", [q, k]) / T
    labels = torch.arange(logits.shape[0], dtype=torch.long)
    return F.cross_entropy(logits, labels) * (2 * T)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--method", default="simsiam", choices=["simsiam", "byol", "mocov3"])
    ap.add_argument("--arch", default="resnet18", choices=["resnet18"])
    ap.add_argument("--width", type=int, default=16)
    ap.add_argument("--size", type=int, default=32)
    ap.add_argument("--channels", type=int, default=3)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    encoder, predictor = {"simsiam": simsiam, "byol": byol, "mocov3": mocov3}[a.method](a.width, a.channels)
    target = None
    if a.method != "simsiam":
        target = copy.deepcopy(encoder)
        for p in target.parameters():
            p.requires_grad = False
    params = list(encoder.parameters()) + list(predictor.parameters())
    opt = torch.optim.SGD(params, lr=0.05, momentum=0.9, weight_decay=5e-4)
    x1 = torch.randn(a.batch, a.channels, a.size, a.size)
    x2 = torch.randn(a.batch, a.channels, a.size, a.size)
    total, done = a.warmup + a.steps, [0]

    @torch.no_grad()
    def ema(k):
        m = 1 - (1 - 0.99) * (math.cos(math.pi * min(k, total) / total) + 1) / 2
        for pt, po in zip(target.parameters(), encoder.parameters()):
            pt.mul_(m).add_(po, alpha=1 - m)

    def step():
        if a.method == "simsiam":
            z1, z2 = encoder(x1), encoder(x2)
            p1, p2 = predictor(z1), predictor(z2)
            loss = -(F.cosine_similarity(p1, z2.detach()).mean() + F.cosine_similarity(p2, z1.detach()).mean()) / 2
        elif a.method == "byol":
            p1, p2 = predictor(encoder(x1)), predictor(encoder(x2))
            with torch.no_grad():
                t1, t2 = target(x1), target(x2)
            loss = (2 - 2 * F.cosine_similarity(p1, t2).mean()) + (2 - 2 * F.cosine_similarity(p2, t1).mean())
        else:
            q1, q2 = predictor(encoder(x1)), predictor(encoder(x2))
            with torch.no_grad():
                ema(done[0])  # MoCo v3 updates the momentum encoder at the start of the step
                k1, k2 = target(x1), target(x2)
            loss = contrastive_loss(q1, k2, 1.0) + contrastive_loss(q2, k1, 1.0)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if a.method == "byol":
            ema(done[0])  # BYOL updates the target after the optimizer step
        done[0] += 1
        return loss.item()

    for _ in range(a.warmup):
        step()
    times, cpu = [], []
    for _ in range(a.steps):
        t, c = time.perf_counter(), time.process_time()
        step()
        times.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    med = statistics.median(times)
    print(json.dumps({"peer": "pytorch", "version": torch.__version__, "method": a.method, "arch": a.arch,
                      "width": a.width, "size": a.size, "channels": a.channels, "batch": a.batch,
                      "threads": a.threads, "step_s_median": round(med, 4),
                      "step_cpu_s_median": round(statistics.median(cpu), 4), "images_per_s": round(a.batch / med, 1)}))


if __name__ == "__main__":
    main()
