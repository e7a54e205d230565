#!/usr/bin/env bash
# Writes sample-logs/server-logs/: the stderr, csvlog and jsonlog files a real PostgreSQL wrote
# at the same time while going through the incidents pgtriage's timeline must show (destructive
# statements, rolled-back and aborted transactions, errors, migration bookkeeping, a pg_dump
# session, autovacuum, a backend killed by signal 9, an immediate stop and crash recovery, a fast
# shutdown). Also writes gzip/zstd/xz/bzip2 copies of the stderr log, a syslog-style and an
# RDS-style rendering of the same log for the format tests.
#
# Usage: scripts/make-sample-server-logs.sh [OUTDIR]   (needs PostgreSQL server binaries)
set -euo pipefail

OUT=${1:-$(cd "$(dirname "$0")/.." && pwd)/sample-logs/server-logs}
BIN=${PGTRIAGE_PG_BINDIR:-$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)}
WORK=$(mktemp -d /tmp/pgtriage-sample-XXXXXX)
PORT=$((20000 + RANDOM % 20000))
AS=()
if [ "$(id -u)" = 0 ]; then
  chown postgres: "$WORK"
  AS=(runuser -u postgres --)
fi
cleanup() { "${AS[@]}" "$BIN/pg_ctl" -D "$WORK/data" -m immediate stop >/dev/null 2>&1 || true; rm -rf "$WORK"; }
trap cleanup EXIT

"${AS[@]}" "$BIN/initdb" -D "$WORK/data" -U postgres --auth=trust --locale=C --encoding=UTF8 --no-sync >/dev/null
cat >>"$WORK/data/postgresql.conf" <<EOF
listen_addresses = ''
unix_socket_directories = '$WORK'
port = $PORT
fsync = off
logging_collector = on
log_destination = 'stderr,csvlog,jsonlog'
log_directory = 'log'
log_filename = 'postgresql.log'
log_statement = 'all'
log_line_prefix = '%m [%p] %q%u@%d '
log_connections = on
log_disconnections = on
log_checkpoints = on
log_autovacuum_min_duration = 0
autovacuum_naptime = 1
log_timezone = 'UTC'
timezone = 'UTC'
EOF
start() { "${AS[@]}" "$BIN/pg_ctl" -D "$WORK/data" -w -l "$WORK/startup.log" start >/dev/null; }
PSQL=("$BIN/psql" -X -q -h "$WORK" -p "$PORT" -U postgres)
start
"${PSQL[@]}" -d postgres -c "CREATE DATABASE shop"
PGAPPNAME=app "${PSQL[@]}" -d shop <<'SQL'
CREATE TABLE customers (id int PRIMARY KEY, name text);
CREATE TABLE orders (id int PRIMARY KEY, customer_id int REFERENCES customers(id) ON DELETE CASCADE, note text);
INSERT INTO customers SELECT g, 'c' || g FROM generate_series(1, 1000) g;
INSERT INTO orders SELECT g, g, 'multi
line note' FROM generate_series(1, 1000) g;
CREATE TABLE alembic_version (version_num varchar(32) NOT NULL);
INSERT INTO alembic_version (version_num) VALUES ('1975ea83b712');
BEGIN;
DELETE FROM orders WHERE id <= 100;
ROLLBACK;
BEGIN;
INSERT INTO orders SELECT g, 1, 'x' FROM generate_series(2001, 2100) g;
INSERT INTO orders VALUES (1, 1, 'dup');
COMMIT;
UPDATE alembic_version SET version_num='ae1027a6acf' WHERE alembic_version.version_num = '1975ea83b712';
ALTER TABLE customers DROP COLUMN name;
DELETE FROM customers WHERE id > 900;
SELECT pg_stat_reset();
SQL
"${PSQL[@]}" -d shop -c "TRUNCATE orders" || true
"${PSQL[@]}" -d shop -c "TRUNCATE customers CASCADE"
"${AS[@]}" "$BIN/pg_dump" -h "$WORK" -p "$PORT" -U postgres shop >/dev/null
sleep 3 # let autovacuum visit the emptied tables
# A backend killed by signal 9: crash and restart of every session.
"${PSQL[@]}" -d shop -c "SELECT pg_sleep(30)" >/dev/null 2>&1 &
sleep 1
kill -9 "$("${PSQL[@]}" -d postgres -At -c "SELECT pid FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep%' AND pid <> pg_backend_pid()")"
wait || true
sleep 2
"${PSQL[@]}" -d shop -c "DROP TABLE orders"
"${AS[@]}" "$BIN/pg_ctl" -D "$WORK/data" -m immediate stop >/dev/null
start
"${PSQL[@]}" -d postgres -c "DROP DATABASE shop"
"${AS[@]}" "$BIN/pg_ctl" -D "$WORK/data" -m fast stop >/dev/null

mkdir -p "$OUT"
cp "$WORK/data/log/postgresql.log" "$WORK/data/log/postgresql.csv" "$WORK/data/log/postgresql.json" "$OUT/"
gzip -9c "$OUT/postgresql.log" >"$OUT/postgresql.log.gz"
if command -v zstd >/dev/null; then zstd -q -19 -c "$OUT/postgresql.log" >"$OUT/postgresql.log.zst"; fi
xz -9c "$OUT/postgresql.log" >"$OUT/postgresql.log.xz"
bzip2 -9c "$OUT/postgresql.log" >"$OUT/postgresql.log.bz2"
# The same log as syslog would have it (rsyslog escaping TAB as #011), and as RDS writes it.
awk 'BEGIN { n = 0 }
  /^[0-9][0-9][0-9][0-9]-/ { n++; c = 1; split($0, a, " "); pid = a[4]; gsub(/[\[\]]/, "", pid);
                 rest = substr($0, length(a[1]) + length(a[2]) + length(a[3]) + length(a[4]) + 5);
                 tm = substr(a[2], 1, 8);
                 printf "Nov 23 %s host postgres[%s]: [%d-%d] %s\n", tm, pid, n, c, rest; next }
  /^\t/ { c++; sub(/^\t/, "#011"); printf "Nov 23 %s host postgres[%s]: [%d-%d] %s\n", tm, pid, n, c, $0; next }
  { print "Nov 23 " tm " host cp[1]: " $0 }' "$OUT/postgresql.log" >"$OUT/postgresql.syslog"
sed -E 's/^([0-9-]+ [0-9:]+)\.[0-9]+ UTC \[([0-9]+)\] ([^ @]*)@([^ ]*) /\1 UTC:[local]:\3@\4:[\2]:/; s/^([0-9-]+ [0-9:]+)\.[0-9]+ UTC \[([0-9]+)\] /\1 UTC::@:[\2]:/' \
  "$OUT/postgresql.log" >"$OUT/postgresql-rds.log"
echo "wrote $(ls "$OUT" | wc -l) files to $OUT"
