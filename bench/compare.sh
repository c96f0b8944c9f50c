#!/usr/bin/env bash
# siam against its PyTorch peers on this machine, every row of issue 10's table plus
# the eval-mode embedding pass, each measure run PyTorch then siam back to back (so
# the two see the same machine state), in rounds. Prints, per round, one table:
#   measure | siam | PyTorch | ratio (siam faster = above 1) | peak RSS | goal
# with the CPU model, its ISA flags, the core count and the load average in the
# header. Paste the rounds into docs/PERFORMANCE.md, in the table of this CPU kind.
#
# Usage: bench/compare.sh [steps] [rounds]      (defaults 10 and 1)
#   steps:  timed SimSiam steps / embedding batches per measure (median reported)
#   env ONLY=step|collapse|knn|embed (space-separated) runs only those rows
#   env METHOD=byol|mocov3: the step rows train that method (peer bench/torch_methods.py)
#   env TORCH_SIMSIAM: the step peer (default bench/torch_simsiam.py, a copy of
#   ../shared/bench/torch_simsiam.py)
# Peers: bench/torch_simsiam.py (train step), bench/torch_embed.py (embed),
# bench/torch_collapse_knn.py (collapse: best of svdvals and float64 covariance +
# eigvalsh; k-NN: matmul + topk per 1024 queries). Threads: every core for both.
# Needs: apt-get install -y python3-torch libopenblas0-pthread
# Without OpenBLAS, Debian's PyTorch resolves BLAS to the reference netlib library
# (3.7 GFLOP/s matmuls here) and runs up to 1.7x slower: a crippled peer. The
# script refuses to compare against it.
set -euo pipefail
cd "$(dirname "$0")/.."
steps=${1:-10}
rounds=${2:-1}
only=${ONLY:-step collapse knn embed}
torch_script=${TORCH_SIMSIAM:-bench/torch_simsiam.py}
method=${METHOD:-simsiam} # METHOD=byol|mocov3: step rows train that method (peer bench/torch_methods.py)
margs=""
if [ "$method" != simsiam ]; then
  torch_script=bench/torch_methods.py
  margs="--method $method"
fi
threads=$(nproc)
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

# run CMD...: prints the command's first output line (JSON), then its peak RSS in MiB.
run() { /usr/bin/python3 - "$@" <<'PY'
import resource, subprocess, sys
out = subprocess.run(sys.argv[1:], check=True, capture_output=True, text=True).stdout.strip()
print(out.splitlines()[0])
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0)
PY
}

cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
flags=$(grep -m1 '^flags' /proc/cpuinfo | tr ' ' '\n' | grep -xE 'avx2|avx512f|avx512_bf16|avx512_vnni|amx_tile' | tr '\n' ' ')
torchv=$(/usr/bin/python3 -c 'import torch; print(torch.__version__)')
peak=$(/tmp/siam-bench bench embed --width 1 --size 8 --batch 1 --batches 1 --warmup 0 | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["peak_gflops_per_core"])')
echo "# CPU: $cpu | $threads cores | flags: ${flags:-none} | measured FMA peak ${peak} GFLOP/s/core"
echo "# PyTorch $torchv, $threads threads; siam GOMAXPROCS=${GOMAXPROCS:-$threads}; $(date -u '+%Y-%m-%d %H:%M UTC'); load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"

