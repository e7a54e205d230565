#!/usr/bin/env bash
# Benchmark: `pgtriage collect` with a database (TABLES tables), a server log (LOG_COPIES copies
# of that server's own log) and a synthetic repository (COMMITS commits,
# scripts/gen-migrations-repo.py), each source alone and all three together. build_evidence
# reads the three at the same time, so together should cost about the slowest one alone
# (issue #16 goal: within 1.2×). Prints the figures; asserts nothing.
#   usage: scripts/bench-gather.sh [TABLES (10000)] [COMMITS (5000)] [LOG_COPIES (15)]
#   PGTRIAGE_BIN: an already built binary instead of the release build.
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

timed() { # timed LABEL ARGS… : wall seconds of one collect
  local label=$1; shift
  local t0 t1
  t0=$(date +%s.%N)
  "$bin" collect "$@" -o "$PG_DIR/$label.json" >/dev/null 2>&1
  t1=$(date +%s.%N)
  awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }'
}
logargs=(--log "$log" --log-line-prefix "$prefix" --log-timezone UTC)
"$bin" collect --db "$url" -o "$PG_DIR/warmup.json" >/dev/null 2>&1
db=$(timed db --db "$url")
logs=$(timed logs "${logargs[@]}")
rep=$(timed repo --repo "$repo")
all=$(timed all --db "$url" "${logargs[@]}" --repo "$repo")
slowest=$(printf '%s\n' "$db" "$logs" "$rep" | sort -g | tail -n 1)
sum=$(awk -v a="$db" -v b="$logs" -v c="$rep" 'BEGIN { print a + b + c }')
printf 'database alone %s s, logs alone %s s, repository alone %s s (sum %s s)\n' "$db" "$logs" "$rep" "$sum"
printf 'all three: %s s = %.2f× the slowest single source\n' "$all" "$(awk -v a="$all" -v s="$slowest" 'BEGIN { print a / s }')"
