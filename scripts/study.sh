#!/bin/bash
# The background study (issue 18): runs the sweeps listed in experiments/STUDY, in
# that order, each into results/NAME (a sweep folder whose finished runs are
# committed as compact records: config.yaml, metrics.jsonl, results.jsonl,
# spectra.jsonl, done.json with the CPU, the siam commit and the wall time; never
# the checkpoint). A fresh clone continues where the last machine stopped:
# `siam sweep` treats a committed run as finished and resumes interrupted local runs
# from their checkpoints.
#
#   scripts/study.sh start     build .study/siam from this tree and start the queue in
#                              the background (nice 19, GOMAXPROCS=$STUDY_CORES, default 1)
#   scripts/study.sh pause     SIGSTOP the whole queue (before any benchmark)
#   scripts/study.sh resume    SIGCONT it
#   scripts/study.sh stop      SIGTERM: running runs checkpoint and exit
#   scripts/study.sh status    done / running / waiting / failed per sweep, and the queue's state
#   scripts/study.sh commit    git-commit every finished run's record (and the sweep.yaml files)
#   scripts/study.sh run       the queue in the foreground (what start runs)
#
# STUDY_CORES=N gives the queue N cores (N runs at once, one core each);
# STUDY_QUEUE=FILE another queue file.
set -euo pipefail
cd "$(dirname "$0")/.."
STATE=.study
QUEUE=${STUDY_QUEUE:-experiments/STUDY}
CORES=${STUDY_CORES:-1}
BIN=$STATE/siam
mkdir -p "$STATE"

queue() { grep -v '^[[:space:]]*\(#\|$\)' "$QUEUE" | awk '{print $1}'; }

alive() { [ -f "$STATE/pgid" ] && kill -0 -- "-$(cat "$STATE/pgid")" 2>/dev/null; }

case "${1:-status}" in
run)
  # The queue file is read again after every sweep, so sweeps appended to it while
  # the study runs are taken in turn; each sweep is tried once per start (a failed
  # run is retried on the next start, the queue goes on meanwhile).
  tried=" "
  while :; do
    next=""
    for name in $(queue); do
      case "$tried" in *" $name "*) continue ;; esac
      next=$name
      break
    done
    [ -n "$next" ] || break
    tried="$tried$next "
    f=experiments/$next.yaml
    if [ ! -f "$f" ]; then echo "study: $f missing (listed in $QUEUE)" >&2; continue; fi
    echo "== $(date -u +%FT%TZ) $next"
    GOMAXPROCS=$CORES nice -n 19 "$BIN" sweep "$f" --out "results/$next" --parallel "$CORES" || echo "study: $next: sweep exited with $?"
  done
  echo "== $(date -u +%FT%TZ) queue done"
  ;;
start)
  if alive; then echo "study: already running (process group $(cat $STATE/pgid)); scripts/study.sh status" >&2; exit 1; fi
  go build -o "$BIN" ./cmd/siam
  echo "study: built $BIN at $(git rev-parse --short=12 HEAD)$(git diff --quiet HEAD -- . ':!results' || echo +dirty)"
  setsid nohup "$0" run >>"$STATE/study.log" 2>&1 </dev/null &
  echo $! >"$STATE/pgid"
  echo "study: started, process group $(cat $STATE/pgid), log $STATE/study.log, $CORES core(s)"
  ;;
pause | resume | stop)
  alive || { echo "study: not running" >&2; exit 1; }
  sig=$([ "$1" = pause ] && echo STOP || ([ "$1" = resume ] && echo CONT || echo TERM))
  [ "$1" = stop ] && kill -CONT -- "-$(cat $STATE/pgid)"
  kill -"$sig" -- "-$(cat $STATE/pgid)"
  echo "study: $1 (SIG$sig to process group $(cat $STATE/pgid))"
  ;;
status)
  if alive; then
    st=$(ps -o stat= -p "$(cat $STATE/pgid)" | tr -d ' ')
    case $st in T*) echo "study: paused (process group $(cat $STATE/pgid))" ;; *) echo "study: running (process group $(cat $STATE/pgid))" ;; esac
  else
    echo "study: not running"
  fi
  siam=$BIN; [ -x "$siam" ] || siam="go run ./cmd/siam"
  dirs=()
  for name in $(queue); do [ -d "results/$name" ] && dirs+=("results/$name"); done
  if [ ${#dirs[@]} -gt 0 ]; then $siam sweep status "${dirs[@]}"; fi
  for name in $(queue); do [ -d "results/$name" ] || echo "results/$name: not started"; done
  ;;
commit)
  # Only finished runs (done.json), and only their compact record: run folders are
  # git-ignored so that nothing half-made or heavy (checkpoints, TensorBoard) slips in.
  n=0
  for d in results/*/; do
    [ -f "$d/sweep.yaml" ] || continue
    git add "$d/sweep.yaml"
    for r in "$d"*/; do
      [ -f "$r/done.json" ] || continue
      for f in config.yaml metrics.jsonl results.jsonl spectra.jsonl data.json done.json; do
        [ -f "$r/$f" ] && git add -f "$r/$f"
      done
      n=$((n + 1))
    done
  done
  if git diff --cached --quiet -- results; then echo "study: no new records"; exit 0; fi
  git commit -q -m "study: finished run records ($n runs under results/)" -- results
  echo "study: committed; $n finished runs under results/"
  ;;
*)
  sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
  ;;
esac
