#!/usr/bin/env bash
# bench-recover.sh [DB_MB] [WAL_MB]: `pgtriage recover` on a database of about DB_MB megabytes
# with WAL_MB megabytes of WAL to replay after the base backup (the issue asks 1024 and 2048;
# smaller sizes run in minutes). A throwaway cluster (scripts/pg-throwaway.sh): a filler table
# of DB_MB, a 100,000-row table that is then TRUNCATEd, a base backup, WAL_MB of updates, the
# evidence; then recover replays it all. Prints the wall time, the share spent in PostgreSQL's
# own replay (from recover.json's timings) and pgtriage's overhead on top of it, and how long
# after recover's exit its watchdog had removed the scratch directory.
set -euo pipefail
DB_MB=${1:-1024}
WAL_MB=${2:-2048}
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
source "$ROOT/scripts/pg-throwaway.sh"
BIN="${PGTRIAGE:-$ROOT/target/release/pgtriage}"
if [ ! -x "$BIN" ]; then
  (cd "$ROOT" && cargo build --release -q --bin pgtriage)
fi
pg_throwaway_start "max_wal_size = '4GB'" "checkpoint_timeout = '30min'" "log_statement = 'ddl'"
pg_psql postgres -c "CREATE DATABASE bench"
echo "== loading ${DB_MB} MB" >&2
# ~ 1 KB per row.
rows=$((DB_MB * 1000))
pg_psql bench -c "CREATE TABLE filler (id bigint PRIMARY KEY, pad text)"
pg_psql bench -c "INSERT INTO filler SELECT g, repeat('x', 1000) FROM generate_series(1, $rows) g"
pg_psql bench -c "CREATE TABLE \"Lost\" (id bigint PRIMARY KEY, note text)"
pg_psql bench -c "INSERT INTO \"Lost\" SELECT g, 'row ' || g FROM generate_series(1, 100000) g"
pg_psql bench -c "CREATE TABLE churn (id int PRIMARY KEY, pad text)"
pg_psql bench -c "INSERT INTO churn SELECT g, repeat('y', 900) FROM generate_series(1, 10000) g"
pg_psql bench -c "VACUUM ANALYZE"
WORK="$PG_DIR/work"; mkdir -p "$WORK"
pg_as_server_user "$PG_BIN/pg_basebackup" -h "$PG_DIR" -p "$PG_PORT" -U postgres -D "$PG_DIR/base" -X fetch -c fast --no-sync
echo "== writing ${WAL_MB} MB of WAL" >&2
start_lsn=$(pg_psql bench -At -c "SELECT pg_current_wal_lsn()")
while :; do
  pg_psql bench -c "UPDATE churn SET pad = md5(random()::text) || repeat('y', 868)"
  done_mb=$(pg_psql bench -At -c "SELECT (pg_current_wal_lsn() - '$start_lsn'::pg_lsn) / 1048576")
  [ "${done_mb%.*}" -ge "$WAL_MB" ] && break
done
(cd "$WORK" && "$BIN" collect --db "$(pg_url bench)" -o baseline.json 2>/dev/null)
sleep 1
pg_psql bench -c "TRUNCATE \"Lost\""
pg_psql bench -At -c "SELECT pg_walfile_name(pg_switch_wal())" >/dev/null
sleep 3
(cd "$WORK" && "$BIN" collect --db "$(pg_url bench)" --log "$PG_DIR/data/log/postgresql.log" --baseline baseline.json -o evidence.json 2>/dev/null)
echo "== recover" >&2
t0=$(date +%s.%N)
(cd "$WORK" && "$BIN" recover evidence.json --base-backup "$PG_DIR/base" --wal-archive "$PG_DIR/archive" --out out --scratch "$PG_DIR")
t1=$(date +%s.%N)
# The scratch directory is removed by recover's watchdog after it exits: how long after.
while ls -d "$PG_DIR"/pgtriage-recover-* >/dev/null 2>&1; do sleep 0.1; done
t2=$(date +%s.%N)
python3 - "$WORK/out/recover.json" "$t0" "$t1" "$DB_MB" "$WAL_MB" "$t2" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
removed_after = float(sys.argv[6]) - float(sys.argv[3])
t = r["timings"]
wall = float(sys.argv[3]) - float(sys.argv[2])
server = t["server_seconds"]
other = t["total_seconds"] - server
own = other - t["copy_seconds"]
print(f"database {sys.argv[4]} MB, WAL {sys.argv[5]} MB, all_found={r['all_found']}")
print(f"wall {wall:.1f}s; PostgreSQL replay {server:.1f}s ({100*server/wall:.0f}% of wall)")
print(f"base backup copy {t['copy_seconds']:.1f}s; WAL scan {t['wal_scan_seconds']:.1f}s; "
      f"extract + restore.sql {t['extract_seconds']:.1f}s; stop + remove {t['cleanup_seconds']:.1f}s")
print(f"pgtriage overhead besides the copy: {own:.1f}s = {100*own/server:.1f}% of the replay time"
      f" ({100*other/server:.1f}% with the copy)")
print(f"scratch directory removed by the watchdog {removed_after:.1f}s after recover exited")
PY
