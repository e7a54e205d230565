#!/usr/bin/env bash
# Benchmark of `pgtriage watch`, release build, throwaway cluster:
#  1. poll cost on 10,000 tables (5,000 foreign keys): `watch --interval 1ms --heartbeat`
#     polls back to back; the heartbeat gives the mean and max wall time of a poll, the server
#     log the statements sent per poll (fixed, whatever the table count);
#  2. resident memory over 10,000 polls of a small database: RSS at each heartbeat.
#   usage: scripts/bench-watch.sh [TABLES (10000)] [SECONDS (30)] [POLLS (10000)]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/pg-throwaway.sh

tables=${1:-10000}
seconds=${2:-30}
polls=${3:-10000}
cargo build --release -q
bin=$(pwd)/target/release/pgtriage

pg_throwaway_start "log_line_prefix = '%m [%p] app=%a %q%u@%d '"
pg_psql postgres -c "CREATE DATABASE bench" -c "CREATE DATABASE small"
echo "creating $tables tables ($((tables / 2)) foreign keys)…"
pg_make_bench_tables bench "$tables"
pg_psql small -c "CREATE TABLE a (id int PRIMARY KEY); INSERT INTO a SELECT generate_series(1, 1000);
                  CREATE TABLE b (id int PRIMARY KEY); INSERT INTO b SELECT generate_series(1, 1000);" >/dev/null

# watch_for DB SECONDS HEARTBEAT LABEL: runs watch polling back to back, stops it with SIGTERM.
watch_for() {
  local db=$1 secs=$2 beat=$3 label=$4
  local out="$PG_DIR/watch-$label"
  "$bin" watch --db "$(pg_url "$db")" --interval 1ms --heartbeat "$beat" --out "$out" \
    >"$out.stdout" 2>"$out.stderr" &
  local pid=$!
  sleep "$secs"
  local t0 t1
  t0=$(date +%s.%N)
  kill -TERM "$pid"
  wait "$pid" || { echo "watch exited with $?"; }
  t1=$(date +%s.%N)
  printf '%s: stopped %.3f s after SIGTERM; events raised: %d\n' "$label" "$(echo "$t1 - $t0" | bc -l)" "$(wc -l <"$out.stdout")"
}

# For comparison, on the same server at the same time: `collect --tables-only`, the same
# snapshot plus connecting, writing the file and starting the process.
for r in 1 2 3; do
  t0=$(date +%s.%N)
  "$bin" collect --tables-only --db "$(pg_url bench)" -o "$PG_DIR/collect-$r.json" 2>/dev/null
  t1=$(date +%s.%N)
  printf 'collect --tables-only run %d: %.3f s\n' "$r" "$(echo "$t1 - $t0" | bc -l)"
done

# 1. Poll cost on the large database.
before=$(pg_count_pgtriage_statements)
watch_for bench "$seconds" 10s large
after=$(pg_count_pgtriage_statements)
polls_large=$(grep -o '[0-9]* since start' "$PG_DIR/watch-large.stderr" | tail -n 1 | awk '{print $1}' || true)
echo "large ($tables tables), heartbeats every 10 s:"
grep heartbeat "$PG_DIR/watch-large.stderr" | sed 's/^/  /'
# Statements per poll: the first poll and the connection's own set-up are in the count too, so
# divide by the polls made (+1 for the start) and round.
echo "  statements sent: $((after - before)) over $((polls_large + 1)) snapshots ≈ $(( (after - before) / (polls_large + 1) )) per poll"

# 2. Resident memory over $polls polls of the small database: heartbeat every 5 s until the
# count is reached.
out="$PG_DIR/watch-small"
"$bin" watch --db "$(pg_url small)" --interval 1ms --heartbeat 5s --out "$out" >"$out.stdout" 2>"$out.stderr" &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; pg_throwaway_stop' EXIT
while true; do
  sleep 5
  n=$(grep -o '[0-9]* since start' "$out.stderr" | tail -n 1 | awk '{print $1}' || true)
  if [ -n "$n" ] && [ "$n" -ge "$polls" ]; then break; fi
  kill -0 "$pid" 2>/dev/null || { echo "watch died:"; cat "$out.stderr"; exit 1; }
done
kill -TERM "$pid"; wait "$pid" || true
echo "small (2 tables), RSS every 5 s up to $polls polls:"
grep heartbeat "$out.stderr" | sed 's/^/  /'
echo "  events raised: $(wc -l <"$out.stdout")"
