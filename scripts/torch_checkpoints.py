#!/usr/bin/python3
"""Write tiny PyTorch checkpoints in the layouts people publish, for package torchpt
and package pretrained (reading them in Go, without Python).

Run from the repository root with Debian's interpreter (plain python3 has no torch):

    /usr/bin/python3 scripts/torch_checkpoints.py

Writes testdata/torchpt/:
  simsiam_r50_w2.pth.tar     official SimSiam release layout: {'epoch', 'arch',
                             'state_dict': DDP model with module.encoder.* (fc = projector)
                             and module.predictor.*, 'optimizer': SGD state with momentum}
  mocov3_r18_w2.pth.tar      MoCo v3 layout: module.base_encoder.*, module.momentum_encoder.*
                             (different weights), module.predictor.*, 'optimizer', 'scaler'
  torchvision_r18_w4.pth     a plain torchvision resnet18 state dict (fc included)
  half_r18_w4_cifar.pt       the same kind of state dict in float16 (CIFAR stem)
  bf16_r18_w4_cifar.pt       ... in bfloat16
  f64_r18_w2_cifar.pth       ... in float64
  strided_r18_w2.pth         non-contiguous tensors: permuted conv weights, a transposed fc
                             weight, BN weight and bias as views at offsets of one shared
                             storage, running_var expanded from one element (stride 0)
  siam_r18_w2_cifar.safetensors  siam's own names (backbone.*, projector.*) in safetensors
  features.safetensors       images (in [0,1]), the mean/std used, and for every model above
                             the features PyTorch computes in eval mode under no_grad
  evil_*.pth                 checkpoints whose pickle names os.system, builtins.eval, ...;
                             a reader must refuse them without running anything

The models are built here with torchvision's parameter names (torchvision itself is not
installed). Every BN layer gets random affine parameters and running statistics so that
eval-mode features exercise them. Output is deterministic for a given PyTorch version.
"""
import collections
import io
import json
import os
import pickle
import struct
import zipfile

import torch
import torch.nn as nn

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "testdata", "torchpt")

IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]


# ----------------------------------------------------------------------- torchvision names

def conv(i, o, k, s=1, p=0):
    return nn.Conv2d(i, o, k, stride=s, padding=p, bias=False)


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, inp, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = conv(inp, planes, 3, stride, 1)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv(planes, planes, 3, 1, 1)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample

    def forward(self, x):
        idt = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + idt)


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, inp, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = conv(inp, planes, 1)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = conv(planes, planes, 3, stride, 1)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = conv(planes, planes * 4, 1)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x):
        idt = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + idt)


