#!/usr/bin/env bash
# Benchmark: the cost of a scheduled baseline, `pgtriage collect --tables-only`, against a full
# `collect`, on a database of 10,000 tables (5,000 foreign keys), release build, throwaway
# cluster with the server's default max_locks_per_transaction (64) unless given.
# Prints per mode: mean wall time, CPU time of the pgtriage process, statements sent, evidence
# file size, and the projected cost of running it every 5 minutes for a day.
#   usage: scripts/bench-tables-only.sh [TABLES (10000)] [RUNS (5)] [MAX_LOCKS (64)]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/pg-throwaway.sh

tables=${1:-10000}
runs=${2:-5}
max_locks=${3:-64}
cargo build --release -q
bin=target/release/pgtriage

pg_throwaway_start "log_line_prefix = '%m [%p] app=%a %q%u@%d '" \
  "max_locks_per_transaction = $max_locks"
pg_psql postgres -c "CREATE DATABASE bench"
echo "creating $tables tables ($((tables / 2)) foreign keys), max_locks_per_transaction=$max_locks…"
pg_make_bench_tables bench "$tables"
url=$(pg_url bench)

# mode_run LABEL [collect flags…]
mode_run() {
  local label=$1; shift
  local out="$PG_DIR/$label"
  if ! "$bin" collect --db "$url" -o "$out-warmup.json" "$@" 2>"$out.err"; then
    printf '%-12s FAILED: %s\n' "$label" "$(cat "$out.err")"
    return
  fi
  local before total cpu
  before=$(pg_count_pgtriage_statements)
  total=0
  cpu=0
  for r in $(seq 1 "$runs"); do
    local t0 t1 c
    t0=$(date +%s.%N)
    c=$( { /usr/bin/time -f '%U %S' "$bin" collect --db "$url" -o "$out-$r.json" "$@" 2>&1 >/dev/null; } | tail -n 1 )
    t1=$(date +%s.%N)
    total=$(echo "$total + $t1 - $t0" | bc -l)
    cpu=$(echo "$cpu + $(echo "$c" | awk '{print $1 + $2}')" | bc -l)
  done
  sleep 1
  local after size n
  after=$(pg_count_pgtriage_statements)
  size=$(stat -c %s "$out-1.json")
  n=$(python3 -c "import json,sys; print(len(json.load(open(sys.argv[1]))['database']['tables']))" "$out-1.json")
  local mean
  mean=$(echo "$total / $runs" | bc -l)
  printf '%-12s tables %s  wall %.3f s  client CPU %.3f s  statements %d  evidence %.1f MB  per day at */5: %.0f s wall, %.0f MB\n' \
    "$label" "$n" "$mean" "$(echo "$cpu / $runs" | bc -l)" "$(( (after - before) / runs ))" \
    "$(echo "$size / 1048576" | bc -l)" "$(echo "$mean * 288" | bc -l)" "$(echo "$size * 288 / 1048576" | bc -l)"
}

mode_run full
mode_run tables-only --tables-only

# What the baseline is for: `verify` against it (reads every table once per orphan check and
# sequence, so this is the cost of the restore check, not of the scheduled baseline).
for label in tables-only full; do
  t0=$(date +%s.%N)
  set +e
  "$bin" verify --baseline "$PG_DIR/$label-1.json" --db "$url" --format json >"$PG_DIR/verify-$label.json" 2>"$PG_DIR/verify-$label.err"
  code=$?
  set -e
  t1=$(date +%s.%N)
  printf 'verify against the %s baseline: %.3f s, exit %d, %s\n' "$label" "$(echo "$t1 - $t0" | bc -l)" "$code" \
    "$(python3 -c "import json,sys; r=json.load(open(sys.argv[1])); bad=[(k, c.get('name') or c.get('sequence'), c['status'], c['note']) for k in ('tables','foreign_keys','sequences') for c in r[k] if c['status'] != 'pass']; print(len(r['tables']), 'tables,', len(r['foreign_keys']), 'foreign keys,', len(r['sequences']), 'sequences checked;', len(bad), 'not passed', bad[:3])" "$PG_DIR/verify-$label.json" 2>/dev/null || cat "$PG_DIR/verify-$label.err")"
done
