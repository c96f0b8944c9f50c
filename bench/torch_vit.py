#!/usr/bin/python3
"""Reference: PyTorch CPU time of one ViT forward + backward, and the ViT model
that siam's nn.ViT reproduces (scripts/gen_fixtures.py imports it from here, so
the parity fixtures and this benchmark use the same model).

Needs Debian's PyTorch (apt-get install -y python3-torch) and runs with the
Debian interpreter:

    /usr/bin/python3 bench/torch_vit.py --arch vit-tiny --size 32 --batch 64

Model (timm's VisionTransformer as MoCo v3's vits.py configures it; state-dict
names are timm's, so the weights load into siam and back):
  patch_embed.proj  Conv2d(C, D, P, stride P) with bias: one token per P x P patch
  cls_token         [1, 1, D], prepended to the patch tokens
  pos_embed         [1, 1+L, D], fixed 2-D sin-cos (MoCo v3's
                    build_2d_sincos_position_embedding), zero for the class token,
                    not trained
  blocks.i          pre-norm: x += attn(norm1(x)); x += mlp(norm2(x));
                    LayerNorm eps 1e-6, attn = qkv Linear(D, 3D) -> heads ->
                    softmax(q k^T / sqrt(D/heads)) v -> proj Linear(D, D),
                    mlp = fc1 Linear(D, 4D) -> GELU (erf) -> fc2 Linear(4D, D)
  norm              final LayerNorm eps 1e-6
  representation    the class token after norm: [N, D]
Presets: vit-s depth 12, dim 384, 6 heads; vit-tiny depth 12, dim 192, 3 heads.
Patch size when not given: 16 for inputs of side >= 96, else 4 (32 -> 8x8 patches,
28 -> 7x7).
Init as MoCo v3: qkv weights U(+-sqrt(6/(D + D))) (Xavier with the fan of one of
q, k, v), other Linear weights Xavier uniform, biases 0, cls_token N(0, 1e-6^2),
patch projection U(+-sqrt(6/(C*P*P + D))) with bias 0 (MoCo v3 writes 3*P*P: the
same for colour images), LayerNorm 1 and 0. --frozen-patch freezes the patch
projection (MoCo v3's stop_grad_conv1).

The timed step is forward, loss = sum of squares of the representation, backward
(no optimiser). Prints one JSON line with the median step time (wall) and the
median process CPU time per step (both threads). The Go side of the same run:
    go test ./nn/ -run XXX -bench ViTTinyStep -benchtime 5x
"""
import argparse
import json
import math
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

PRESETS = {"vit-s": (12, 384, 6), "vit-tiny": (12, 192, 3)}


def default_patch(size):
    return 16 if size >= 96 else 4


def sincos_pos_embed(grid, dim, temperature=10000.0):
    """MoCo v3's build_2d_sincos_position_embedding for a grid x grid patch layout,
    with the zero class-token row in front: [1, 1 + grid*grid, dim]."""
    assert dim % 4 == 0, "ViT dim must be a multiple of 4 for the 2-D sin-cos embedding"
    gw = torch.arange(grid, dtype=torch.float32)
    gh = torch.arange(grid, dtype=torch.float32)
    gw, gh = torch.meshgrid(gw, gh, indexing="ij")
    pos_dim = dim // 4
    omega = torch.arange(pos_dim, dtype=torch.float32) / pos_dim
    omega = 1.0 / (temperature ** omega)
    out_w = torch.einsum("m,d->md", [gw.flatten(), omega])
    out_h = torch.einsum("m,d->md", [gh.flatten(), omega])
    pe = torch.cat([torch.sin(out_w), torch.cos(out_w), torch.sin(out_h), torch.cos(out_h)], dim=1)[None]
    return torch.cat([torch.zeros(1, 1, dim), pe], dim=1)


class PatchEmbed(nn.Module):
    def __init__(self, patch, in_ch, dim):
        super().__init__()
        self.proj = nn.Conv2d(in_ch, dim, patch, patch)

    def forward(self, x):
        return self.proj(x).flatten(2).transpose(1, 2)


