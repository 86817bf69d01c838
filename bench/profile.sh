#!/usr/bin/env bash
# Where a release binary spends its time: a `perf record` profile's samples
# per function, inlined functions counted in the function they are inlined
# into (and, second table, per innermost inlined function and its file).
#   perf record -e cpu-clock -F 2000 -o DATA BINARY ARGS...
#   bench/profile.sh DATA BINARY
# perf 6.1 does not resolve this workspace's symbols (it prints text
# offsets in the file), so the offsets are shifted to addresses (by the
# text segment's shift) and resolved with addr2line (binutils). Needs the
# release profile's line tables (`debug = "line-tables-only"`).
set -euo pipefail
data=${1:?perf data file}
bin=${2:?the binary profiled}
name=$(basename "$bin")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
read -r vaddr offset < <(readelf -lW "$bin" | awk '$1 == "LOAD" && $7 == "R" && $8 == "E" {print $3, $2}')
delta=$((vaddr - offset))
perf report -i "$data" --no-children --sort dso,symbol --stdio -g none 2>/dev/null |
  grep -v '^#' | grep -v '^$' | sed 's/%//' >"$tmp/report"
echo "-- other objects"
awk -v n="$name" '$2 != n {s[$2] += $1} END {for (k in s) printf "%5.1f%%  %s\n", s[k], k}' "$tmp/report" | sort -rn | head -5
# Samples perf resolved itself (a symbol name, not an offset: C code such
# as libdeflate's, and Rust symbols with some perf versions) are kept by
# that name.
awk -v n="$name" '$2 == n && $4 !~ /^0x[0-9a-f]+$/ {s = $4; for (i = 5; i <= NF; i++) s = s " " $i; sub(/ +-.*$/, "", s); print $1 "\t" s "\t" s "\tresolved by perf"}' \
  "$tmp/report" >"$tmp/named"
awk -v n="$name" '$2 == n && $4 ~ /^0x[0-9a-f]+$/ {print $1, $4}' "$tmp/report" |
  while read -r pct off; do printf '%s 0x%x\n' "$pct" $((off + delta)); done >"$tmp/own"
cut -d' ' -f2 "$tmp/own" | addr2line -f -i -C -a -e "$bin" |
  awk '/^0x[0-9a-f]+$/ {if (n) print outer "\t" inner "\t" file; n++; k = 0; next}
       {k++; if (k % 2) {outer = $0; if (k == 1) inner = $0} else if (k == 2) {file = $0; sub(/.*\//, "", file); sub(/:.*/, "", file)}}
       END {if (n) print outer "\t" inner "\t" file}' >"$tmp/frames"
paste -d'\t' <(cut -d' ' -f1 "$tmp/own") "$tmp/frames" >"$tmp/joined"
cat "$tmp/named" >>"$tmp/joined"
echo "-- by function (inlined ones in the function they are inlined into)"
awk -F'\t' '{s[substr($2, 1, 70)] += $1} END {for (k in s) printf "%5.1f%%  %s\n", s[k], k}' "$tmp/joined" | sort -rn | head -15
echo "-- by innermost inlined function (file)"
awk -F'\t' '{s[substr($3, 1, 60) " (" $4 ")"] += $1} END {for (k in s) printf "%5.1f%%  %s\n", s[k], k}' "$tmp/joined" | sort -rn | head -20
