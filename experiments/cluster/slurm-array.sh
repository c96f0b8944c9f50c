#!/bin/bash
# Run one siam sweep as a Slurm job array over a shared folder: array task I of N
# takes the runs whose index % N == I. Submit with a 0-based array, one task per shard:
#
#   sbatch --array=0-7 experiments/cluster/slurm-array.sh experiments/4-orderings.yaml /shared/sweeps/orderings
#
# Re-submitting the same command (after a time limit, a node failure, a preemption)
# skips finished runs and resumes the others from their checkpoints. Watch it with
#   siam sweep status /shared/sweeps/orderings
#SBATCH --job-name=siam-sweep
#SBATCH --cpus-per-task=8
#SBATCH --mem=16G
#SBATCH --time=12:00:00
#SBATCH --output=siam-sweep-%A_%a.log
#SBATCH --signal=B:TERM@180
#SBATCH --requeue
# --signal=B:TERM@180 sends SIGTERM to this script 3 minutes before the time limit;
# `exec` below makes siam that process, so every run checkpoints and stops cleanly.
set -euo pipefail
FILE=${1:?usage: sbatch --array=0-N slurm-array.sh SWEEP.yaml OUT_DIR}
OUT=${2:?usage: sbatch --array=0-N slurm-array.sh SWEEP.yaml OUT_DIR}
SIAM=${SIAM:-siam}                 # path to the siam binary
PARALLEL=${PARALLEL:-2}            # runs at once per task; each gets cpus/PARALLEL cores
: "${SLURM_ARRAY_TASK_ID:?submit with sbatch --array=0-N}"
export GOMAXPROCS=${SLURM_CPUS_PER_TASK:-8}
# --shard slurm reads SLURM_ARRAY_TASK_ID, _MIN and _COUNT; for a 0-based array it is
# the same as --shard "$SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT".
exec "$SIAM" sweep "$FILE" --out "$OUT" --shard slurm --parallel "$PARALLEL"
