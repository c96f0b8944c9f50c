#!/usr/bin/env bash
# Runs the PyTorch reference step (../shared/bench/torch_simsiam.py) and
# `siam bench train` on the same machine, one after the other, for the three
# configurations of the engine issue, and prints each pair with the ratio
# siam/PyTorch of images per second and the peak RSS of both.
#
# Usage: bench/compare.sh [steps]
#        METHOD=byol bench/compare.sh [steps]   (byol, mocov3: bench/torch_methods.py as the peer)
# Needs: apt-get install -y python3-torch libopenblas0-pthread
# Without OpenBLAS, Debian's PyTorch resolves BLAS to the reference netlib library
# (3.7 GFLOP/s matmuls here) and runs up to 1.7x slower: a crippled peer. The
# script refuses to compare against it.
set -euo pipefail
cd "$(dirname "$0")/.."
steps=${1:-10}
method=${METHOD:-simsiam}
torch_script=${TORCH_SIMSIAM:-../shared/bench/torch_simsiam.py}
torch_method=()
if [ "$method" != simsiam ]; then
  torch_script=bench/torch_methods.py
  torch_method=(--method "$method")
fi
go build -o /tmp/siam-bench ./cmd/siam
if ! /usr/bin/python3 - <<'PY'
import sys, time, torch
a, b = torch.randn(1024, 1024), torch.randn(1024, 1024)
a @ b
t = time.perf_counter(); a @ b; dt = time.perf_counter() - t
sys.exit(0 if 2 * 1024**3 / dt / 1e9 > 20 else 1)
PY
then
  echo "PyTorch's BLAS runs below 20 GFLOP/s (reference BLAS?): apt-get install -y libopenblas0-pthread" >&2
  exit 1
fi
export GLIBC_TUNABLES=glibc.malloc.trim_threshold=17179869184:glibc.malloc.mmap_max=0
export OPENBLAS_NUM_THREADS=1
# peak RSS in MiB of a command, printed on stderr by the wrapper below
rss() { /usr/bin/python3 - "$@" <<'PY'
import resource, subprocess, sys
out = subprocess.run(sys.argv[1:], check=True, capture_output=True, text=True).stdout.strip()
print(out)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0)
PY
}
printf '%-14s %12s %12s %8s %12s %12s\n' config torch_img/s siam_img/s ratio torch_MiB siam_MiB
for cfg in "16 32 3" "64 32 3" "16 28 1"; do
  set -- $cfg
  args=(--width "$1" --size "$2" --channels "$3" --batch 128 --steps "$steps")
  t=$(rss /usr/bin/python3 "$torch_script" "${torch_method[@]}" "${args[@]}")
  s=$(rss /tmp/siam-bench bench train --method "$method" "${args[@]}")
  /usr/bin/python3 - "$cfg" "$t" "$s" <<'PY'
import json, sys
cfg, t, s = sys.argv[1], sys.argv[2].splitlines(), sys.argv[3].splitlines()
tj, sj = json.loads(t[0]), json.loads(s[0])
w, size, ch = cfg.split()
print(f"w{w} {size}x{size}x{ch:<4} {tj['images_per_s']:12.1f} {sj['images_per_s']:12.1f} {sj['images_per_s']/tj['images_per_s']:8.2f} {float(t[1]):12.0f} {float(s[1]):12.0f}")
print("  siam:", s[0])
PY
done
