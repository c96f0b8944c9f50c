#!/usr/bin/env bash
# seam_ab.sh: A/B of issue 17's compute seam on a quiet machine. Builds the tree
# before the seam (BASE, default main at 721e9cb) and the current tree into a
# temporary directory, then runs every step/embed/collapse/k-NN row of
# bench/compare.sh alternating old and new (ROUNDS rounds, default 3), printing
# both numbers and new/old (higher is better for img/s; for seconds the ratio is
# old/new, so > 1 is always "new faster"). The issue's bar: every row within 3%.
#
#   bench/seam_ab.sh            # all rows, 3 rounds
#   ROUNDS=5 STEPS=20 bench/seam_ab.sh
set -euo pipefail
cd "$(dirname "$0")/.."
base=${BASE:-721e9cb}
rounds=${ROUNDS:-3}
steps=${STEPS:-10}
tmp=$(mktemp -d)
trap 'git worktree remove --force "$tmp/old-src" >/dev/null 2>&1 || true; rm -rf "$tmp"' EXIT
git worktree add --detach "$tmp/old-src" "$base" >/dev/null
(cd "$tmp/old-src" && go build -o "$tmp/siam-old" ./cmd/siam)
go build -o "$tmp/siam-new" ./cmd/siam
echo "old: $base  new: $(git rev-parse --short HEAD)$(git diff --quiet || echo '+dirty')  load: $(cut -d' ' -f1-3 /proc/loadavg)"
rows=(
  "step|simsiam w16 28x28x1 b128|bench train --method simsiam --width 16 --size 28 --channels 1 --batch 128 --steps $steps"
  "step|simsiam w16 32x32x3 b128|bench train --method simsiam --width 16 --size 32 --channels 3 --batch 128 --steps $steps"
  "step|simsiam w64 32x32x3 b128|bench train --method simsiam --width 64 --size 32 --channels 3 --batch 128 --steps $steps"
  "step|byol w16 32x32x3 b128|bench train --method byol --width 16 --size 32 --channels 3 --batch 128 --steps $steps"
  "step|mocov3 w16 32x32x3 b128|bench train --method mocov3 --width 16 --size 32 --channels 3 --batch 128 --steps $steps"
  "embed|embed w16 32x32x3 b256|bench embed --width 16 --size 32 --channels 3 --batch 256 --batches $steps"
  "embed|embed w16 28x28x1 b256|bench embed --width 16 --size 28 --channels 1 --batch 256 --batches $steps"
  "embed|embed w64 32x32x3 b256|bench embed --width 64 --size 32 --channels 3 --batch 256 --batches $steps"
  "collapse|collapse 50000x512|bench collapse --n 50000 --d 512 --runs 5"
  "knn|k-NN 10000x50000x512 k200|bench knn --queries 10000 --keys 50000 --dim 512 --k 200 --runs 3"
)
for ((r = 1; r <= rounds; r++)); do
  echo
  echo "## round $r of $rounds (load average $(cut -d' ' -f1-3 /proc/loadavg))"
  printf '| %-28s | %-14s | %-14s | %-8s |\n' measure old new new/old
  for row in "${rows[@]}"; do
    IFS='|' read -r kind label args <<<"$row"
    # Alternate which binary goes first, so drift does not favour one.
    if ((r % 2)); then
      # shellcheck disable=SC2086
      o=$("$tmp/siam-old" $args | head -1); n=$("$tmp/siam-new" $args | head -1)
    else
      # shellcheck disable=SC2086
      n=$("$tmp/siam-new" $args | head -1); o=$("$tmp/siam-old" $args | head -1)
    fi
    /usr/bin/python3 - "$kind" "$label" "$o" "$n" <<'PY'
import json, sys
kind, label, o, n = sys.argv[1:]
oj, nj = json.loads(o), json.loads(n)
if kind in ("step", "embed"):
    ov, nv = oj["images_per_s"], nj["images_per_s"]
    cells, ratio = (f"{ov:.1f} img/s", f"{nv:.1f} img/s"), nv / ov
else:
    ov, nv = oj["seconds"], nj["seconds"]
    cells, ratio = (f"{ov:.3f} s", f"{nv:.3f} s"), ov / nv
flag = "" if ratio >= 0.97 else "  <-- outside 3%"
print(f"| {label:<28} | {cells[0]:<14} | {cells[1]:<14} | {ratio:6.3f}x |{flag}")
PY
  done
done
