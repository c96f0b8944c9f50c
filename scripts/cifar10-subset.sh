#!/bin/bash
# Make the study's 10,000-image CIFAR-10 training set: .data/cifar10-10k/train holds
# the first N/10 JPEGs (by file name) of each class of .data/cifar10/train, as
# symbolic links, and .data/cifar10-10k/test links the full test split. The study's
# ordering, method and width/depth sweeps train on it so that 4,000 steps of 256
# are 100 epochs, the paper's multi-pass length (experiments/README.md says why).
#
#   scripts/cifar10-subset.sh            # 10,000 images
#   N=5000 OUT=.data/cifar10-5k scripts/cifar10-subset.sh
set -euo pipefail
cd "$(dirname "$0")/.."
SRC=${SRC:-.data/cifar10}
N=${N:-10000}
OUT=${OUT:-.data/cifar10-10k}
[ -d "$SRC/train" ] || { echo "cifar10-subset: no $SRC/train (get CIFAR-10 first: see DEVELOPERS.md / experiments/README.md)" >&2; exit 1; }
per=$((N / 10))
rm -rf "$OUT.tmp"
mkdir -p "$OUT.tmp/train"
src=$(cd "$SRC" && pwd)
for cls in "$src"/train/*/; do
  c=$(basename "$cls")
  mkdir -p "$OUT.tmp/train/$c"
  mapfile -t files < <(LC_ALL=C ls "$cls" | grep -v '^\.' | LC_ALL=C sort)
  [ "${#files[@]}" -ge "$per" ] || { echo "cifar10-subset: $cls has ${#files[@]} images, fewer than $per" >&2; exit 1; }
  for f in "${files[@]:0:per}"; do ln -s "$cls$f" "$OUT.tmp/train/$c/$f"; done
done
ln -s "$src/test" "$OUT.tmp/test"
rm -rf "$OUT"
mv "$OUT.tmp" "$OUT"
echo "cifar10-subset: $OUT/train: $(find "$OUT/train" -type l | wc -l) images in $(ls "$OUT/train" | wc -l) classes; test -> $src/test"
