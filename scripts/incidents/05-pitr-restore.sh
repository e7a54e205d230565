#!/usr/bin/env bash
# 05-pitr-restore: after a bad `UPDATE orders SET status = 'cancelled'` (no WHERE), on-call
# restores the primary to just before it: base backup + WAL archive, recovery_target_time,
# promote. The restored server is on timeline 2, with the same system identifier, a new
# postmaster start and every counter zero; the 300 orders placed after the bad UPDATE are gone.
# The baseline is the old primary just before it was shut down.
source "$(dirname "$0")/lib.sh"
incident_begin 05-pitr-restore
pg_start primary
sql postgres "CREATE ROLE shop LOGIN; CREATE ROLE ops LOGIN SUPERUSER; CREATE DATABASE shop OWNER shop"
as_app shop-migrate shop shop <<'SQL'
CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL);
CREATE TABLE orders (id int PRIMARY KEY, customer_id int NOT NULL REFERENCES customers(id), status text NOT NULL DEFAULT 'open', total numeric(10,2) NOT NULL);
SQL
as_app shop-web shop shop <<'SQL'
INSERT INTO customers SELECT g, 'customer ' || g FROM generate_series(1, 300) g;
INSERT INTO orders (id, customer_id, total) SELECT g, 1 + g % 300, (g % 97) * 1.5 FROM generate_series(1, 1000) g;
SQL
sql shop "VACUUM ANALYZE"
primary_dir="${CLUSTER_DIR[primary]}"
as_pg "$PG_BINDIR/pg_basebackup" -h "$primary_dir" -p "${CLUSTER_PORT[primary]}" -U postgres \
    -D "$primary_dir/basebackup" -X fetch -c fast
as_app shop-web shop shop <<'SQL'
INSERT INTO orders (id, customer_id, total) SELECT g, 1 + g % 300, 20 FROM generate_series(1001, 1200) g;
SQL
sleep 1
target="$(sql shop "SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00'")"
sleep 1
LABEL=bad_update as_app admin-console ops shop <<'SQL'
UPDATE orders SET status = 'cancelled';
SQL
as_app shop-web shop shop <<'SQL'
INSERT INTO orders (id, customer_id, total) SELECT g, 1 + g % 300, 30 FROM generate_series(1201, 1500) g;
SQL
flush shop
collect primary shop baseline.json
# Everything the primary wrote reaches the archive, then the primary is taken down.
sql postgres "SELECT pg_switch_wal()" >/dev/null
for _ in $(seq 1 50); do
    ready="$(ls "$primary_dir/data/pg_wal/archive_status/" 2>/dev/null | grep -c '\.ready$' || true)"
    [[ "$ready" == 0 ]] && break
    sleep 0.2
done
pg_stop primary fast
save_logs primary primary-

# The restore: a new cluster from the base backup, replaying the archive up to the target.
restored="$(mktemp -d /tmp/pgtriage-incident-XXXXXX)"
CLUSTER_DIR[restored]="$restored"
CLUSTERS_STARTED+=(restored)
mkdir -p "$restored/archive"
mv "$primary_dir/basebackup" "$restored/data"
rm -rf "$restored/data/log"
chmod 0700 "$restored/data"
cat >>"$restored/data/postgresql.conf" <<EOF

# point-in-time recovery of the primary, just before the bad UPDATE
unix_socket_directories = '$restored'
archive_command = 'test ! -f $restored/archive/%f && cp %p $restored/archive/%f'
restore_command = 'cp $primary_dir/archive/%f %p'
recovery_target_time = '$target'
recovery_target_action = 'promote'
EOF
touch "$restored/data/recovery.signal"
if is_root; then chown -R postgres:postgres "$restored"; chmod 0755 "$restored"; fi
from="$(now_utc)"
pg_up restored
for _ in $(seq 1 100); do
    [[ "$(sql postgres "SELECT pg_is_in_recovery()")" == f ]] && break
    sleep 0.2
done
to="$(now_utc)"
mark restore "$from" "$to"
flush shop
save_logs restored
collect restored shop evidence.json --log primary-postgresql.log --log postgresql.log --baseline baseline.json
write_expected <<JSON
{
  "story": "At the bad UPDATE (ops, admin-console: UPDATE orders SET status = 'cancelled' without WHERE) on-call restored the primary to $target (base backup + WAL archive, recovery_target_action=promote). The restored server runs on timeline 2; the 300 orders placed after the target (ids 1201-1500) are gone; every counter restarted from zero. primary-postgresql.* is the old primary's log, postgresql.* the restored server's.",
  "tables": [
    {"table": "public.orders", "kind": "restore", "event": "restore"},
    {"table": "public.customers", "kind": "restore", "event": "restore"}
  ],
  "not_wiped": ["public.customers"],
  "events": {
    "restore": {"statement": "selected new timeline ID: 2", "session": false},
    "bad_update": {"statement": "UPDATE orders SET status = 'cancelled'"}
  }
}
JSON
finish
