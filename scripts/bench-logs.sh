#!/usr/bin/env bash
# Benchmark of `pgtriage timeline` against pgBadger on a big stderr log.
#
# Generates (once; reused while it exists) a stderr log of at least $BENCH_MB MB (default 400)
# from a throwaway cluster with log_statement=all + log_min_duration_statement=0 under pgbench,
# alternating the simple and prepared protocols. Then times, on that same file:
#   grep -c duration                       (the floor: reading the bytes)
#   pgtriage timeline, 1 parsing thread (+ a SHA-256 reader thread) and all threads (release)
#   pgbadger, single process (-j 1)        (installed with apt-get if missing)
# and prints MB/s and peak RSS (/usr/bin/time -v) for each.
#
# Usage: scripts/bench-logs.sh [LOGFILE]
#   env: BENCH_MB, PGTRIAGE_PG_BINDIR, SKIP_PGBADGER=1, BENCH_GENERATE_ONLY=1,
#        BENCH_ROUNDS=N (default 1: each reader N times, interleaved; the median is printed),
#        BENCH_BASELINE=/path/to/an/older/pgtriage (timed the same way in the same rounds, for a
#        before/after on a shared machine: compare the ratios to grep, not the seconds)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
LOG=${1:-/tmp/pgtriage-bench/postgresql.log}
MB=${BENCH_MB:-400}
BIN=${PGTRIAGE_PG_BINDIR:-$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)}
PREFIX='%m [%p] %q%u@%d '

size_mb() { echo $(( $(stat -c %s "$1" 2>/dev/null || echo 0) / 1048576 )); }

generate() {
  local work
  work=$(mktemp -d /tmp/pgtriage-benchgen-XXXXXX)
  local as=()
  if [ "$(id -u)" = 0 ]; then chown postgres: "$work"; as=(runuser -u postgres --); fi
  local port=$((20000 + RANDOM % 20000))
  "${as[@]}" "$BIN/initdb" -D "$work/data" -U postgres --auth=trust --locale=C --no-sync >/dev/null
  cat >>"$work/data/postgresql.conf" <<EOF
listen_addresses = ''
unix_socket_directories = '$work'
port = $port
fsync = off
synchronous_commit = off
logging_collector = on
log_destination = 'stderr'
log_directory = 'log'
log_filename = 'postgresql.log'
log_rotation_size = 0
log_rotation_age = 0
log_statement = 'all'
log_min_duration_statement = 0
log_line_prefix = '$PREFIX'
log_connections = on
log_disconnections = on
log_checkpoints = on
log_autovacuum_min_duration = 0
EOF
  "${as[@]}" "$BIN/pg_ctl" -D "$work/data" -w -l "$work/startup.log" start >/dev/null
  trap '"${as[@]}" "$BIN/pg_ctl" -D "$work/data" -m fast stop >/dev/null 2>&1 || true' EXIT
  "$BIN/pgbench" -h "$work" -p "$port" -U postgres -i -s 5 -q postgres >/dev/null 2>&1
  local mode=simple
  while [ "$(size_mb "$work/data/log/postgresql.log")" -lt "$MB" ]; do
    "$BIN/pgbench" -h "$work" -p "$port" -U postgres -c 4 -j 2 -T 20 -M "$mode" postgres >/dev/null 2>&1 || true
    if [ "$mode" = simple ]; then mode=prepared; else mode=simple; fi
    echo "  generated $(size_mb "$work/data/log/postgresql.log") MB" >&2
  done
  "${as[@]}" "$BIN/pg_ctl" -D "$work/data" -m fast stop >/dev/null
  trap - EXIT
  mkdir -p "$(dirname "$LOG")"
  mv "$work/data/log/postgresql.log" "$LOG"
  rm -rf "$work"
}

if [ "$(size_mb "$LOG")" -lt "$MB" ]; then
  echo "generating a ${MB} MB log at $LOG (pgbench, simple and prepared protocols)…" >&2
  generate
