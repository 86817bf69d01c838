#!/usr/bin/env bash
# Benchmark of flowtuple-series: records/s and peak RSS per mode, against a
# decode-only pass, on a generated deflate file.
#   bench/flowtuple.sh [--scratch DIR] [RECORDS] [RUNS]   (defaults: 10000000 3)
#   bench/flowtuple.sh --small-files [--scratch DIR] [FILES] [RUNS]   (defaults: 1440 3)
# The first form also runs the memory-limit cases (default 1G, 512M, none;
# `--geo both`), e.g. with RECORDS=50000000 for the spilling case; set
# ONLY_LIMITS=1 to run just decode-only and those. The second times one
# invocation per mode over FILES generated files of ~500 records (one
# interval each, as the archive's one-minute files) and reports ms per file.
# Generated data and timings go to DIR (default: $TMPDIR/telescope-bench, or
# /tmp/telescope-bench); binaries come from cargo's target directory (so
# CARGO_TARGET_DIR is honoured).
# The runs are interleaved (round after round of every command), so that a
# noisy neighbour slows all commands alike; each line reports the median wall
# time of RUNS runs, the largest peak RSS, and the median over the rounds of
# the ratio of the command's time to the decode-only time of the same round.
set -euo pipefail
cd "$(dirname "$0")/.."
scratch=${TMPDIR:-/tmp}/telescope-bench
small=
if [ "${1:-}" = --small-files ]; then
  small=1
  shift
fi
if [ "${1:-}" = --scratch ]; then
  scratch=${2:?--scratch needs a directory}
  shift 2
fi
records=${1:-10000000}
runs=${2:-3}
file=${BENCH_FILE:-$scratch/flowtuple-$records.avro}
cargo build --release --quiet -p telescope -p telescope-tools --bin flowtuple-series --bin gen_flowtuple --example flowtuple_decode
target=$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
release=$target/release
mkdir -p "$(dirname "$file")" "$scratch"

if [ -n "$small" ]; then
  files=${1:-1440}
  dir=$scratch/small-$files
  if [ ! -f "$dir/done" ]; then
    mkdir -p "$dir"
    for i in $(seq 0 $((files - 1))); do
      "$release"/gen_flowtuple "$(printf '%s/f%05d.avro' "$dir" "$i")" --records 500 \
        --intervals 1 --codec deflate --seed "$((i + 1))" --start "$((1600000020 + 60 * i))"
    done
    touch "$dir/done"
  fi
  echo "$files files of 500 records (one interval each, deflate) in $dir; $runs interleaved runs"
  results=$scratch/small-results.txt
  : >"$results"
  modes=(unfiltered unfiltered-ipmeta nonspoofed unrouted-nonspoofed)
  for round in $(seq "$runs"); do
    for mode in "${modes[@]}"; do
      /usr/bin/time -f '%e %U %S %M' -o "$scratch"/time.txt \
        "$release"/flowtuple-series --mode "$mode" "$dir"/f*.avro >/dev/null
      echo "$mode $(cat "$scratch"/time.txt)" >>"$results"
    done
  done
  for mode in "${modes[@]}"; do
    awk -v m="$mode" -v n="$files" '$1 == m {print $2, $3, $4, $5}' "$results" | sort -n |
      awk -v m="$mode" -v n="$files" '{w[NR] = $1; u[NR] = $2; s[NR] = $3; r = $4 > r ? $4 : r}
        END {k = int((NR + 1) / 2); printf "%-22s %6.2f s wall %6.2f ms/file (user %.2f s, sys %.2f s of the median run) %5d MB peak RSS\n", m, w[k], 1000 * w[k] / n, u[k], s[k], r / 1024}'
  done
  exit 0
fi
[ -f "$file" ] || "$release"/gen_flowtuple "$file" --records "$records" --intervals 1 --codec deflate --seed 1
echo "file: $file ($(du -m "$file" | cut -f1) MB, $records records, deflate; $runs interleaved runs)"

bin=$release/flowtuple-series
labels=("decode-only (unfiltered field plan)")
commands=("$release/examples/flowtuple_decode $file")
if [ -z "${ONLY_LIMITS:-}" ]; then
for mode in unfiltered unfiltered-ipmeta nonspoofed unrouted-nonspoofed; do
  labels+=("$mode")
  commands+=("$bin $file $mode")
done
for method in prefixagg:24 sample:24; do
  labels+=("unfiltered, src+dst counting $method")
  commands+=("$bin --src-ip-counting $method --dst-ip-counting $method $file unfiltered")
done
for mode in unfiltered nonspoofed; do
  labels+=("$mode --compat report (dense keys)")
  commands+=("$bin --compat report $file $mode")
done
labels+=("unfiltered --compat report, src prefixagg:24")
commands+=("$bin --compat report --src-ip-counting prefixagg:24 $file unfiltered")
fi
# Memory limits: the default (1G), 512M, and none; temporary files in the
# scratch directory.
for limit in 1G 512M none; do
  for run in "unfiltered" "nonspoofed --geo both"; do
    labels+=("$run --memory-limit $limit")
    commands+=("$bin --temp-dir $scratch --memory-limit $limit $file $run")
  done
done
# BASELINE=path/to/an/older/flowtuple-series adds its default-mode runs, to
# compare two builds within one interleaved run.
if [ -n "${BASELINE:-}" ]; then
  for mode in unfiltered unfiltered-ipmeta nonspoofed unrouted-nonspoofed; do
    labels+=("baseline $mode")
    commands+=("$BASELINE $file $mode")
  done
fi

results=$scratch/results.txt
# shellcheck source=bench/rounds.sh
source bench/rounds.sh
run_rounds "$results" "$scratch" "$runs"
for i in "${!commands[@]}"; do
  wall=$(awk -v i="$i" '$1 == i {print $2}' "$results" | median)
  ratio=$(awk -v i="$i" '$1 == 0 {base[$4] = $2} $1 == i {wall[$4] = $2}
    END {for (r in wall) print wall[r] / base[r]}' "$results" | median)
  rss=$(awk -v i="$i" '$1 == i && $3 > m {m = $3} END {print m}' "$results")
  awk -v l="${labels[$i]}" -v w="$wall" -v n="$records" -v r="$rss" -v x="$ratio" \
    'BEGIN {printf "%-44s %6.2f s %6.2f M records/s %5d MB peak RSS %5.2fx decode-only\n", l, w, n / w / 1e6, r / 1024, x}'
done