# Rows: kind | label | siam args | peer command | goal
rows=(
  "step|$method step w16 28x28x1 b128|bench train $margs --width 16 --size 28 --channels 1 --batch 128 --steps $steps|/usr/bin/python3 $torch_script $margs --width 16 --size 28 --channels 1 --batch 128 --steps $steps --threads $threads|>= 1.5x"
  "step|$method step w16 32x32x3 b128|bench train $margs --width 16 --size 32 --channels 3 --batch 128 --steps $steps|/usr/bin/python3 $torch_script $margs --width 16 --size 32 --channels 3 --batch 128 --steps $steps --threads $threads|>= 1.5x"
  "step|$method step w64 32x32x3 b128|bench train $margs --width 64 --size 32 --channels 3 --batch 128 --steps $steps|/usr/bin/python3 $torch_script $margs --width 64 --size 32 --channels 3 --batch 128 --steps $steps --threads $threads|>= 1.2x"
  "collapse|collapse 50000x512|bench collapse --n 50000 --d 512 --runs 5|/usr/bin/python3 bench/torch_collapse_knn.py --only collapse --threads $threads|<= 0.06 s and >= 3x"
  "knn|k-NN 10000x50000x512 k200|bench knn --queries 10000 --keys 50000 --dim 512 --k 200 --runs 3|/usr/bin/python3 bench/torch_collapse_knn.py --only knn --threads $threads|<= 1.0 s"
  "embed|embed w16 32x32x3 b256|bench embed --width 16 --size 32 --channels 3 --batch 256 --batches $steps|/usr/bin/python3 bench/torch_embed.py --width 16 --size 32 --channels 3 --batch 256 --batches $steps --threads $threads|>= 1.3x"
  "embed|embed w16 28x28x1 b256|bench embed --width 16 --size 28 --channels 1 --batch 256 --batches $steps|/usr/bin/python3 bench/torch_embed.py --width 16 --size 28 --channels 1 --batch 256 --batches $steps --threads $threads|>= 1.3x"
  "embed|embed w64 32x32x3 b256|bench embed --width 64 --size 32 --channels 3 --batch 256 --batches $steps|/usr/bin/python3 bench/torch_embed.py --width 64 --size 32 --channels 3 --batch 256 --batches $steps --threads $threads|>= 1.3x"
)

for ((r = 1; r <= rounds; r++)); do
  echo
  echo "## round $r of $rounds (load average $(cut -d' ' -f1-3 /proc/loadavg))"
  printf '| %-30s | %-16s | %-16s | %-6s | %-15s | %s |\n' measure siam PyTorch ratio "RSS siam/torch" goal
  printf '|%s|%s|%s|%s|%s|%s|\n' "$(printf -- '-%.0s' {1..32})" "$(printf -- '-%.0s' {1..18})" "$(printf -- '-%.0s' {1..18})" "--------" "$(printf -- '-%.0s' {1..17})" "------"
  for row in "${rows[@]}"; do
    IFS='|' read -r kind label sargs pcmd goal <<<"$row"
    [[ " $only " == *" $kind "* ]] || continue
    # shellcheck disable=SC2086
    t=$(run $pcmd)
    # shellcheck disable=SC2086
    s=$(run /tmp/siam-bench $sargs)
    /usr/bin/python3 - "$kind" "$label" "$goal" "$s" "$t" <<'PY'
import json, sys
kind, label, goal, s, t = sys.argv[1:]
s, t = s.splitlines(), t.splitlines()
sj, tj = json.loads(s[0]), json.loads(t[0])
if kind in ("step", "embed"):
    sv, tv = sj["images_per_s"], tj["images_per_s"]
    cells = f"{sv:.1f} img/s", f"{tv:.1f} img/s"
    ratio = sv / tv
else:
    sv = sj["seconds"]
    tv = tj["knn_s"] if kind == "knn" else min(tj["collapse_svdvals_s"], tj["collapse_cov64_eigvalsh_s"])
    cells = f"{sv:.3f} s", f"{tv:.3f} s"
    if kind == "collapse" and "all_seconds" in sj:
        cells = (f"{sv:.3f} s ({min(sj['all_seconds']):.2f}-{max(sj['all_seconds']):.2f})", cells[1])
    ratio = tv / sv
rss = f"{float(s[1]):.0f}/{float(t[1]):.0f} MiB"
print(f"| {label:<30} | {cells[0]:<16} | {cells[1]:<16} | {ratio:5.2f}x | {rss:<15} | {goal} |")
PY
  done
done