class ResNet(nn.Module):
    """torchvision.models.ResNet with a base width and an optional CIFAR stem
    (3x3 stride-1 conv, no max-pool)."""

    def __init__(self, block, layers, width=64, num_classes=1000, cifar=False):
        super().__init__()
        self.inplanes = width
        if cifar:
            self.conv1 = conv(3, width, 3, 1, 1)
        else:
            self.conv1 = conv(3, width, 7, 2, 3)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.Identity() if cifar else nn.MaxPool2d(3, 2, 1)
        self.layer1 = self._make(block, width, layers[0], 1)
        self.layer2 = self._make(block, width * 2, layers[1], 2)
        self.layer3 = self._make(block, width * 4, layers[2], 2)
        self.layer4 = self._make(block, width * 8, layers[3], 2)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(width * 8 * block.expansion, num_classes)

    def _make(self, block, planes, n, stride):
        ds = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            ds = nn.Sequential(conv(self.inplanes, planes * block.expansion, 1, stride),
                               nn.BatchNorm2d(planes * block.expansion))
        layers = [block(self.inplanes, planes, stride, ds)]
        self.inplanes = planes * block.expansion
        layers += [block(self.inplanes, planes) for _ in range(1, n)]
        return nn.Sequential(*layers)

    def features(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return torch.flatten(self.avgpool(x), 1)

    def forward(self, x):
        return self.fc(self.features(x))


def resnet18(**kw):
    return ResNet(BasicBlock, [2, 2, 2, 2], **kw)


def resnet50(**kw):
    return ResNet(Bottleneck, [3, 4, 6, 3], **kw)


def randomize_bn(model, g):
    """Random BN affine parameters and running statistics (eval mode uses them)."""
    for m in model.modules():
        if isinstance(m, (nn.BatchNorm2d, nn.BatchNorm1d)):
            c = m.num_features
            if m.affine:
                m.weight.data = torch.rand(c, generator=g) + 0.5
                m.bias.data = torch.randn(c, generator=g) * 0.1
            m.running_mean = torch.randn(c, generator=g) * 0.1
            m.running_var = torch.rand(c, generator=g) + 0.5
            m.num_batches_tracked = torch.tensor(123)


def backbone_features(model, x, mean, std):
    model.eval()
    with torch.no_grad():
        m = torch.tensor(mean).view(1, -1, 1, 1)
        s = torch.tensor(std).view(1, -1, 1, 1)
        return model.features((x - m) / s).contiguous()


# ------------------------------------------------------------------ release-style wrappers

class SimSiam(nn.Module):
    """facebookresearch/simsiam builder.SimSiam, names included."""

    def __init__(self, base, dim=32, pred_dim=8):
        super().__init__()
        self.encoder = base
        prev = base.fc.weight.shape[1]
        self.encoder.fc = nn.Sequential(nn.Linear(prev, prev, bias=False), nn.BatchNorm1d(prev), nn.ReLU(inplace=True),
                                        nn.Linear(prev, prev, bias=False), nn.BatchNorm1d(prev), nn.ReLU(inplace=True),
                                        nn.Linear(prev, dim), nn.BatchNorm1d(dim, affine=False))
        self.encoder.fc[6].bias.requires_grad = False
        self.predictor = nn.Sequential(nn.Linear(dim, pred_dim, bias=False), nn.BatchNorm1d(pred_dim),
                                       nn.ReLU(inplace=True), nn.Linear(pred_dim, dim))


class MoCoV3(nn.Module):
    """facebookresearch/moco-v3 builder.MoCo_ResNet names: base_encoder, momentum_encoder
    (each with an MLP projector as fc) and predictor."""

    def __init__(self, base, momentum, dim=16, mlp=32):
        super().__init__()
        self.base_encoder, self.momentum_encoder = base, momentum
        prev = base.fc.weight.shape[1]
        for enc in (self.base_encoder, self.momentum_encoder):
            enc.fc = nn.Sequential(nn.Linear(prev, mlp, bias=False), nn.BatchNorm1d(mlp), nn.ReLU(inplace=True),
                                   nn.Linear(mlp, dim, bias=False), nn.BatchNorm1d(dim, affine=False))
        self.predictor = nn.Sequential(nn.Linear(dim, mlp, bias=False), nn.BatchNorm1d(mlp), nn.ReLU(inplace=True),
                                       nn.Linear(mlp, dim, bias=False))


class DDP(nn.Module):
    """What DistributedDataParallel adds to every name: the "module." prefix."""

    def __init__(self, m):
        super().__init__()
        self.module = m


# ------------------------------------------------------------------------- safetensors

def write_safetensors(path, tensors, metadata=None):
    """Write {name: tensor} (float32 or float16) as a safetensors file."""
    header = {}
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    blobs, off = [], 0
    for name in sorted(tensors):
        t = tensors[name].detach().contiguous().cpu()
        if t.dtype == torch.float16:
            dt, data = "F16", t.numpy().astype("<f2").tobytes()
        else:
            dt, data = "F32", t.to(torch.float32).numpy().astype("<f4").tobytes()
        header[name] = {"dtype": dt, "shape": list(t.shape), "data_offsets": [off, off + len(data)]}
        off += len(data)
        blobs.append(data)
    h = json.dumps(header, sort_keys=True, separators=(",", ":")).encode("utf-8")
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


# ------------------------------------------------------------------------------ evil

class Evil:
    """The classic pickle exploit: unpickling calls os.system(cmd)."""

    def __init__(self, fn, arg):
        self.fn, self.arg = fn, arg

    def __reduce__(self):
        return (self.fn, (self.arg,))


def zip_pickle(path, pkl, record="archive"):
    """A torch.save-shaped zip around a hand-written pickle (no storages)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        for name, data in ((record + "/data.pkl", pkl), (record + "/version", b"3\n")):
            z.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), data)  # fixed date: reproducible


def evil_fixtures(sentinel):
    cmd = "touch " + sentinel
    small = {"conv1.weight": torch.ones(2, 3, 1, 1)}
    # Through torch.save itself: pickle records os.system under its real module, posix.
    torch.save({"state_dict": small, "payload": Evil(os.system, cmd)}, os.path.join(OUT, "evil_os_system.pth"))
    torch.save({"state_dict": small, "payload": Evil(eval, "__import__('os').system(%r)" % cmd)},
               os.path.join(OUT, "evil_builtins_eval.pth"))
    # Hand-written pickles naming the globals literally.
    p = b"\x80\x02cos\nsystem\nq\x00X" + struct.pack("<I", len(cmd)) + cmd.encode() + b"\x85R."
    zip_pickle(os.path.join(OUT, "evil_global_os_system.pth"), p)
    code = "__import__('os').system(%r)" % cmd
    p = (b"\x80\x04\x8c\x08builtins\x94\x8c\x04eval\x94\x93\x94\x8c" + bytes([len(code)]) + code.encode()
         + b"\x85R.")  # protocol 4: STACK_GLOBAL
    zip_pickle(os.path.join(OUT, "evil_stack_global_eval.pth"), p)
    # REDUCE on a name that is allowed as a value but is not a callable rebuild function.
    p = b"\x80\x02ctorch\nFloatStorage\nK\x03\x85R."
    zip_pickle(os.path.join(OUT, "evil_reduce_storage_type.pth"), p)
    # INST imports and calls in one opcode (protocol 0).
    zip_pickle(os.path.join(OUT, "evil_inst_subprocess.pth"), b"(S'" + cmd.encode() + b"'\nisubprocess\nPopen\n.")


# ------------------------------------------------------------------------------ main

def main():
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(0)
    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(1)
    img32 = torch.rand(4, 3, 32, 32, generator=g)
    img48 = torch.rand(4, 3, 48, 48, generator=g)
    feats = {"images32": img32, "images48": img48,
             "imagenet_mean": torch.tensor(IMAGENET_MEAN), "imagenet_std": torch.tensor(IMAGENET_STD),
             "cifar_mean": torch.tensor([0.4914, 0.4822, 0.4465]), "cifar_std": torch.tensor([0.2470, 0.2435, 0.2616])}
    cm, cs = feats["cifar_mean"].tolist(), feats["cifar_std"].tolist()

    # Official SimSiam release layout (main_simsiam.py save_checkpoint).
    torch.manual_seed(10)
    sim = SimSiam(resnet50(width=2))
    randomize_bn(sim, g)
    model = DDP(sim)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-4)
    for p in model.parameters():
        p.grad = torch.randn_like(p) * 1e-3
    opt.step()  # momentum buffers, as a real mid-training checkpoint has
    feats["simsiam_r50_w2"] = backbone_features(sim.encoder, img48, IMAGENET_MEAN, IMAGENET_STD)
    torch.save({"epoch": 100, "arch": "resnet50", "state_dict": model.state_dict(), "optimizer": opt.state_dict()},
               os.path.join(OUT, "simsiam_r50_w2.pth.tar"))

    # MoCo v3 layout (main_moco.py): the base encoder is the one evaluated.
    torch.manual_seed(11)
    base, mom = resnet18(width=2), resnet18(width=2)
    randomize_bn(base, g)
    randomize_bn(mom, g)
    moco = MoCoV3(base, mom)
    randomize_bn(moco.predictor, g)
    model = DDP(moco)
    feats["mocov3_r18_w2"] = backbone_features(base, img48, IMAGENET_MEAN, IMAGENET_STD)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    scaler = {"scale": 65536.0, "growth_factor": 2.0, "backoff_factor": 0.5, "growth_interval": 2000,
              "_growth_tracker": 0}
    torch.save({"epoch": 300, "arch": "resnet18", "state_dict": model.state_dict(), "optimizer": opt.state_dict(),
                "scaler": scaler}, os.path.join(OUT, "mocov3_r18_w2.pth.tar"))

    # Plain torchvision state dict.
    torch.manual_seed(12)
    tv = resnet18(width=4, num_classes=10)
    randomize_bn(tv, g)
    feats["torchvision_r18_w4"] = backbone_features(tv, img48, IMAGENET_MEAN, IMAGENET_STD)
    torch.save(tv.state_dict(), os.path.join(OUT, "torchvision_r18_w4.pth"))

    # Reduced precision: PyTorch's features of the same rounded weights in float32.
    for name, dt in (("half_r18_w4_cifar", torch.float16), ("bf16_r18_w4_cifar", torch.bfloat16)):
        torch.manual_seed(13)
        m = resnet18(width=4, cifar=True, num_classes=10)
        randomize_bn(m, g)
        m = m.to(dt)
        torch.save(m.state_dict(), os.path.join(OUT, name + ".pt"))
        feats["ref.%s.conv1.weight" % name] = m.conv1.weight.float()
        feats[name] = backbone_features(m.float(), img32, cm, cs)

    # float64: values not representable in float32; Go and PyTorch both round once.
    torch.manual_seed(14)
    m = resnet18(width=2, cifar=True, num_classes=10).double()
    randomize_bn(m, g)
    for p in m.parameters():
        p.data += torch.randn(p.shape, dtype=torch.float64, generator=g) * 1e-9
    m = m.double()
    torch.save(m.state_dict(), os.path.join(OUT, "f64_r18_w2_cifar.pth"))
    feats["ref.f64_r18_w2_cifar.conv1.weight"] = m.conv1.weight.float()
    feats["f64_r18_w2_cifar"] = backbone_features(m.float(), img32, cm, cs)

    # Non-contiguous storage layouts.
    torch.manual_seed(15)
    m = resnet18(width=2, num_classes=5)
    randomize_bn(m, g)
    sd = collections.OrderedDict()
    for k, v in m.state_dict().items():
        sd[k] = v
    for k, v in list(sd.items()):
        if v.dim() == 4:  # conv weight: stored [in, out, kh, kw], saved as a permuted view
            sd[k] = v.permute(1, 0, 3, 2).contiguous().permute(1, 0, 3, 2)
            assert not sd[k].is_contiguous()
        elif k.endswith(".weight") and k[:-7] + ".bias" in sd and v.dim() == 1:  # BN: one storage
            base = k[:-7]
            buf = torch.cat([torch.zeros(3), v, sd[base + ".bias"]])
            sd[k] = buf[3:3 + v.numel()]
            sd[base + ".bias"] = buf[3 + v.numel():]
        elif k.endswith("running_var"):  # one value, expanded: stride 0
            sd[k] = torch.full((1,), 0.75).expand(v.numel())
            getattr_path(m, k).fill_(0.75)
    sd["fc.weight"] = sd["fc.weight"].t().contiguous().t()
    torch.save(sd, os.path.join(OUT, "strided_r18_w2.pth"))
    for k in ("conv1.weight", "layer2.0.downsample.0.weight", "bn1.weight", "bn1.bias", "layer4.1.bn2.bias",
              "bn1.running_var", "fc.weight"):
        feats["ref.strided_r18_w2." + k] = sd[k].contiguous()
    feats["strided_r18_w2"] = backbone_features(m, img48, IMAGENET_MEAN, IMAGENET_STD)

    # siam's own names (what `siam train` writes), in safetensors.
    torch.manual_seed(16)
    m = resnet18(width=2, cifar=True, num_classes=8)
    randomize_bn(m, g)
    st = {"backbone." + k: v for k, v in m.state_dict().items() if not k.startswith("fc.") and
          not k.endswith("num_batches_tracked")}
    st["projector.0.weight"] = torch.randn(8, 16)
    st["predictor.0.weight"] = torch.randn(4, 8)
    write_safetensors(os.path.join(OUT, "siam_r18_w2_cifar.safetensors"), st, {"format": "siam"})
    feats["siam_r18_w2_cifar"] = backbone_features(m, img32, cm, cs)

    write_safetensors(os.path.join(OUT, "features.safetensors"), feats, {"torch": torch.__version__})
    evil_fixtures("/tmp/siam-torchpt-pwned")
    total = sum(os.path.getsize(os.path.join(OUT, f)) for f in os.listdir(OUT))
    print("wrote %d files to %s (%d bytes)" % (len(os.listdir(OUT)), OUT, total))


def getattr_path(m, key):
    for part in key.split("."):
        m = getattr(m, part)
    return m


if __name__ == "__main__":
    main()
