#!/usr/bin/env bash
# A backfill as a Slurm job array: each task takes a slice of a file list
# and writes one OUTDIR/<name>.series per input (<name>: the file name
# without its last extension), so two files' lines never mix.
#
#   ls /archive/2024/*/*.flowtuple.avro > files.txt
#   sbatch --array=0-99 examples/slurm_backfill.sh files.txt out nonspoofed --compat script
#   # later: which files failed (and their exit status)
#   grep -h '^FAILED' slurm-*.out
#
# Task k of n (SLURM_ARRAY_TASK_ID minus SLURM_ARRAY_TASK_MIN, and
# SLURM_ARRAY_TASK_COUNT) takes lines k, k+n, k+2n, ... of the list. Every
# file's exit status is logged (`ok FILE` or `FAILED <status> FILE`); the task
# exits 1 if any of its files failed, so `sacct` shows which tasks to look
# at. A file is written to <name>.series.part and renamed when complete, so an
# existing .series is always whole; rerunning a task redoes only files
# without one. flowtuple-series is taken from PATH (or $FLOWTUPLE_SERIES).
#SBATCH --job-name=flowtuple-backfill
#SBATCH --cpus-per-task=2
#SBATCH --mem=2G
set -uo pipefail
if [ $# -lt 3 ]; then
  echo "usage: $0 FILE-LIST OUTDIR MODE [flowtuple-series options...]" >&2
  exit 2
fi
list=$1 outdir=$2 mode=$3
shift 3
task=$((${SLURM_ARRAY_TASK_ID:?not in a job array} - ${SLURM_ARRAY_TASK_MIN:-0}))
count=${SLURM_ARRAY_TASK_COUNT:?not in a job array}
bin=${FLOWTUPLE_SERIES:-flowtuple-series}
cpus=${SLURM_CPUS_PER_TASK:-1}
# Leave room for decode buffers within the job's --mem.
limit=${MEMORY_LIMIT:-1G}
mkdir -p "$outdir"
failed=0 n=0
while IFS= read -r file || [ -n "$file" ]; do
  if [ -n "$file" ] && [ $((n % count)) -eq "$task" ]; then
    name=$(basename "$file")
    out=$outdir/${name%.*}.series
    if [ -e "$out" ]; then
      echo "done $file"
    elif "$bin" -j "$cpus" --memory-limit "$limit" "$@" "$file" "$mode" >"$out.part"; then
      mv "$out.part" "$out"
      echo "ok $file"
    else
      status=$?
      rm -f "$out.part"
      echo "FAILED $status $file"
      failed=1
    fi
  fi
  [ -n "$file" ] && n=$((n + 1))
done <"$list"
exit "$failed"
