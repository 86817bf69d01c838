#!/usr/bin/env bash
# Benchmark of flowtuple-series: records/s and peak RSS per mode, against a
# decode-only pass, on a generated deflate file (median of RUNS runs).
#   bench/flowtuple.sh [RECORDS] [RUNS]      (defaults: 10000000 3)
set -euo pipefail
cd "$(dirname "$0")/.."
records=${1:-10000000}
runs=${2:-3}
file=${BENCH_FILE:-/tmp/telescope-bench/flowtuple-$records.avro}
cargo build --release --quiet --bin flowtuple-series --example gen_flowtuple --example flowtuple_decode
mkdir -p "$(dirname "$file")" /tmp/telescope-bench
[ -f "$file" ] || target/release/examples/gen_flowtuple "$file" --records "$records" --intervals 1 --codec deflate --seed 1
echo "file: $file ($(du -m "$file" | cut -f1) MB, $records records, deflate)"
measure() { # label, command...: median wall seconds and peak RSS of RUNS runs
  local label=$1; shift
  local walls=() rss=0
  for _ in $(seq "$runs"); do
    /usr/bin/time -v -o /tmp/telescope-bench/time.txt "$@" >/dev/null
    walls+=("$(awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,t,":"); s=0; for(i=1;i<=n;i++) s=s*60+t[i]; print s}' /tmp/telescope-bench/time.txt)")
    r=$(awk -F': ' '/Maximum resident/ {print $2}' /tmp/telescope-bench/time.txt)
    [ "$r" -gt "$rss" ] && rss=$r
  done
  local med
  med=$(printf '%s\n' "${walls[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  awk -v l="$label" -v w="$med" -v n="$records" -v r="$rss" \
    'BEGIN {printf "%-44s %7.2f s %7.2f M records/s %6d MB peak RSS\n", l, w, n/w/1e6, r/1024}'
}
measure "decode-only (unfiltered field plan)" target/release/examples/flowtuple_decode "$file"
for mode in unfiltered unfiltered-ipmeta nonspoofed unrouted-nonspoofed; do
  measure "$mode" target/release/flowtuple-series "$file" "$mode"
done
for method in prefixagg:24 sample:24; do
  measure "unfiltered, src+dst counting $method" target/release/flowtuple-series \
    --src-ip-counting "$method" --dst-ip-counting "$method" "$file" unfiltered
done
