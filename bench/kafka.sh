#!/usr/bin/env bash
# Benchmark of flowtuple-series --kafka-brokers: publishing the series of the
# 10M-record benchmark file to a local tansu broker (in-memory storage, 7
# partitions) against writing --format timeseries to /dev/null.
#   bench/kafka.sh [RECORDS] [RUNS] [MODE]     (defaults: 10000000 3 unfiltered)
# Needs tansu (cargo install tansu --version 0.6.0 --locked --features
# dynostore). The broker is restarted empty before every run (not timed).
# Runs are interleaved; each line gives the median wall time, keys/s and the
# median over the rounds of the time relative to the /dev/null run.
set -euo pipefail
cd "$(dirname "$0")/.."
records=${1:-10000000}
runs=${2:-3}
mode=${3:-unfiltered}
dir=/tmp/telescope-bench
file=${BENCH_FILE:-$dir/flowtuple-$records.avro}
tansu=${TANSU:-$(command -v tansu || echo "${CARGO_HOME:-$HOME/.cargo}/bin/tansu")}
cargo build --release --quiet -p telescope -p telescope-tools --bin flowtuple-series --bin gen_flowtuple
mkdir -p "$dir"
[ -f "$file" ] || target/release/gen_flowtuple "$file" --records "$records" --intervals 1 --codec deflate --seed 1
bin=target/release/flowtuple-series
keys=$($bin "$file" "$mode" --format timeseries | wc -l)
echo "file: $file ($records records, mode $mode, $keys keys; $runs interleaved runs)"

port=39092
while (: >"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do port=$((port + 1)); done
broker_pid=
stop_broker() { [ -z "$broker_pid" ] || { kill "$broker_pid" 2>/dev/null; wait "$broker_pid" 2>/dev/null || true; broker_pid=; }; }
trap stop_broker EXIT
start_broker() {
  stop_broker
  "$tansu" broker --listener-url "tcp://127.0.0.1:$port" --advertised-listener-url "tcp://127.0.0.1:$port" \
    --storage-engine memory://tansu/ >"$dir/tansu.log" 2>&1 &
  broker_pid=$!
  until (: >"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do sleep 0.1; done
  "$tansu" topic create tsk-production.bench --broker "tcp://127.0.0.1:$port" --partitions 7 >/dev/null
}

labels=("--format timeseries > /dev/null" "--kafka-brokers (snappy)" "--kafka-brokers --kafka-compression none")
kafka="--kafka-brokers 127.0.0.1:$port --kafka-channel bench"
commands=("$bin $file $mode --format timeseries" "$bin $file $mode $kafka" "$bin $file $mode $kafka --kafka-compression none")
results=$dir/kafka-results.txt
: >"$results"
for round in $(seq "$runs"); do
  for i in "${!commands[@]}"; do
    [ "$i" = 0 ] || start_broker
    # shellcheck disable=SC2086 # the command is split into words on purpose
    /usr/bin/time -v -o "$dir/time.txt" ${commands[$i]} >/dev/null
    awk -F': ' -v i="$i" -v round="$round" '
      /Elapsed \(wall clock\)/ {n = split($2, t, ":"); s = 0; for (k = 1; k <= n; k++) s = s * 60 + t[k]}
      /Maximum resident/ {r = $2}
      END {print i, s, r, round}' "$dir/time.txt" >>"$results"
  done
done
stop_broker

median() { sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
for i in "${!commands[@]}"; do
  wall=$(awk -v i="$i" '$1 == i {print $2}' "$results" | median)
  ratio=$(awk -v i="$i" '$1 == 0 {base[$4] = $2} $1 == i {wall[$4] = $2}
    END {for (r in wall) print wall[r] / base[r]}' "$results" | median)
  rss=$(awk -v i="$i" '$1 == i && $3 > m {m = $3} END {print m}' "$results")
  awk -v l="${labels[$i]}" -v w="$wall" -v k="$keys" -v r="$rss" -v x="$ratio" \
    'BEGIN {printf "%-42s %6.2f s %8.0f keys/s %5d MB peak RSS %5.2fx /dev/null\n", l, w, k / w, r / 1024, x}'
done
