#!/usr/bin/env bash
# Benchmark: `pgtriage collect` on a database of 10,000 tables (5,000 foreign keys), release
# build, throwaway cluster. Prints the wall time of each run and the number of statements the
# server received from application_name=pgtriage per run (from its log, log_statement=all), and
# the server time of each statement (parse + bind + execute, from log_min_duration_statement = 0),
# averaged over the runs, slowest first.
# Goal: under 0.5 s (issue #16), and the same number of statements whatever the table count.
#   usage: scripts/bench-collect.sh [TABLES (10000)] [RUNS (5)]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/pg-throwaway.sh

tables=${1:-10000}
runs=${2:-5}
# PGTRIAGE_BIN: an already built binary (e.g. to compare two builds on the same data).
if [ -n "${PGTRIAGE_BIN:-}" ]; then bin=$PGTRIAGE_BIN; else cargo build --release -q; bin=target/release/pgtriage; fi

pg_throwaway_start "log_line_prefix = '%m [%p] app=%a %q%u@%d '" "log_min_duration_statement = 0"
pg_psql postgres -c "CREATE DATABASE bench"
echo "creating $tables tables ($((tables / 2)) foreign keys)…"
pg_make_bench_tables bench "$tables"
url=$(pg_url bench)


"$bin" collect --db "$url" -o "$PG_DIR/warmup.json" 2>/dev/null   # warm the catalog caches
before=$(pg_count_pgtriage_statements)
log_from=$(($(wc -l < "$PG_DIR/data/log/postgresql.log") + 1))
total=0
for r in $(seq 1 "$runs"); do
  t0=$(date +%s.%N)
  "$bin" collect --db "$url" -o "$PG_DIR/run$r.json" 2>/dev/null
  t1=$(date +%s.%N)
  secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')
  total=$(awk -v a="$total" -v b="$secs" 'BEGIN { print a + b }')
  printf 'run %d: %.3f s\n' "$r" "$secs"
done
sleep 1
after=$(pg_count_pgtriage_statements)
n_tables=$(grep -c '"relkind"' "$PG_DIR/run1.json")
n_fks=$(grep -c '"on_delete"' "$PG_DIR/run1.json")
size=$(stat -c %s "$PG_DIR/run1.json")
printf 'tables in evidence: %s, foreign keys: %s, evidence file: %s bytes\n' "$n_tables" "$n_fks" "$size"
printf 'mean wall time: %.3f s over %d runs\n' "$(awk -v a="$total" -v n="$runs" 'BEGIN { print a / n }')" "$runs"
printf 'statements per collect: %d\n' "$(( (after - before) / runs ))"

# Server time per statement: sqlx uses the extended protocol, so each statement logs
# `duration: … parse NAME: SQL`, `duration: … bind NAME: SQL`, then `execute NAME: SQL` followed
# by a bare `duration: … ms` from the same backend (log_statement already printed the text).
echo "server time per statement (mean of $runs runs; parse+bind+execute):"
tail -n +"$log_from" "$PG_DIR/data/log/postgresql.log" | grep -E ' app=pgtriage ' | awk -v runs="$runs" '
  function label(s) { gsub(/[ \t]+/, " ", s); return substr(s, 1, 80) }
  {
    pid = $4
    if (match($0, /LOG:  duration: [0-9.]+ ms  (parse|bind) [^:]*: .*/)) {
      rest = substr($0, RSTART + 16); ms = rest + 0
      sql = rest; sub(/^[0-9.]+ ms +(parse|bind) /, "", sql)
      t[label(sql)] += ms; next
    }
    if (match($0, /LOG:  execute [^:]*: .*/)) {
      sql = substr($0, RSTART + 14); pending[pid] = label(sql); seen[label(sql)]++; next
    }
    if (match($0, /LOG:  duration: [0-9.]+ ms$/) && (pid in pending)) {
      rest = substr($0, RSTART + 16); t[pending[pid]] += rest + 0; delete pending[pid]
    }
  }
  END {
    for (k in t) { total += t[k]; printf "%10.1f ms  %s\n", t[k] / runs, k | "sort -rn" }
    close("sort -rn")
    printf "%10.1f ms  total server time per collect\n", total / runs
  }'