class Attention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.scale = (dim // heads) ** -0.5
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        b, n, c = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        attn = ((q @ k.transpose(-2, -1)) * self.scale).softmax(dim=-1)
        return self.proj((attn @ v).transpose(1, 2).reshape(b, n, c))


class Mlp(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x)))


class Block(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, 4 * dim)

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class ViT(nn.Module):
    def __init__(self, depth, dim, heads, patch, size, in_ch=3, frozen_patch=False):
        super().__init__()
        assert size % patch == 0, f"patch size {patch} does not divide the input size {size}"
        assert dim % heads == 0, f"{heads} heads do not divide dim {dim}"
        self.patch_embed = PatchEmbed(patch, in_ch, dim)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(sincos_pos_embed(size // patch, dim), requires_grad=False)
        self.blocks = nn.Sequential(*[Block(dim, heads) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        # MoCo v3's initialisation, in its order.
        for name, m in self.named_modules():
            if isinstance(m, nn.Linear):
                if "qkv" in name:
                    val = math.sqrt(6.0 / float(m.weight.shape[0] // 3 + m.weight.shape[1]))
                    nn.init.uniform_(m.weight, -val, val)
                else:
                    nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)
        nn.init.normal_(self.cls_token, std=1e-6)
        val = math.sqrt(6.0 / float(in_ch * patch * patch + dim))
        nn.init.uniform_(self.patch_embed.proj.weight, -val, val)
        nn.init.zeros_(self.patch_embed.proj.bias)
        if frozen_patch:
            self.patch_embed.proj.weight.requires_grad = False
            self.patch_embed.proj.bias.requires_grad = False

    def forward(self, x):
        x = self.patch_embed(x)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1) + self.pos_embed
        x = self.norm(self.blocks(x))
        return x[:, 0]


def build(arch, size, in_ch=3, depth=0, dim=0, heads=0, patch=0, frozen_patch=False):
    """The model of --arch with optional overrides, as siam's nn.NewBackbone builds it."""
    if arch in PRESETS:
        d, w, h = PRESETS[arch]
        depth, dim, heads = depth or d, dim or w, heads or h
    elif arch != "vit" or not (depth and dim and heads):
        raise SystemExit(f"unknown arch {arch!r}, or 'vit' without --depth --dim --heads")
    return ViT(depth, dim, heads, patch or default_patch(size), size, in_ch, frozen_patch)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--arch", default="vit-tiny", choices=sorted(PRESETS) + ["vit"])
    ap.add_argument("--depth", type=int, default=0)
    ap.add_argument("--dim", type=int, default=0)
    ap.add_argument("--heads", type=int, default=0)
    ap.add_argument("--patch", type=int, default=0)
    ap.add_argument("--frozen-patch", action="store_true")
    ap.add_argument("--size", type=int, default=32)
    ap.add_argument("--channels", type=int, default=3)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    model = build(a.arch, a.size, a.channels, a.depth, a.dim, a.heads, a.patch, a.frozen_patch)
    x = torch.randn(a.batch, a.channels, a.size, a.size)

    def step():
        model.zero_grad(set_to_none=True)
        loss = model(x).square().sum()
        loss.backward()
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
    blocks = model.blocks
    print(json.dumps({"peer": "pytorch", "version": torch.__version__, "arch": a.arch,
                      "depth": len(blocks), "dim": model.norm.normalized_shape[0],
                      "heads": blocks[0].attn.heads, "patch": model.patch_embed.proj.kernel_size[0],
                      "size": a.size, "channels": a.channels, "batch": a.batch, "threads": a.threads,
                      "frozen_patch": a.frozen_patch, "fwd_bwd_s_median": round(med, 4),
                      "cpu_s_median": round(statistics.median(cpu), 4),
                      "images_per_s": round(a.batch / med, 1)}))


if __name__ == "__main__":
    main()
