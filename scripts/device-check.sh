#!/usr/bin/env bash
# One prepared run on the GPU machine (the device tool): what siam finds there, and
# the PyTorch CUDA peer's figures for issue 8's goals, as JSON under $OUT.
# Build first, here: scripts/device-build.sh; then run with carry [".devrun"]:
#   bash scripts/device-check.sh
# Stays well under 8 minutes; each part has its own timeout and a failing part does
# not stop the others.
set -u
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/siam-device-out}
mkdir -p "$OUT"
py=${PYTHON:-python3}
part() { # name timeout command...
  local name=$1 t=$2; shift 2
  echo "== $name"
  timeout "$t" "$@" >"$OUT/$name.json" 2>"$OUT/$name.err"; echo "$name rc=$?" >>"$OUT/status.txt"
}
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv >"$OUT/nvidia-smi.txt" 2>&1
find / -xdev \( -name 'libcuda.so*' -o -name 'libcublas*.so*' -o -name 'libcudnn.so*' -o -name 'libnvrtc.so*' -o -name 'libnccl.so*' \) 2>/dev/null >"$OUT/libs.txt"
part devices 60 .devrun/siam devices --json
part cuda-test 120 .devrun/cuda.test -test.v
for w in 16 64; do
  part "torch-step-w$w-fp32" 120 "$py" bench/torch_cuda.py --what step --width $w --batch 512 --precision fp32
  part "torch-step-w$w-bf16-cl" 120 "$py" bench/torch_cuda.py --what step --width $w --batch 512 --precision bf16 --channels-last
done
part torch-collapse 120 "$py" bench/torch_cuda.py --what collapse
part torch-knn 120 "$py" bench/torch_cuda.py --what knn
cat "$OUT/status.txt"
