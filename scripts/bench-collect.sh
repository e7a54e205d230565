#!/usr/bin/env bash
# Benchmark: `pgtriage collect` on a database of 10,000 tables (5,000 foreign keys), release
# build, throwaway cluster. Prints the wall time of each run and the number of statements the
# server received from application_name=pgtriage per run (from its log, log_statement=all).
# Goal: under 2 s, and the same number of statements whatever the table count.
#   usage: scripts/bench-collect.sh [TABLES (10000)] [RUNS (5)]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/pg-throwaway.sh

tables=${1:-10000}
runs=${2:-5}
cargo build --release -q
bin=target/release/pgtriage

pg_throwaway_start "log_line_prefix = '%m [%p] app=%a %q%u@%d '"
pg_psql postgres -c "CREATE DATABASE bench"
echo "creating $tables tables ($((tables / 2)) foreign keys)…"
pg_make_bench_tables bench "$tables"
url=$(pg_url bench)


"$bin" collect --db "$url" -o "$PG_DIR/warmup.json" 2>/dev/null   # warm the catalog caches
before=$(pg_count_pgtriage_statements)
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
