#!/usr/bin/env bash
# A flowtuple-series backfill as a Slurm job array: one output per input.
#
#   sbatch --array=0-(N-1) contrib/slurm/backfill.sh LIST OUTDIR MODE [flowtuple-series options...]
#   contrib/slurm/backfill.sh --report LIST OUTDIR
#   contrib/slurm/backfill.sh --name LINE...
#
# LIST has one input a line (blank lines are ignored): a local file, or a
# URL of an object or of a prefix (ending in `/`) as flowtuple-series reads
# them. Task k of an array of n tasks takes lines k, k+n, k+2n, ... and
# writes OUTDIR/NAME.series for each (see --name). Any number of tasks
# works; the array must be a plain range (`--array=0-99`, `%` limits
# allowed).
#
# Each output is whole or absent: it is written as NAME.series.part and
# renamed when flowtuple-series succeeds. A cancelled task (scancel,
# preemption, a time limit) removes its .part; a task killed outright
# leaves one, removed by the next task that takes the input. The task's
# stdout has one line per input: `ok INPUT`, `done INPUT` (output already
# there) or `FAILED STATUS INPUT`; a failure is also recorded in
# OUTDIR/NAME.failed (that line, then flowtuple-series's last error lines),
# removed when a later run succeeds. The task exits 1 if any input failed
# (Slurm shows it FAILED). Resubmitting the same command redoes exactly
# the inputs without an output; --report says where a backfill stands.
#
# A path of ours in OUTDIR (NAME.series, .part, .failed) that exists but is
# not a regular file (a symlink, FIFO, socket, directory, device) is never
# replaced or written through: that input fails with status 2 and a message
# naming the path.
#
# Resources come from Slurm: flowtuple-series (from PATH, or
# $FLOWTUPLE_SERIES) runs with `-j $SLURM_CPUS_PER_TASK` (else
# SLURM_CPUS_ON_NODE), `--memory-limit` = the job's memory
# (SLURM_MEM_PER_NODE, or SLURM_MEM_PER_CPU times SLURM_CPUS_ON_NODE) less
# the overhead below, and `--temp-dir $SLURM_TMPDIR` (else $TMPDIR) when set.
# Give the job memory with --mem or --mem-per-cpu (no default here: sbatch
# refuses the two together; without either, the cluster's default applies).
# MEMORY_LIMIT=SIZE overrides the limit; do not pass -j, --memory-limit or
# --temp-dir as options. The command is logged on stderr before the first
# input. Outside a job array (`bash backfill.sh LIST OUTDIR MODE`) it takes
# the whole list with flowtuple-series's own defaults.
#
# Two LIST lines with one output name (see --name) are refused before
# anything runs, by every task and by --report (exit 2, naming the lines).
#
# Exit status: 0 all inputs of the task ok, 1 some failed, 2 usage error
# (or too little memory, or clashing names), 143 cancelled. --report: 0 all
# done, 1 not all done, 2 usage error or clashing names.
#SBATCH --job-name=flowtuple-backfill
#SBATCH --cpus-per-task=2
set -uo pipefail

# Memory flowtuple-series uses beyond --memory-limit, in MiB: peak RSS is at
# most LIMIT + OVERHEAD_MIB + threads * (OVERHEAD_THREAD_MIB +
# OVERHEAD_THREAD_PERCENT% of LIMIT) (measured on a 50M-record file, -j 1
# to 8, limits 256M to 2G; see docs/slurm-backfill.md). The limit given is
# the largest that fits the job's memory.
OVERHEAD_MIB=32
OVERHEAD_THREAD_MIB=24
OVERHEAD_THREAD_PERCENT=2
# Below this limit (MiB) the job's memory is too small: the task refuses.
MIN_LIMIT_MIB=64

usage() {
  echo "usage: backfill.sh LIST OUTDIR MODE [flowtuple-series options...]" >&2
  echo "       backfill.sh --report LIST OUTDIR" >&2
  echo "       backfill.sh --name LINE..." >&2
  exit 2
}

