#!/usr/bin/env bash
# Benchmark of pgtriage's WAL scan (`pgtriage collect --wal DIR`) against `pg_waldump --stats`
# over the same segments, in the same run.
#
# A throwaway cluster (log_statement = none) runs pgbench until the WAL archive holds at least
# $BENCH_WAL_MB MB (default 2048), then the incident: a DELETE of 1000 pgbench_accounts rows
# and a TRUNCATE of pgbench_history. Both are archived (pg_switch_wal). Then, over the archive:
#   pg_waldump --stats -p ARCHIVE -s FIRST -e END      (decodes every record, prints counts)
#   pgtriage collect --wal ARCHIVE                     (native reader, one part per core)
#   the same with PGTRIAGE_WAL_READER=pg_waldump       (pg_waldump text per core, parsed)
#   pgtriage collect --wal ARCHIVE --since T           (bounded by the incident window: T is
#                                                       taken 5 s before the incident, while
#                                                       pgbench had just stopped; the read
#                                                       keeps its default 60 s of slack)
# each under /usr/bin/time -v: wall time, CPU and peak RSS. The report checks that the scan
# names the incident's transactions.
#
# Usage: scripts/bench-wal.sh
#   env: BENCH_WAL_MB (default 2048), BENCH_KEEP=1 (keep the cluster dir), PGTRIAGE_PG_BINDIR
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/pg-throwaway.sh
. "$ROOT/scripts/pg-throwaway.sh"
WAL_MB=${BENCH_WAL_MB:-2048}

(cd "$ROOT" && cargo build --release -q)
PGTRIAGE="$ROOT/target/release/pgtriage"

pg_throwaway_start "log_statement = 'none'" "max_wal_size = '4GB'" "checkpoint_timeout = '30min'" \
  "autovacuum = off" "log_connections = off" "log_disconnections = off"
if [ -n "${BENCH_KEEP:-}" ]; then trap - EXIT; echo "cluster kept in $PG_DIR"; fi
pg_psql postgres -c "CREATE DATABASE bench" >/dev/null
"$PG_BIN/pgbench" -q -i -s 20 -h "$PG_DIR" -p "$PG_PORT" -U postgres bench >/dev/null 2>&1

archive_mb() { du -sm "$PG_DIR/archive" | cut -f1; }
# The built-in TPC-B-like script, plus a bulk one (1000-row updates and inserts per transaction)
# so that gigabytes of WAL take minutes rather than an hour on a small machine: the same
# record types (Heap UPDATE/HOT_UPDATE/INSERT, Btree, COMMIT), denser.
cat > "$PG_DIR/bulk.sql" <<'SQL'
\set aid random(1, 1990000)
UPDATE pgbench_accounts SET abalance = abalance + 1 WHERE aid BETWEEN :aid AND :aid + 999;
INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) SELECT 1, 1, g, 1, now() FROM generate_series(:aid, :aid + 999) g;
SQL
echo "generating $WAL_MB MB of WAL with pgbench…"
while [ "$(archive_mb)" -lt "$WAL_MB" ]; do
  "$PG_BIN/pgbench" -n -c 4 -j 2 -T 20 -b tpcb-like@1 -f "$PG_DIR/bulk.sql@1" \
    -h "$PG_DIR" -p "$PG_PORT" -U postgres bench >/dev/null 2>&1
done

# The incident, a few seconds after the load: the window starts just before it.
sleep 5
SINCE=$(pg_psql postgres -At -c "SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')")
sleep 5
DELETE_XID=$(pg_psql bench -At -c "BEGIN; DELETE FROM pgbench_accounts WHERE aid <= 1000; SELECT txid_current(); COMMIT;" | grep -E '^[0-9]+$')
TRUNCATE_XID=$(pg_psql bench -At -c "BEGIN; TRUNCATE pgbench_history; SELECT txid_current(); COMMIT;" | grep -E '^[0-9]+$')
LAST=$(pg_psql postgres -At -c "SELECT pg_walfile_name(pg_switch_wal())")
until [ "$(pg_psql postgres -At -c "SELECT coalesce(last_archived_wal >= '$LAST', false) FROM pg_stat_archiver")" = t ]; do
  sleep 0.5
done

ARCHIVE="$PG_DIR/archive"
SEGMENTS=$(find "$ARCHIVE" -maxdepth 1 -regextype posix-extended -regex '.*/[0-9A-F]{24}' | wc -l)
FIRST=$(find "$ARCHIVE" -maxdepth 1 -regextype posix-extended -regex '.*/[0-9A-F]{24}' -printf '%f\n' | sort | head -1)
LASTSEG=$(find "$ARCHIVE" -maxdepth 1 -regextype posix-extended -regex '.*/[0-9A-F]{24}' -printf '%f\n' | sort | tail -1)
# Segment name → LSN (16 MB segments).
lsn_of() { printf '%X/%X' "$((16#${1:8:8}))" "$(( (16#${1:16:8}) * 16777216 ))"; }
START=$(lsn_of "$FIRST")
END_SEG=$(printf '%08X%08X%08X' "$((16#${LASTSEG:0:8}))" "$((16#${LASTSEG:8:8}))" "$(( (16#${LASTSEG:16:8}) + 1 ))")
END=$(lsn_of "$END_SEG")
echo "archive: $SEGMENTS segments, $(archive_mb) MB, $START – $END; incident xids: DELETE $DELETE_XID, TRUNCATE $TRUNCATE_XID"

