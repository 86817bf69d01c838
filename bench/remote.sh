#!/usr/bin/env bash
# Remote input vs local disk (docs/remote.md): a 10M-record object from a
# local S3 server (s3s-fs) against the same file on disk, and 1,440 objects
# of ~500 records under one prefix against the same files, in interleaved
# rounds under /usr/bin/time -v. Needs s3s-fs (scripts/install-test-servers.sh installs it) and curl.
#
#   bench/remote.sh [--scratch DIR] [RECORDS] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
scratch=${TMPDIR:-/tmp}/telescope-bench
if [ "${1:-}" = --scratch ]; then scratch=$2; shift 2; fi
records=${1:-10000000}
runs=${2:-5}
. bench/rounds.sh
target=${CARGO_TARGET_DIR:-target}/release
cargo build --release --locked -p telescope -p telescope-tools --bin flowtuple-series --bin gen_flowtuple >&2
mkdir -p "$scratch/small"
big=$scratch/remote-$records.avro
[ -f "$big" ] || "$target"/gen_flowtuple "$big" --records "$records" --intervals 1 --codec deflate
if [ ! -f "$scratch/small/ucsd-nt.1704153540.flowtuple.avro" ]; then
  for i in $(seq 0 1439); do
    t=$((1704067200 + 60 * i))
    "$target"/gen_flowtuple "$scratch/small/ucsd-nt.$t.flowtuple.avro" \
      --records 500 --intervals 1 --start "$t" --seed "$((i + 1))"
  done
fi
# An S3 server without auth on a free port; objects PUT through the API
# (so that it keeps their ETag instead of hashing the file on every GET).
port=${S3_PORT:-18014}  # a free port on 127.0.0.1
data=$scratch/s3data
rm -rf "$data" && mkdir -p "$data"
s3s-fs --host 127.0.0.1 --port "$port" "$data" >/dev/null 2>&1 &
pid=$!
trap 'kill $pid' EXIT
until curl -s -o /dev/null "http://127.0.0.1:$port/"; do sleep 0.1; done
url=http://127.0.0.1:$port
curl -sf -X PUT "$url/bench" >/dev/null
curl -sf -X PUT --data-binary @"$big" "$url/bench/big.avro" >/dev/null
for f in "$scratch"/small/*.avro; do
  curl -sf -X PUT --data-binary @"$f" "$url/bench/day/$(basename "$f")" >/dev/null
done
export AWS_ENDPOINT_URL=$url AWS_ALLOW_HTTP=true AWS_REGION=us-east-1
bin=$target/flowtuple-series
commands=(
  "$bin $big unfiltered"
  "$bin --no-sign-request s3://bench/big.avro unfiltered"
  "$bin -j 1 $big unfiltered"
  "$bin -j 1 --no-sign-request s3://bench/big.avro unfiltered"
  "$bin --mode unfiltered $(ls "$scratch"/small/*.avro | tr '\n' ' ')"
  "$bin --no-sign-request --mode unfiltered s3://bench/day/"
)
names=("10M local" "10M s3" "10M local -j 1" "10M s3 -j 1" "1440 local" "1440 s3")
run_rounds "$scratch/remote.results" "$scratch" "$runs"
for i in "${!commands[@]}"; do
  wall=$(awk -v i="$i" '$1 == i {print $2}' "$scratch/remote.results" | median)
  rss=$(awk -v i="$i" '$1 == i {print $3}' "$scratch/remote.results" | sort -n | tail -1)
  echo "${names[$i]}: median wall ${wall} s, peak RSS $((rss / 1024)) MB"
done
