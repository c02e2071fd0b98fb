#!/usr/bin/env bash
# Split render on Slurm: an array of SEGMENTS tasks (deploy/slurm/render-array.sbatch), then a
# join job (deploy/slurm/join.sbatch) that starts once every task succeeded.
#
#   deploy/slurm/submit.sh JOB SEGMENTS OUTPUT [WORKDIR]
#
# JOB, OUTPUT and WORKDIR must be on a filesystem every node sees (paths are made absolute here).
# WORKDIR defaults to OUTPUT's folder/NAME.segments/ and also holds the jobs' logs (logs/).
# Environment: RENDERER (default: `renderer` on PATH on the nodes); SBATCH_ARGS, extra sbatch
# options for both jobs, e.g. SBATCH_ARGS="--partition=gpu --gres=gpu:1" (sbatch's own input
# variables such as SBATCH_PARTITION work too).
# Prints the two job ids, as `array_job_id=ID` and `join_job_id=ID` lines.
set -euo pipefail

usage() {
  echo "usage: $0 JOB SEGMENTS OUTPUT [WORKDIR]" >&2
  exit 2
}
[ "$#" -ge 3 ] && [ "$#" -le 4 ] || usage
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

[ -f "$1" ] || { echo "submit: job file $1 not found" >&2; exit 2; }
[[ "$2" =~ ^[1-9][0-9]*$ ]] || { echo "submit: SEGMENTS must be a positive integer, got '$2'" >&2; exit 2; }
command -v sbatch >/dev/null 2>&1 || { echo "submit: sbatch not found (is this a Slurm login node?)" >&2; exit 1; }

JOB="$(realpath -- "$1")"
SEGMENTS="$2"
OUTPUT="$(realpath -m -- "$3")"
out_name="$(basename -- "$OUTPUT")"
WORKDIR="$(realpath -m -- "${4:-$(dirname -- "$OUTPUT")/${out_name%.*}.segments}")"
mkdir -p "$WORKDIR/logs" "$(dirname -- "$OUTPUT")"
export JOB SEGMENTS OUTPUT WORKDIR
[ -z "${RENDERER:-}" ] || export RENDERER

# shellcheck disable=SC2086 # SBATCH_ARGS is a list of options
array_id="$(sbatch --parsable --export=ALL --array="0-$((SEGMENTS - 1))" \
  --output="$WORKDIR/logs/render-%A_%a.out" ${SBATCH_ARGS:-} "$here/render-array.sbatch")"
array_id="${array_id%%;*}" # --parsable prints ID;CLUSTER on federated clusters

# afterok: the join starts only when every array task exited 0; kill-on-invalid-dep cancels it
# (instead of leaving it pending forever) when a task fails.
# shellcheck disable=SC2086
join_id="$(sbatch --parsable --export=ALL --dependency="afterok:$array_id" \
  --kill-on-invalid-dep=yes --output="$WORKDIR/logs/join-%j.out" ${SBATCH_ARGS:-} \
  "$here/join.sbatch")"
join_id="${join_id%%;*}"

echo "array_job_id=$array_id"
echo "join_job_id=$join_id"
echo "submit: $SEGMENTS segments into $WORKDIR, joined into $OUTPUT; logs in $WORKDIR/logs" >&2