measure() { # label, command…
  local label=$1; shift
  local out
  out=$(mktemp)
  /usr/bin/time -v "$@" >/dev/null 2>"$out" || true
  local wall rss user sys
  wall=$(grep 'Elapsed (wall clock)' "$out" | awk '{print $NF}')
  rss=$(grep 'Maximum resident set size' "$out" | awk '{print $NF}')
  user=$(grep 'User time' "$out" | awk '{print $NF}')
  sys=$(grep 'System time' "$out" | awk '{print $NF}')
  printf '%-34s wall %8s  user %7ss  sys %6ss  peak RSS %6d MB\n' "$label" "$wall" "$user" "$sys" "$((rss / 1024))"
  grep -E 'pg_waldump: error|pgtriage:' "$out" | head -2 || true
  rm -f "$out"
}

echo "cores: $(nproc)"
for round in 1 2; do
  echo "round $round"
  measure "pg_waldump --stats" "$PG_BIN/pg_waldump" --stats -p "$ARCHIVE" -s "$START" -e "$END"
  measure "pgtriage collect --wal" "$PGTRIAGE" collect --wal "$ARCHIVE" -o "$PG_DIR/wal-evidence.json"
  measure "pgtriage collect --wal --since" "$PGTRIAGE" collect --wal "$ARCHIVE" --since "$SINCE" -o "$PG_DIR/wal-evidence-bounded.json"
done
python3 - "$PG_DIR/wal-evidence.json" "$PG_DIR/wal-evidence-bounded.json" "$SINCE" <<'EOF'
import json, sys
whole = json.load(open(sys.argv[1]))["wal"]
bounded = json.load(open(sys.argv[2]))["wal"]
def key(t):  # RFC 3339 in UTC → comparable text with six fraction digits
    t = t.rstrip("Z").replace("+00:00", "")
    head, _, frac = t.partition(".")
    return head + "." + (frac + "000000")[:6]
since = key(sys.argv[3])
inside = [t for t in whole["transactions"] if t.get("end_at") and key(t["end_at"]) >= since]
w = bounded["window"]
print(f"bounded read: {w['segments_read']} segments decoded, {w['segments_skipped']} skipped; "
      f"LSN {bounded['start_lsn']} – {bounded['end_lsn']} (whole: {whole['start_lsn']} – {whole['end_lsn']}); "
      f"anchored at {w['complete_from_lsn']}")
same = [t["xid"] for t in bounded["transactions"]] == [t["xid"] for t in inside]
print(f"transactions ending after --since: bounded {len(bounded['transactions'])}, whole {len(inside)}: "
      + ("the same" if same else "DIFFER"))
EOF
measure "pgtriage, pg_waldump text reader" env PGTRIAGE_WAL_READER=pg_waldump "$PGTRIAGE" collect --wal "$ARCHIVE" -o "$PG_DIR/wal-evidence-waldump.json"
cmp -s <(python3 -c "import json,sys;print(json.dumps(json.load(open(sys.argv[1]))['wal']['transactions']))" "$PG_DIR/wal-evidence.json") \
       <(python3 -c "import json,sys;print(json.dumps(json.load(open(sys.argv[1]))['wal']['transactions']))" "$PG_DIR/wal-evidence-waldump.json") \
  && echo "native and pg_waldump readers: the same transactions" || echo "native and pg_waldump readers DIFFER"
# The peak RSS of the pg_waldump children is not in the parent's: measure one part alone.
measure "(one pg_waldump part, text)" sh -c "'$PG_BIN/pg_waldump' -p '$ARCHIVE' -s '$START' -e '$END' -r Heap -r Heap2 -r Transaction -r Standby -r Storage | tail -1"

python3 - "$PG_DIR/wal-evidence.json" "$DELETE_XID" "$TRUNCATE_XID" <<'EOF'
import json, sys
ev = json.load(open(sys.argv[1]))
txs = {t["xid"]: t for t in ev["wal"]["transactions"]}
for xid in sys.argv[2:]:
    t = txs.get(int(xid))
    assert t, f"xid {xid} not found"
    print(f"xid {xid}: {t['outcome']} at {t['end_lsn']}, rows {[(r['relfilenode'], r['deleted']) for r in t['rows']]}, dropped files {t['dropped_files']}")
print(f"{len(ev['wal']['transactions'])} loss transactions, {len(ev['wal']['segments'])} segments read, gaps: {ev['wal']['gaps']}")
EOF
