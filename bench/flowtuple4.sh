#!/usr/bin/env bash
# Benchmark of flowtuple-series on flowtuple4: converts the v3 benchmark
# file of bench/flowtuple.sh (generated if missing) with the ftconvert
# tool (tools/src/bin/ftconvert.rs; -n 24 -I 1 -V 2: one interval, one
# file) and times flowtuple-series on it, interleaved with v3 runs for comparison.
#   bench/flowtuple4.sh [--scratch DIR] [RECORDS] [RUNS]   (defaults: 10000000 3)
# records/s counts the records of the file read (flowtuple4 records for the
# flowtuple4 runs); peak RSS from /usr/bin/time -v; medians over RUNS rounds.
set -euo pipefail
cd "$(dirname "$0")/.."
scratch=${TMPDIR:-/tmp}/telescope-bench
if [ "${1:-}" = --scratch ]; then
  scratch=${2:?--scratch needs a directory}
  shift 2
fi
records=${1:-10000000}
runs=${2:-3}
cargo build --release --quiet -p telescope -p telescope-tools --bin flowtuple-series --bin gen_flowtuple --bin ftconvert \
  --example flowtuple_decode
target=$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
release=$target/release
mkdir -p "$scratch"
v3=$scratch/flowtuple-$records.avro
[ -f "$v3" ] || "$release"/gen_flowtuple "$v3" --records "$records" --intervals 1 --codec deflate --seed 1
v4=$scratch/flowtuple4-$records.ft4.avro
if [ ! -f "$v4" ] || [ ! -f "$v4.records" ]; then
  /usr/bin/time -v -o "$scratch"/convert-time.txt \
    "$release"/ftconvert -n 24 -I 1 -V 2 -o "$scratch/ft4-conv-%s.avro" "$v3" >"$scratch"/convert.txt
  [ "$(wc -l <"$scratch"/convert.txt)" = 1 ] || { echo "expected one interval" >&2; exit 1; }
  read -r _ n4 out <"$scratch"/convert.txt
  mv "$out" "$v4"
  echo "$n4" >"$v4.records"
  grep -E 'Elapsed|Maximum resident' "$scratch"/convert-time.txt
fi
n4=$(cat "$v4.records")
echo "v3: $v3 ($(du -m "$v3" | cut -f1) MB, $records records); flowtuple4 /24: $v4 ($(du -m "$v4" | cut -f1) MB, $n4 records); $runs interleaved runs"

bin=$release/flowtuple-series
labels=() commands=() counts=()
add() { labels+=("$1"); counts+=("$2"); commands+=("$3"); }
add "flowtuple4 decode-only" "$n4" "$release/examples/flowtuple_decode $v4"
add "flowtuple4 unfiltered" "$n4" "$bin --dst-net 24 $v4 unfiltered"
add "flowtuple4 unfiltered-ipmeta" "$n4" "$bin --dst-net 24 $v4 unfiltered-ipmeta"
add "flowtuple4 unfiltered, src prefixagg:24" "$n4" "$bin --dst-net 24 --src-ip-counting prefixagg:24 $v4 unfiltered"
add "v3 decode-only" "$records" "$release/examples/flowtuple_decode $v3"
add "v3 unfiltered" "$records" "$bin $v3 unfiltered"
add "v3 unfiltered-ipmeta" "$records" "$bin $v3 unfiltered-ipmeta"

results=$scratch/results4.txt
# shellcheck source=bench/rounds.sh
source bench/rounds.sh
run_rounds "$results" "$scratch" "$runs"
for i in "${!commands[@]}"; do
  wall=$(awk -v i="$i" '$1 == i {print $2}' "$results" | median)
  rss=$(awk -v i="$i" '$1 == i && $3 > m {m = $3} END {print m}' "$results")
  awk -v l="${labels[$i]}" -v w="$wall" -v n="${counts[$i]}" -v r="$rss" \
    'BEGIN {printf "%-42s %6.2f s %6.2f M records/s %5d MB peak RSS\n", l, w, n / w / 1e6, r / 1024}'
done
