#!/usr/bin/env bash
# netprofile --check: detection of injected surges and drops, noise, F1
# against the naive baseline (tools/src/bin/check_bench.rs), and the wall time of
# one hourly check of 1,000 tags. Method and figures: docs/check.md.
#   bench/check.sh [CESNET_CSV]    (default: testdata/netprofile/cesnet/1/data.csv)
# Extra knob lists for the scoring go in CHECK_BENCH_ARGS, e.g.
#   CHECK_BENCH_ARGS='--severity 1.5,2,2.5' bench/check.sh
set -euo pipefail
cd "$(dirname "$0")/.."
csv=${1:-testdata/netprofile/cesnet/1/data.csv}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cargo build --release --locked --quiet -p telescope -p telescope-tools --bin netprofile --bin check_bench --bin gen_nemea
target=$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
bin=$target/release
gen=$bin/gen_nemea

mkdir -p "$tmp/cesnet/1" && cp "$csv" "$tmp/cesnet/1/data.csv"
"$gen" "$tmp/traffic" --tags 8 --hours 400 --seed 7 >/dev/null
"$gen" "$tmp/shapes" --tags 6 --hours 400 --shapes --seed 3 >/dev/null
echo "== detection and noise (last 4 days of each series)"
# shellcheck disable=SC2086
"$bin/check_bench" --every 4 ${CHECK_BENCH_ARGS:-} "$tmp/cesnet"
# shellcheck disable=SC2086
"$bin/check_bench" --every 8 ${CHECK_BENCH_ARGS:-} "$tmp/traffic" "$tmp/shapes"

echo "== one hourly check of 1,000 tags (hourly profiles kept, --keep 168 layout)"
root=$tmp/k
"$gen" "$root" --tags 1000 --hours 400 --step-minutes 60 --jitter-seconds 0 >/dev/null
# The series start at gen_nemea's fixed origin; its rows end 400 h later.
last=$(date -u -d "$(tail -n 1 "$root/1/data.csv" | cut -d, -f3 | cut -c1-19)Z" +%s)
at() { date -u -d "@$((last + $1 * 3600))" +%Y-%m-%dT%H:%M:%S; }
np() { NETPROFILE_NOW=$1 TZ=UTC "$bin/netprofile" -q "${@:2}" "$root" 2>/dev/null || true; }
# Profile and check 3 h before the end (rows after the clock + 1 h are
# ignored as a profile run ignores them), give every tag 167 older
# profiles, profile again 2 h before the end: the timed check then sees one
# new row per protocol, as an hourly cron does.
np "$(at -3)" ; np "$(at -3)" --check >/dev/null
# (tag 1's profile linked under 167 older names, those links hard-linked
# into every tag: the check lists them and reads only the newest it needs)
mkdir "$tmp/old"
p=$(ls "$root"/1/profile-*.json | head -n 1)
for h in $(seq 4 170); do ln "$p" "$tmp/old/profile-$(at -$h).json"; done
n=0
for d in "$root"/*/; do
  # fresh copies every 250 tags: ext4 allows 65,000 links to a file
  if [ $((n++ % 250)) = 0 ]; then rm -rf "$tmp/cur" && cp -r "$tmp/old" "$tmp/cur"; fi
  cp -l "$tmp"/cur/profile-*.json "$d"
done
np "$(at -2)"
times=()
for i in 1 2 3 4 5; do
  cp -a "$root" "$tmp/run" && sync
  NETPROFILE_NOW=$(date -u -d "@$((last - 2 * 3600 + 300))" +%Y-%m-%dT%H:%M:%S) TZ=UTC \
    /usr/bin/time -o "$tmp/t" -f "%e %U %S %M" "$bin/netprofile" -q --check --summary-json "$tmp/s.json" "$tmp/run" >"$tmp/alerts" 2>/dev/null || true
  read -r wall user sys rss <"$tmp/t"
  echo "run $i: wall $wall s, CPU $(echo "$user + $sys" | bc) s, peak RSS $rss KB"
  times+=("$wall")
  rm -rf "$tmp/run"
done
printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {printf "wall seconds, 5 runs: min %.3f median %.3f max %.3f\n", a[1], a[3], a[5]}'
grep -o '"checked_rows": [0-9]*' "$tmp/s.json" | awk '{n+=$2} END {print "rows checked in the last run:", n}'
echo "alert lines in the last run: $(wc -l <"$tmp/alerts")"
