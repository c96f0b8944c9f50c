#!/usr/bin/python3
"""torchvision peer of `siam bench data`: the SimSiam/MoCo v2 training transform
(two views per image) over an ImageFolder, on one core.

Per image: PIL open + convert("RGB") (torchvision's default loader), then twice
RandomResizedCrop(size, scale=(0.2, 1)), ColorJitter(0.4, 0.4, 0.4, 0.1) p 0.8,
RandomGrayscale p 0.2, GaussianBlur sigma in [0.1, 2] p 0.5 (PIL's filter, as the
SimSiam reference), RandomHorizontalFlip, ToTensor, Normalize. Images are drawn
at random; the rate is images per CPU-second (time.process_time), so it is a
per-core figure even on a shared machine. Prints one JSON line.

Run: /usr/bin/python3 bench/torch_data.py /tmp/in224 224 [seconds]
"""
import json, random, sys, time

import torch
from PIL import ImageFilter
import torchvision.datasets as datasets
import torchvision.transforms as T

torch.set_num_threads(1)
root, size = sys.argv[1], int(sys.argv[2])
seconds = float(sys.argv[3]) if len(sys.argv) > 3 else 10.0


class GaussianBlur:
    def __init__(self, sigma=(0.1, 2.0)):
        self.sigma = sigma

    def __call__(self, x):
        return x.filter(ImageFilter.GaussianBlur(radius=random.uniform(*self.sigma)))


aug = T.Compose([
    T.RandomResizedCrop(size, scale=(0.2, 1.0)),
    T.RandomApply([T.ColorJitter(0.4, 0.4, 0.4, 0.1)], p=0.8),
    T.RandomGrayscale(p=0.2),
    T.RandomApply([GaussianBlur([0.1, 2.0])], p=0.5),
    T.RandomHorizontalFlip(),
    T.ToTensor(),
    T.Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225]),
])
ds = datasets.ImageFolder(root + "/train" if not root.endswith("train") else root)
rng = random.Random(0)
for _ in range(8):  # warm-up
    img, _ = ds[rng.randrange(len(ds))]
    aug(img), aug(img)
n, decode_cpu = 0, 0.0
c0, t0 = time.process_time(), time.perf_counter()
while time.perf_counter() - t0 < seconds:
    i = rng.randrange(len(ds))
    d0 = time.process_time()
    img = ds.loader(ds.samples[i][0])
    decode_cpu += time.process_time() - d0
    aug(img), aug(img)
    n += 1
cpu = time.process_time() - c0
print(json.dumps({"bench": "data", "engine": "torchvision", "size": size, "images": n, "cpu_seconds": cpu,
                  "images_per_s_per_core": n / cpu, "decode_images_per_s_per_core": n / decode_cpu}))
