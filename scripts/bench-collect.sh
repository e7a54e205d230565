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
# Odd tables are parents, each even table references the one before it. Batches keep the lock
# table small.
batch=500
for start in $(seq 1 $batch "$tables"); do
  end=$((start + batch - 1)); [ "$end" -gt "$tables" ] && end=$tables
  pg_psql bench -c "
DO \$\$
BEGIN
  FOR i IN $start..$end LOOP
    IF i % 2 = 1 THEN
      EXECUTE format('CREATE TABLE t%s (id int PRIMARY KEY, v text)', i);
      EXECUTE format('INSERT INTO t%s VALUES (1, ''a''), (2, ''b'')', i);
    ELSE
      EXECUTE format('CREATE TABLE t%s (id serial PRIMARY KEY, parent_id int REFERENCES t%s(id) ON DELETE CASCADE)', i, i - 1);
    END IF;
  END LOOP;
END \$\$;" >/dev/null
done
pg_psql bench -c "VACUUM ANALYZE" >/dev/null
url=$(pg_url bench)

log="$PG_DIR/data/log/postgresql.log"
count_statements() { grep -cE "app=pgtriage .*LOG:  (statement|execute [^:]*):" "$log" || true; }

"$bin" collect --db "$url" -o "$PG_DIR/warmup.json" 2>/dev/null   # warm the catalog caches
before=$(count_statements)
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
after=$(count_statements)
n_tables=$(grep -c '"relkind"' "$PG_DIR/run1.json")
n_fks=$(grep -c '"on_delete"' "$PG_DIR/run1.json")
size=$(stat -c %s "$PG_DIR/run1.json")
printf 'tables in evidence: %s, foreign keys: %s, evidence file: %s bytes\n' "$n_tables" "$n_fks" "$size"
printf 'mean wall time: %.3f s over %d runs\n' "$(awk -v a="$total" -v n="$runs" 'BEGIN { print a / n }')" "$runs"
printf 'statements per collect: %d\n' "$(( (after - before) / runs ))"