# The output name of a LIST line, relative to OUTDIR, without `.series`
# (a pure function of the line; the rules are those of --name):
#   /a/b/ucsd-nt.1600000000.flowtuple.avro   -> ucsd-nt.1600000000.flowtuple
#   s3://bucket/y=2024/m=01/x.flowtuple.avro -> y=2024/m=01/x.flowtuple
#   s3://bucket/y=2024/m=01/d=05/            -> y=2024/m=01/d=05
# A local path gives its file name without its last extension. A URL
# (SCHEME://...) gives its key path: what follows the first component (the
# bucket, container or host), without `?query` or `#fragment`; an object
# loses its last extension, a prefix (ending in `/`) its trailing `/`; the
# key's directories become directories under OUTDIR. Sets `name`, or prints
# why there is none and returns 1.
output_name() {
  local line=$1 path prefix=0
  case $line in
    *://*)
      path=${line#*://}
      path=${path%%[?#]*}
      case $path in
        */*) path=${path#*/} ;;
        *) path= ;;
      esac
      case $path in */) prefix=1 ;; esac
      while [ "${path%/}" != "$path" ]; do path=${path%/}; done
      ;;
    *)
      path=${line##*/}
      ;;
  esac
  if [ "$prefix" = 0 ] && [[ ${path##*/} == *.* ]]; then
    path=${path%.*}
  fi
  case /$path/ in
    // | *//* | */./* | */../*)
      echo "backfill: no output name for \`$line\` (an empty, \`.\` or \`..\` part in its name)" >&2
      return 1
      ;;
  esac
  name=$path
}

# Whether PATH is absent or a regular file (not a symlink).
absent_or_regular() {
  if [ -L "$1" ] || { [ -e "$1" ] && [ ! -f "$1" ]; }; then
    local kind=special
    if [ -L "$1" ]; then kind=symlink; elif [ -d "$1" ]; then kind=directory
    elif [ -p "$1" ]; then kind=FIFO; elif [ -S "$1" ]; then kind=socket; fi
    echo "backfill: $1 is a $kind, not a regular file: left alone (move it away and resubmit)" >&2
    return 1
  fi
}

# Reads LIST: its non-blank lines into `entries` ("NUMBER<TAB>LINE"; awk
# reads it, as bash reads a pipe a byte at a time) and their output names
# into `names` (empty for a line without one). Exits 2 if two lines have
# one name: their tasks would write one output.
read_list() {
  [ -r "$1" ] || { echo "backfill: cannot read LIST $1" >&2; exit 2; }
  mapfile -t entries < <(awk 'NF { print NR "\t" $0 }' "$1")
  names=()
  local -A seen=()
  local entry n name
  for entry in "${entries[@]}"; do
    n=${entry%%$'\t'*}
    if output_name "${entry#*$'\t'}" 2>/dev/null; then
      if [ -n "${seen[$name]:-}" ]; then
        echo "backfill: LIST lines ${seen[$name]} and $n have one output name, $name.series" >&2
        exit 2
      fi
      seen[$name]=$n
      names+=("$name")
    else
      names+=("")
    fi
  done
}

# --report LIST OUTDIR: done, failed and missing over the whole list.
report() {
  local list=$1 outdir=$2 i n line name out done=0 failed=0 missing=0
  local failures=""
  read_list "$list"
  local total=${#entries[@]}
  for ((i = 0; i < total; i++)); do
    n=${entries[i]%%$'\t'*} line=${entries[i]#*$'\t'} name=${names[i]}
    if [ -z "$name" ]; then
      failures+="FAILED 2 $line"$'\n'"  (LIST line $n has no output name)"$'\n'
      failed=$((failed + 1))
      continue
    fi
    out=$outdir/$name.series
    if [ -f "$out" ] && [ ! -L "$out" ]; then
      done=$((done + 1))
    elif ! absent_or_regular "$out" 2>/dev/null; then
      failures+="FAILED 2 $line"$'\n'"  ($out is not a regular file)"$'\n'
      failed=$((failed + 1))
    elif [ -f "$outdir/$name.failed" ]; then
      local first rest
      first=$(head -n 1 "$outdir/$name.failed")
      rest=$(tail -n +2 "$outdir/$name.failed" | tail -n 5 | sed 's/^/  /')
      failures+="$first"$'\n'${rest:+$rest$'\n'}
      failed=$((failed + 1))
    else
      missing=$((missing + 1))
    fi
  done
  printf '%s' "$failures"
  echo "$total inputs: $done done, $failed failed, $missing missing"
  [ "$done" = "$total" ]
}

# Replaces DEST by SRC (a rename), unless DEST is not a regular file.
publish() {
  absent_or_regular "$2" && mv -f -T -- "$1" "$2"
}

# Logs `FAILED STATUS LINE` and records it, with the last error lines, in
# NAME.failed (when the line has a name and that path is a regular file).
fail() {
  local status=$1 line=$2
  echo "FAILED $status $line"
  [ -n "${failed:-}" ] || return 1
  if absent_or_regular "$failed.part" 2>/dev/null; then
    { echo "FAILED $status $line"; tail -n 20 /dev/fd/3; } >"$failed.part" &&
      publish "$failed.part" "$failed" 2>/dev/null
  fi
  return 1
}

# Opens an empty, already unlinked file on fd 3 for one input's error
# messages (read back through /dev/fd/3), so that a task killed outright
# leaves no file behind.
fresh_errors() {
  local file
  file=$(mktemp "${tmp:-/tmp}/backfill.XXXXXX") || exit 2
  exec 3>"$file"
  rm -f -- "$file"
}

# Runs flowtuple-series on one input unless its output exists; logs and
# records the outcome.
run_one() {
  local line=$1 name status path
  out= part= failed=
  fresh_errors
  output_name "$line" 2>&3 || { cat /dev/fd/3 >&2; fail 2 "$line"; return; }
  out=$outdir/$name.series part=$outdir/$name.series.part failed=$outdir/$name.failed
  for path in "$out" "$part" "$failed" "$failed.part"; do
    if ! absent_or_regular "$path" 2>&3; then
      cat /dev/fd/3 >&2
      [ "$path" = "$failed" ] || [ "$path" = "$failed.part" ] && failed=
      fail 2 "$line"
      return
    fi
  done
  # A .part left by a task killed outright.
  rm -f -- "$part" "$failed.part"
  if [ -e "$out" ]; then
    rm -f -- "$failed"
    echo "done $line"
    return 0
  fi
  mkdir -p -- "$(dirname -- "$out")" || { fail 2 "$line"; return; }
  input=$line
  [[ $input == -* ]] && input=./$input
  "${command[@]}" "$input" >"$part" 2>&3 &
  child=$!
  wait "$child"
  status=$?
  child=
  cat /dev/fd/3 >&2
  if [ "$status" = 0 ] && publish "$part" "$out" 2>&3; then
    rm -f -- "$failed"
    echo "ok $line"
    return 0
  fi
  [ "$status" = 0 ] && { tail -n 1 /dev/fd/3 >&2; status=2; }
  rm -f -- "$part"
  fail "$status" "$line"
}

# SIGTERM (scancel, a time limit, preemption, requeue) or SIGINT: stop
# flowtuple-series and remove the output it was writing.
cancelled() {
  local signal=$1
  if [ -n "${child:-}" ]; then
    kill -TERM "$child" 2>/dev/null
    wait "$child"
    rm -f -- "$part"
    echo "FAILED $((128 + signal)) $input (cancelled)"
  fi
  exit $((128 + signal))
}

# The memory limit for flowtuple-series from the job's memory (MiB), or
# nothing outside Slurm.
memory_limit() {
  if [ -n "${MEMORY_LIMIT:-}" ]; then
    echo "$MEMORY_LIMIT"
    return
  fi
  local mib=
  if [ -n "${SLURM_MEM_PER_NODE:-}" ]; then
    mib=$SLURM_MEM_PER_NODE
  elif [ -n "${SLURM_MEM_PER_CPU:-}" ]; then
    mib=$((SLURM_MEM_PER_CPU * ${SLURM_CPUS_ON_NODE:-${cpus:-1}}))
  fi
  [ -n "$mib" ] || return 0
  local threads=${cpus:-1}
  local fixed=$((OVERHEAD_MIB + OVERHEAD_THREAD_MIB * threads))
  local limit=$(((mib - fixed) * 100 / (100 + OVERHEAD_THREAD_PERCENT * threads)))
  if [ "$limit" -lt "$MIN_LIMIT_MIB" ]; then
    echo "backfill: the job's ${mib} MiB leave less than ${MIN_LIMIT_MIB} MiB for --memory-limit with ${threads} threads (flowtuple-series needs ${OVERHEAD_MIB} MiB + ${OVERHEAD_THREAD_MIB} MiB and ${OVERHEAD_THREAD_PERCENT}% of the limit a thread beyond it): ask for more with --mem" >&2
    exit 2
  fi
  echo "${limit}M"
}

main() {
  [ $# -ge 3 ] || usage
  list=$1 outdir=$2 mode=$3
  shift 3
  read_list "$list"
  local task=0 count=1
  if [ -n "${SLURM_ARRAY_TASK_ID:-}" ]; then
    local min=${SLURM_ARRAY_TASK_MIN:?} max=${SLURM_ARRAY_TASK_MAX:?}
    count=${SLURM_ARRAY_TASK_COUNT:?}
    if [ "${SLURM_ARRAY_TASK_STEP:-1}" != 1 ] || [ $((max - min + 1)) != "$count" ]; then
      echo "backfill: the array must be a plain range (--array=0-$((count - 1))): resubmit the whole range, finished inputs are skipped" >&2
      exit 2
    fi
    task=$((SLURM_ARRAY_TASK_ID - min))
  fi
  bin=${FLOWTUPLE_SERIES:-flowtuple-series}
  cpus=${SLURM_CPUS_PER_TASK:-${SLURM_CPUS_ON_NODE:-}}
  command=("$bin")
  [ -n "$cpus" ] && command+=(-j "$cpus")
  local limit
  limit=$(memory_limit) || exit 2
  [ -n "$limit" ] && command+=(--memory-limit "$limit")
  tmp=${SLURM_TMPDIR:-${TMPDIR:-}}
  [ -n "$tmp" ] && command+=(--temp-dir "$tmp")
  command+=("$@" --mode "$mode")
  mkdir -p -- "$outdir" || exit 2
  trap 'cancelled 15' TERM
  trap 'cancelled 2' INT
  echo "backfill: task $task of $count runs: ${command[*]} INPUT" >&2
  local i status=0
  for ((i = task; i < ${#entries[@]}; i += count)); do
    run_one "${entries[i]#*$'\t'}" || status=1
  done
  exit "$status"
}

case ${1:-} in
  --report)
    [ $# = 3 ] || usage
    report "$2" "$3"
    exit
    ;;
  --name)
    [ $# -ge 2 ] || usage
    shift
    for line in "$@"; do
      output_name "$line" || exit 2
      echo "$name.series"
    done
    exit 0
    ;;
  -h | --help) sed -n '2,/^# done, 1 not all done/s/^# \{0,1\}//p' -- "$0"; exit 0 ;;
  '') usage ;;
esac
main "$@"
