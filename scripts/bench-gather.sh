#!/usr/bin/env bash
# Benchmark: `pgtriage collect` with a database (TABLES tables), a server log (LOG_COPIES copies
# of that server's own log) and a synthetic repository (COMMITS commits,
# scripts/gen-migrations-repo.py), each source alone and all three together. build_evidence
# reads the three at the same time, so together should cost about the slowest one alone
# (issue #16 goal: within 1.2×). For each: the best wall time of RUNS (default 3), pgtriage's
# CPU (user + system, /usr/bin/time) and the server's (its backends' CPU), then the bound the two
# cores set (all the CPU / the cores) and the phases of the all-three run (PGTRIAGE_TIMING=1 on
# stderr: when each source started and ended). Prints the figures; asserts nothing.
#   usage: scripts/bench-gather.sh [TABLES (10000)] [COMMITS (5000)] [LOG_COPIES (15)]
#   PGTRIAGE_BIN: an already built binary instead of the release build. RUNS: runs per case.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/pg-throwaway.sh

tables=${1:-10000}
commits=${2:-5000}
copies=${3:-15}
if [ -n "${PGTRIAGE_BIN:-}" ]; then bin=$PGTRIAGE_BIN; else cargo build --release -q; bin=target/release/pgtriage; fi

prefix='%m [%p] app=%a %q%u@%d '
pg_throwaway_start "log_line_prefix = '$prefix'"
pg_psql postgres -c "CREATE DATABASE bench"
echo "creating $tables tables…"
pg_make_bench_tables bench "$tables"
url=$(pg_url bench)
repo="$PG_DIR/repo"
git init -q -b main "$repo"
python3 scripts/gen-migrations-repo.py "$commits" | git -C "$repo" fast-import --quiet
git -C "$repo" reset -q --hard main
log="$PG_DIR/bench.log"
for _ in $(seq 1 "$copies"); do cat "$PG_DIR/data/log/postgresql.log"; done > "$log"
printf 'log: %s bytes; repository: %s commits\n' "$(stat -c %s "$log")" "$commits"

# The server's CPU: a backend's user+system time is added to the postmaster's cutime/cstime
# (fields 16-17 of /proc/PID/stat, 1/100 s ticks) when it exits, so the difference over one
# collect is what its connection cost the server.
postmaster=$(head -n 1 "$PG_DIR/data/postmaster.pid")
server_ticks() { awk '{ sub(/^.*\) /, ""); print $14 + $15 }' "/proc/$postmaster/stat"; }

runs=${RUNS:-3}
# timed LABEL ARGS… : "WALL CLIENT_CPU SERVER_CPU" (seconds) of the best of RUNS collects; the
# best run's PGTRIAGE_TIMING lines are kept in $PG_DIR/LABEL.timing.
timed() {
  local label=$1; shift
  local best="" t0 t1 s0 s1 wall cpu
  for _ in $(seq 1 "$runs"); do
    s0=$(server_ticks)
    t0=$(date +%s.%N)
    PGTRIAGE_TIMING=1 /usr/bin/time -f '%U %S' -o "$PG_DIR/$label.time" \
      "$bin" collect "$@" -o "$PG_DIR/$label.json" >/dev/null 2>"$PG_DIR/$label.err"
    t1=$(date +%s.%N)
    s1=$(server_ticks)
    wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
    cpu=$(awk '{ printf "%.2f", $1 + $2 }' "$PG_DIR/$label.time")
    if [ -z "$best" ] || awk -v a="$wall" -v b="${best%% *}" 'BEGIN { exit !(a < b) }'; then
      best="$wall $cpu $(awk -v a="$s0" -v b="$s1" 'BEGIN { printf "%.2f", (b - a) / 100 }')"
      grep '^timing:' "$PG_DIR/$label.err" > "$PG_DIR/$label.timing" || true
    fi
  done
  echo "$best"
}
logargs=(--log "$log" --log-line-prefix "$prefix" --log-timezone UTC)
"$bin" collect --db "$url" -o "$PG_DIR/warmup.json" >/dev/null 2>&1
read -r db db_cpu db_srv < <(timed db --db "$url")
read -r logs logs_cpu logs_srv < <(timed logs "${logargs[@]}")
read -r rep rep_cpu rep_srv < <(timed repo --repo "$repo")
read -r all all_cpu all_srv < <(timed all --db "$url" "${logargs[@]}" --repo "$repo")
slowest=$(printf '%s\n' "$db" "$logs" "$rep" | sort -g | tail -n 1)
sum=$(awk -v a="$db" -v b="$logs" -v c="$rep" 'BEGIN { print a + b + c }')
printf '%-11s %8s %11s %11s\n' source "wall s" "client CPU" "server CPU"
printf '%-11s %8s %11s %11s\n' database "$db" "$db_cpu" "$db_srv" logs "$logs" "$logs_cpu" "$logs_srv" \
  repository "$rep" "$rep_cpu" "$rep_srv" "all three" "$all" "$all_cpu" "$all_srv"
cores=$(nproc)
printf 'best of %s runs; sum of the three alone %s s; all three: %s s = %.2f× the slowest single source\n' \
  "$runs" "$sum" "$all" "$(awk -v a="$all" -v s="$slowest" 'BEGIN { print a / s }')"
printf 'CPU of all three (client + server) %.2f s on %s cores: no schedule is faster than %.2f s = %.2f× the slowest\n' \
  "$(awk -v a="$all_cpu" -v b="$all_srv" 'BEGIN { print a + b }')" "$cores" \
  "$(awk -v a="$all_cpu" -v b="$all_srv" -v n="$cores" 'BEGIN { print (a + b) / n }')" \
  "$(awk -v a="$all_cpu" -v b="$all_srv" -v n="$cores" -v s="$slowest" 'BEGIN { print (a + b) / n / s }')"
echo "phases of the best all-three run (PGTRIAGE_TIMING=1):"
sed 's/^/  /' "$PG_DIR/all.timing"