fi
[ "${BENCH_GENERATE_ONLY:-0}" = 1 ] && exit 0
BYTES=$(stat -c %s "$LOG")
echo "log: $LOG, $((BYTES / 1048576)) MB, $(wc -l <"$LOG") lines, $(nproc) cores"

(cd "$ROOT" && cargo build --release -q)
PGTRIAGE="$ROOT/target/release/pgtriage"

ROUNDS=${BENCH_ROUNDS:-1}
RESULTS=$(mktemp -d)

# run NAME COMMAND…: one timed run; wall seconds and peak RSS (MB) appended to RESULTS/NAME.
run() {
  local name=$1; shift
  local out
  out=$(mktemp)
  # Not /dev/null: GNU grep stops at the first match when its output is discarded.
  /usr/bin/time -v "$@" >/tmp/pgtriage-bench-stdout 2>"$out" || true
  awk '/Elapsed \(wall clock\)/ { n = split($NF, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; w = s }
       /Maximum resident set size/ { split($0, f, ": "); r = int(f[2] / 1024) }
       END { print w, r }' "$out" >>"$RESULTS/$name"
  rm -f "$out"
}

# report NAME: the median wall time of its runs, MB/s, peak RSS, and the median of its ratios to
# grep run by run (a reader and the grep of its round share the machine's load of the moment).
report() {
  local name=$1
  local ratio
  ratio=$(paste -d' ' "$RESULTS/grep -c duration (floor)" "$RESULTS/$name" |
    awk '{ print $3 / ($1 > 0 ? $1 : 0.01) }' | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')
  sort -n "$RESULTS/$name" | awk -v n="$name" -v b="$BYTES" -v q="$ratio" -v k="$ROUNDS" '
    { w[NR] = $1; r[NR] = $2; all = all sprintf(" %.2f", $1) }
    END { m = w[int((NR + 1) / 2)]; rss = r[int((NR + 1) / 2)]
          printf "%-34s %8.2f s %9.1f MB/s %7d MB peak RSS %6.1fx grep", n, m, (b / 1048576) / (m > 0 ? m : 0.001), rss, q
          if (k > 1) printf "   (runs:%s)", all
          printf "\n" }'
}

cat "$LOG" >/dev/null # warm the page cache: every reader gets the same start
NAMES=("grep -c duration (floor)" "pgtriage timeline, 1 parse thread" "pgtriage timeline, $(nproc) threads")
[ -n "${BENCH_BASELINE:-}" ] && NAMES+=("baseline, 1 parse thread" "baseline, $(nproc) threads")
for _ in $(seq "$ROUNDS"); do
  run "grep -c duration (floor)" grep -c duration "$LOG"
  # --threads 1 is one parsing thread; a regular file's SHA-256 is computed by a second thread
  # reading the file on its own (I/O and hashing overlap the parsing).
  run "pgtriage timeline, 1 parse thread" "$PGTRIAGE" timeline --log "$LOG" --format jsonl --threads 1
  run "pgtriage timeline, $(nproc) threads" "$PGTRIAGE" timeline --log "$LOG" --format jsonl
  if [ -n "${BENCH_BASELINE:-}" ]; then
    run "baseline, 1 parse thread" "$BENCH_BASELINE" timeline --log "$LOG" --format jsonl --threads 1
    run "baseline, $(nproc) threads" "$BENCH_BASELINE" timeline --log "$LOG" --format jsonl
  fi
done
for name in "${NAMES[@]}"; do report "$name"; done
if [ "${SKIP_PGBADGER:-0}" != 1 ]; then
  if ! command -v pgbadger >/dev/null; then
    echo "installing pgbadger (apt-get)…" >&2
    apt-get install -y -q pgbadger >/dev/null 2>&1 || { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q pgbadger >/dev/null 2>&1; }
  fi
  run "pgbadger -j 1" pgbadger -j 1 -f stderr --prefix "$PREFIX" -o /tmp/pgtriage-bench-pgbadger.txt -x text "$LOG"
  report "pgbadger -j 1"
fi
rm -rf "$RESULTS"
