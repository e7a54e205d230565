#!/usr/bin/env bash
# 09-stats-reset: a DBA runs `SELECT pg_stat_reset()` to start a benchmark with clean counters.
# The next morning a dashboard shows n_live_tup = 0 for every table and someone declares data
# loss. Rows, reltuples, relfilenodes are intact; pg_stat_database.stats_reset = the reset time.
source "$(dirname "$0")/lib.sh"
incident_begin 09-stats-reset
pg_start main
sql postgres "CREATE ROLE inv LOGIN; CREATE ROLE dba LOGIN SUPERUSER; CREATE DATABASE inventory OWNER inv"
as_app inv-migrate inv inventory <<'SQL'
CREATE TABLE warehouses (id int PRIMARY KEY, name text NOT NULL);
CREATE TABLE items (id int PRIMARY KEY, warehouse_id int NOT NULL REFERENCES warehouses(id), qty int NOT NULL);
SQL
as_app inv-web inv inventory <<'SQL'
INSERT INTO warehouses SELECT g, 'warehouse ' || g FROM generate_series(1, 20) g;
INSERT INTO items SELECT g, 1 + g % 20, g % 50 FROM generate_series(1, 1000) g;
UPDATE items SET qty = qty + 1 WHERE id <= 100;
DELETE FROM items WHERE id > 950;
SQL
sql inventory "VACUUM ANALYZE"
flush inventory
collect main inventory baseline.json

LABEL=reset as_app dba-console dba inventory <<'SQL'
SELECT pg_stat_reset();
SQL
flush inventory
save_logs main
collect main inventory evidence.json --log postgresql.log --baseline baseline.json
write_expected <<'JSON'
{
  "story": "dba (dba-console) ran SELECT pg_stat_reset() before a benchmark. Every table's counters read zero, n_live_tup included, while every row is still there (items 950, warehouses 20). A statistics artefact, not a loss.",
  "tables": [
    {"table": "public.items", "kind": "stats_reset", "event": "reset"},
    {"table": "public.warehouses", "kind": "stats_reset", "event": "reset"}
  ],
  "not_wiped": ["public.items", "public.warehouses"],
  "events": {
    "reset": {"statement": "pg_stat_reset()"}
  }
}
JSON
finish
