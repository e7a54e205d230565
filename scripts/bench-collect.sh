#!/usr/bin/env bash
# Benchmark: `pgtriage collect` on a database of 10,000 tables (5,000 foreign keys, 5,000
# sequences), release build, throwaway cluster. Prints, for the runs after one warm-up:
#   - the wall time of each run, their mean and its ratio to the 0.5 s goal (issue #16), and
#     pgtriage's own CPU time (user + system: decoding the rows, writing the evidence file);
#   - the statements the server received from application_name=pgtriage per run (from its log,
#     log_statement=all: the goal is the same number whatever the table count) and the
#     connections they came on (the snapshot's slow statements run on sibling sessions);
#   - the server time of each statement (its execution, log_min_duration_statement = 0),
#     mean per run, slowest first. Statements on sibling sessions overlap: their sum is more
#     than the wall time;
#   - the machine's load average before and after (a busy machine stretches everything).
#   usage: scripts/bench-collect.sh [TABLES (10000)] [RUNS (5)]
#   PGTRIAGE_BIN=path   an already built binary (e.g. to compare two builds on the same data)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/pg-throwaway.sh

tables=${1:-10000}
runs=${2:-5}
goal=0.5
if [ -n "${PGTRIAGE_BIN:-}" ]; then bin=$PGTRIAGE_BIN; else cargo build --release -q; bin=target/release/pgtriage; fi

pg_throwaway_start "log_line_prefix = '%m [%p] app=%a %q%u@%d '" "log_min_duration_statement = 0"
pg_psql postgres -c "CREATE DATABASE bench"
echo "creating $tables tables ($((tables / 2)) foreign keys)…"
pg_make_bench_tables bench "$tables"
url=$(pg_url bench)
log=$PG_DIR/data/log/postgresql.log

"$bin" collect --db "$url" -o "$PG_DIR/warmup.json" 2>/dev/null   # warm the OS and shared buffers
sleep 1
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
before=$(pg_count_pgtriage_statements)
sessions_before=$(grep -cE 'app=pgtriage .*LOG:  disconnection:' "$log" || true)
log_from=$(($(wc -l < "$log") + 1))
total=0
cpu_total=0
for r in $(seq 1 "$runs"); do
  t0=$(date +%s.%N)
  /usr/bin/time -f '%U %S' -o "$PG_DIR/cpu$r" "$bin" collect --db "$url" -o "$PG_DIR/run$r.json" 2>/dev/null
  t1=$(date +%s.%N)
  secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')
  cpu=$(awk '{ print $1 + $2 }' "$PG_DIR/cpu$r")
  total=$(awk -v a="$total" -v b="$secs" 'BEGIN { print a + b }')
  cpu_total=$(awk -v a="$cpu_total" -v b="$cpu" 'BEGIN { print a + b }')
  printf 'run %d: %.3f s (pgtriage CPU %.3f s)\n' "$r" "$secs" "$cpu"
done
sleep 1
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
after=$(pg_count_pgtriage_statements)
sessions_after=$(grep -cE 'app=pgtriage .*LOG:  disconnection:' "$log" || true)
n_tables=$(grep -c '"relkind"' "$PG_DIR/run1.json")
n_fks=$(grep -c '"on_delete"' "$PG_DIR/run1.json")
size=$(stat -c %s "$PG_DIR/run1.json")
mean=$(awk -v a="$total" -v n="$runs" 'BEGIN { print a / n }')
printf 'tables in evidence: %s, foreign keys: %s, evidence file: %s bytes\n' "$n_tables" "$n_fks" "$size"
printf 'mean wall time: %.3f s over %d runs = %.2f x the %s s goal (%s)\n' "$mean" "$runs" \
  "$(awk -v m="$mean" -v g="$goal" 'BEGIN { print m / g }')" "$goal" \
  "$(awk -v m="$mean" -v g="$goal" 'BEGIN { print (m < g) ? "met" : "NOT met" }')"
printf 'pgtriage CPU (user + system) per collect: %.3f s\n' "$(awk -v a="$cpu_total" -v n="$runs" 'BEGIN { print a / n }')"
printf 'statements per collect: %d, on %d connections\n' "$(( (after - before) / runs ))" \
  "$(( (sessions_after - sessions_before) / runs ))"
printf 'load average (1, 5, 15 min): %s before, %s after, on %s cores\n' "$load_before" "$load_after" "$(nproc)"

# Server time per statement: sqlx uses the extended protocol, so each statement logs
# `duration: … parse NAME: SQL`, `duration: … bind NAME: SQL`, then `execute NAME: SQL` followed
# by a bare `duration: … ms` from the same backend (log_statement already printed the text).
# Only the execute's duration is counted (parse and bind are well under a millisecond here).
echo "server time per statement (mean of $runs runs, execution; sibling sessions overlap):"
# Multi-line SQL continues on tab-indented lines: they complete the label of the statement
# before them (the tables and the sequences statements begin alike).
tail -n +"$log_from" "$log" | awk -v runs="$runs" '
  function label(s) { gsub(/[ \t]+/, " ", s); gsub(/SNAPSHOT .[0-9A-F-]+./, "SNAPSHOT ...", s); return substr(s, 1, 90) }
  function flush() { if (open_pid != "") { pending[open_pid] = label(text); seen[label(text)]++ }; open_pid = "" }
  /^\t/ { if (open_pid != "" && length(text) < 200) text = text " " $0; next }
  { flush() }
  !/ app=pgtriage / { next }
  {
    pid = $4
    if (match($0, /LOG:  duration: [0-9.]+ ms  (parse|bind) [^:]*: .*/)) { next }
    if (match($0, /LOG:  execute [^:]*: .*/)) {
      text = substr($0, RSTART + 14); sub(/^[^:]*: /, "", text); open_pid = pid; next
    }
    if (match($0, /LOG:  statement: .*/)) {
      text = substr($0, RSTART + 16); open_pid = pid; next
    }
    if (match($0, /LOG:  duration: [0-9.]+ ms$/) && (pid in pending)) {
      rest = substr($0, RSTART + 16); t[pending[pid]] += rest + 0; delete pending[pid]
    }
  }
  END {
    for (k in t) {
      total += t[k]
      printf "%10.1f ms  %3d x  %s\n", t[k] / runs, seen[k] / runs, k | "sort -rn"
    }
    close("sort -rn")
    printf "%10.1f ms  total server time per collect (all sessions)\n", total / runs
  }'
