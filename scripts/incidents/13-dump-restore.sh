#!/usr/bin/env bash
# 13-dump-restore: to change the database's settings, an operator dumps it (pg_dump -Fc), drops
# it, re-creates it and restores the dump, without stopping the shop first. The 100 orders placed
# between the dump and the DROP DATABASE are gone. Afterwards: a new datid, every table a new oid
# with relfilenode = oid, ins = live = the dump's row counts, upd = del = 0, no vacuum/analyze
# ever, the catalog rows committed at restore time; the log shows pg_dump, dropdb, createdb and
# pg_restore sessions by application_name.
source "$(dirname "$0")/lib.sh"
incident_begin 13-dump-restore
pg_start main
sql postgres "CREATE ROLE shop LOGIN; CREATE DATABASE shop OWNER shop"
as_app shop-migrate shop shop <<'SQL'
CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL);
CREATE TABLE orders (id int PRIMARY KEY, customer_id int NOT NULL REFERENCES customers(id), total numeric(10,2) NOT NULL);
SQL
as_app shop-web shop shop <<'SQL'
INSERT INTO customers SELECT g, 'customer ' || g FROM generate_series(1, 300) g;
INSERT INTO orders SELECT g, 1 + g % 300, (g % 97) * 1.5 FROM generate_series(1, 1000) g;
UPDATE orders SET total = total + 1 WHERE id <= 50;
DELETE FROM orders WHERE id > 980;
SQL
sql shop "VACUUM ANALYZE"
dump="$WORK/shop.dump"
"$PG_BINDIR/pg_dump" -Fc -U postgres -d shop -f "$dump"
as_app shop-web shop shop <<'SQL'
INSERT INTO orders SELECT g, 1 + g % 300, 15 FROM generate_series(1001, 1100) g;
SQL
flush shop
collect main shop baseline.json

from="$(now_utc)"
"$PG_BINDIR/dropdb" -U postgres shop
to="$(now_utc)"
record_session dropdb "$from" "$to" dropdb postgres postgres
"$PG_BINDIR/createdb" -U postgres -O shop shop
from="$(now_utc)"
"$PG_BINDIR/pg_restore" -U postgres -d shop "$dump"
to="$(now_utc)"
record_session pg_restore "$from" "$to" pg_restore postgres shop
flush shop
save_logs main
collect main shop evidence.json --log postgresql.log --baseline baseline.json
write_expected <<'JSON'
{
  "story": "An operator dumped shop (pg_dump -Fc), dropped it (dropdb), re-created it (createdb) and restored the dump (pg_restore) while the shop kept taking orders: the 100 orders placed between the dump and the DROP DATABASE (ids 1001-1100) are lost, and every table's history (updates, deletes) restarted.",
  "tables": [
    {"table": "public.orders", "kind": "restore", "event": "dropdb"},
    {"table": "public.customers", "kind": "restore", "event": "dropdb"}
  ],
  "not_wiped": ["public.orders", "public.customers"],
  "timeline_events": ["pg_restore"],
  "events": {
    "dropdb": {"statement": "DROP DATABASE shop"},
    "pg_restore": {"statement": "COPY public.orders"}
  }
}
JSON
finish
