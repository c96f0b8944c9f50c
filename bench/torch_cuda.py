#!/usr/bin/env python3
"""PyTorch peer on the GPU: the same models as bench/torch_methods.py (imported from
it, byte for byte), for the goals of issue 8 — the SimSiam step at batch 512 in eager
mode (fp32, tf32, or bf16 autocast with channels_last as PyTorch users run it), the
collapse spectrum of a 50000 x 512 matrix and a 10000 x 50000 x 512 top-200 k-NN.

Runs with the device machine's python3 (PyTorch 2.x + CUDA); --device cpu is a smoke
test anywhere torch exists. Prints one JSON object.

    python3 bench/torch_cuda.py --what step --width 16 --batch 512 --precision bf16
    python3 bench/torch_cuda.py --what collapse
    python3 bench/torch_cuda.py --what knn
"""
import argparse, json, os, statistics, sys, time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_methods import simsiam  # noqa: E402  (the model siam's own benchmark builds)


def timed(fn, sync, warmup, runs):
    for _ in range(warmup):
        fn()
    sync()
    ts = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        sync()
        ts.append(time.perf_counter() - t)
    return statistics.median(ts), min(ts)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--what", choices=["step", "collapse", "knn"], default="step")
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--width", type=int, default=16)
    ap.add_argument("--size", type=int, default=32)
    ap.add_argument("--channels", type=int, default=3)
    ap.add_argument("--batch", type=int, default=512)
    ap.add_argument("--precision", choices=["fp32", "tf32", "bf16"], default="fp32")
    ap.add_argument("--channels-last", action="store_true")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=5)
    a = ap.parse_args()
    dev = torch.device(a.device)
    cuda = dev.type == "cuda"
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    if cuda:
        torch.backends.cuda.matmul.allow_tf32 = a.precision == "tf32"
        torch.backends.cudnn.allow_tf32 = a.precision == "tf32"
        torch.backends.cudnn.benchmark = True
    out = {"peer": "pytorch", "version": torch.__version__, "what": a.what, "device": str(dev),
           "device_name": torch.cuda.get_device_name(dev) if cuda else "cpu", "precision": a.precision}
    torch.manual_seed(0)
    if a.what == "step":
        encoder, predictor = simsiam(a.width, a.channels)
        encoder, predictor = encoder.to(dev), predictor.to(dev)
        fmt = torch.channels_last if a.channels_last else torch.contiguous_format
        encoder = encoder.to(memory_format=fmt)
        params = list(encoder.parameters()) + list(predictor.parameters())
        opt = torch.optim.SGD(params, lr=0.05, momentum=0.9, weight_decay=5e-4)
        x1 = torch.randn(a.batch, a.channels, a.size, a.size, device=dev).to(memory_format=fmt)
        x2 = torch.randn(a.batch, a.channels, a.size, a.size, device=dev).to(memory_format=fmt)

        def step():
            with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=a.precision == "bf16"):
                z1, z2 = encoder(x1), encoder(x2)
                p1, p2 = predictor(z1), predictor(z2)
                loss = -(F.cosine_similarity(p1.float(), z2.detach().float()).mean()
                         + F.cosine_similarity(p2.float(), z1.detach().float()).mean()) / 2
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

        med, best = timed(step, sync, a.warmup, a.steps)
        out.update(width=a.width, size=a.size, batch=a.batch, channels_last=a.channels_last,
                   step_s_median=round(med, 5), images_per_s=round(a.batch / med, 1))
    elif a.what == "collapse":
        x = torch.randn(50000, 512, device=dev)
        x[:, 256:] *= 1e-3  # a partly collapsed spectrum

        def spectrum():
            c = x - x.mean(0, keepdim=True)
            s = torch.linalg.svdvals(c.double() if not cuda else c)
            e = torch.cumsum(s, 0) / s.sum()
            return e.mean().item()

        med, best = timed(spectrum, sync, 2, 5)
        out.update(n=50000, d=512, seconds_median=round(med, 5), seconds_best=round(best, 5))
    else:
        keys = F.normalize(torch.randn(50000, 512, device=dev), dim=1)
        q = F.normalize(torch.randn(10000, 512, device=dev), dim=1)

        def knn():
            return torch.topk(q @ keys.T, 200, dim=1)

        med, best = timed(knn, sync, 2, 5)
        out.update(queries=10000, keys=50000, dim=512, k=200, seconds_median=round(med, 5), seconds_best=round(best, 5))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
