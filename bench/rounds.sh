# Sourced by the benchmark scripts. run_rounds RESULTS SCRATCH RUNS runs
# every command of the array `commands`, round after round (interleaved, so
# that a noisy neighbour slows all alike), under /usr/bin/time -v, and
# writes one line per run to RESULTS: index, wall seconds, peak RSS (KB),
# round. median prints the median of the numbers on stdin.
run_rounds() {
  local results=$1 scratch=$2 runs=$3 round i
  : >"$results"
  for round in $(seq "$runs"); do
    for i in "${!commands[@]}"; do
      # shellcheck disable=SC2086 # the command is split into words on purpose
      /usr/bin/time -v -o "$scratch"/time.txt ${commands[$i]} >/dev/null
      awk -F': ' -v i="$i" -v round="$round" '
        /Elapsed \(wall clock\)/ {n = split($2, t, ":"); s = 0; for (k = 1; k <= n; k++) s = s * 60 + t[k]}
        /Maximum resident/ {r = $2}
        END {print i, s, r, round}' "$scratch"/time.txt >>"$results"
    done
  done
}

median() {
  sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'
}
