#!/usr/bin/python3
"""Check the README's PyTorch snippet against siam (run from the repository root).

    /usr/bin/python3 scripts/check_torch_snippet.py [--siam PATH] [--keep DIR]

Makes a small random IDX dataset, trains two width-64 ResNet-18 runs for two steps
(CIFAR stem and ImageNet stem, so batch-norm statistics are not trivial), exports
the features of the validation split with `siam embed`, then runs the snippet
between the <!-- torch-snippet --> markers of README.md verbatim (only the
checkpoint path is replaced) on the same images and checks its features equal
siam's to 1e-4 (relative to the largest feature). Exits non-zero on a mismatch.

Needs torch (Debian: python3-torch). If torchvision is not importable, a
stand-in with torchvision's ResNet-18 module tree and forward (conv1, bn1, relu,
maxpool, layer1..4 of BasicBlocks with downsample.0/1, avgpool, fc) is put in its
place and the script says so: that checks the names, the stem, the normalisation
and the metadata, but not torchvision itself.
"""
import argparse
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import types

import numpy as np
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def stand_in_torchvision():
    """A module tree like torchvision.models.resnet18 (BasicBlock, width 64)."""
    nn = torch.nn

    class BasicBlock(nn.Module):
        def __init__(self, inplanes, planes, stride=1, downsample=None):
            super().__init__()
            self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(planes)
            self.relu = nn.ReLU(inplace=True)
            self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(planes)
            self.downsample = downsample

        def forward(self, x):
            idt = x if self.downsample is None else self.downsample(x)
            out = self.relu(self.bn1(self.conv1(x)))
            return self.relu(self.bn2(self.conv2(out)) + idt)

    class ResNet(nn.Module):
        def __init__(self, layers=(2, 2, 2, 2), num_classes=1000):
            super().__init__()
            self.inplanes = 64
            self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
            self.bn1 = nn.BatchNorm2d(64)
            self.relu = nn.ReLU(inplace=True)
            self.maxpool = nn.MaxPool2d(3, 2, 1)
            self.layer1 = self._make(64, layers[0], 1)
            self.layer2 = self._make(128, layers[1], 2)
            self.layer3 = self._make(256, layers[2], 2)
            self.layer4 = self._make(512, layers[3], 2)
            self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
            self.fc = nn.Linear(512, num_classes)

        def _make(self, planes, blocks, stride):
            down = None
            if stride != 1 or self.inplanes != planes:
                down = nn.Sequential(nn.Conv2d(self.inplanes, planes, 1, stride, bias=False), nn.BatchNorm2d(planes))
            layers = [BasicBlock(self.inplanes, planes, stride, down)]
            self.inplanes = planes
            layers += [BasicBlock(planes, planes) for _ in range(1, blocks)]
            return nn.Sequential(*layers)

        def forward(self, x):
            x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
            x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
            return self.fc(torch.flatten(self.avgpool(x), 1))

    tv = types.ModuleType("torchvision")
    tv.models = types.SimpleNamespace(resnet18=lambda: ResNet())
    return tv


def write_idx(path, arr):
    arr = np.ascontiguousarray(arr, dtype=np.uint8)
    with open(path, "wb") as f:
        f.write(struct.pack(">BBBB", 0, 0, 8, arr.ndim))
        f.write(struct.pack(">" + "I" * arr.ndim, *arr.shape))
        f.write(arr.tobytes())


def snippet():
    text = open(os.path.join(ROOT, "README.md")).read()
    m = re.search(r"<!-- torch-snippet -->\s*```python\n(.*?)```\s*<!-- /torch-snippet -->", text, re.S)
    if not m:
        sys.exit("README.md: no torch snippet between the markers")
    return m.group(1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--siam", help="siam binary (default: go build ./cmd/siam into the temporary folder)")
    ap.add_argument("--keep", help="work in this folder and keep it")
    a = ap.parse_args()
    try:
        import torchvision  # noqa: F401
        which = "torchvision " + torchvision.__version__
    except ImportError:
        sys.modules["torchvision"] = stand_in_torchvision()
        which = "a stand-in for torchvision's ResNet-18 (torchvision is not installed)"
    tmp = a.keep or tempfile.mkdtemp(prefix="siam-torch-")
    os.makedirs(tmp, exist_ok=True)
    siam = a.siam or os.path.join(tmp, "siam")
    if not a.siam:
        subprocess.run(["go", "build", "-o", siam, "./cmd/siam"], cwd=ROOT, check=True)
    rng = np.random.default_rng(7)
    data = os.path.join(tmp, "data")
    os.makedirs(data, exist_ok=True)
    # Smooth random images (so features are not noise) with a class-dependent offset.
    imgs = {}
    for split, n in (("train", 48), ("t10k", 24)):
        base = rng.normal(size=(n, 7, 7))
        big = np.kron(base, np.ones((4, 4))) * 60 + 128
        lab = rng.integers(0, 3, n)
        big += lab[:, None, None] * 20
        imgs[split] = np.clip(big, 0, 255).astype(np.uint8)
        write_idx(os.path.join(data, split + "-images-idx3-ubyte"), imgs[split])
        write_idx(os.path.join(data, split + "-labels-idx1-ubyte"), lab)
    code = snippet()
    worst = 0.0
    for stem in ("cifar", "imagenet"):
        run = os.path.join(tmp, "run-" + stem)
        if os.path.exists(run):
            subprocess.run(["rm", "-rf", run], check=True)
        subprocess.run([siam, "train", "--out", run, "--data", data, "--width", "64", "--stem", stem,
                        "--steps", "2", "--batch", "8", "--workers", "1", "--log-every", "1"], check=True)
        feats_path = os.path.join(tmp, "feats-" + stem + ".npy")
        subprocess.run([siam, "embed", "--checkpoint", run, "--split", "test", "--out", feats_path], check=True)
        want = np.load(feats_path)
        images = torch.from_numpy(imgs["t10k"][:, None, :, :].copy())
        env = {"images": images}
        exec(code.replace("runs/exp/checkpoint.safetensors", os.path.join(run, "checkpoint.safetensors")), env)
        got = env["feats"].numpy()
        if got.shape != want.shape:
            sys.exit(f"{stem}: snippet features {got.shape}, siam {want.shape}")
        err = float(np.abs(got - want).max() / np.abs(want).max())
        worst = max(worst, err)
        print(f"{stem} stem: {got.shape[0]} x {got.shape[1]} features, max |torch - siam| / max |siam| = {err:.2e}")
        if not err < 1e-4:
            sys.exit(f"{stem}: the README snippet's features differ from siam embed's")
    print(f"OK: the README snippet reproduces siam's features (with {which}); worst relative error {worst:.2e}")
    if not a.keep:
        shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
