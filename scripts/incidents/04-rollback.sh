#!/usr/bin/env bash
# 04-rollback: the nightly stock import inserts 5000 movements, then fails on a foreign key
# while writing the stock levels; the importer rolls the whole transaction back. "The import ran
# but the rows are not there": n_tup_ins +5000, n_live_tup unchanged, n_dead_tup +5000,
# xact_rollback +1, and BEGIN … ERROR … ROLLBACK in the log.
source "$(dirname "$0")/lib.sh"
incident_begin 04-rollback
pg_start main
sql postgres "CREATE ROLE wh LOGIN; CREATE ROLE importer LOGIN; CREATE DATABASE warehouse OWNER wh"
as_app wh-migrate wh warehouse <<'SQL'
CREATE TABLE sites (id int PRIMARY KEY, name text NOT NULL);
CREATE TABLE stock_movements (id bigint PRIMARY KEY, site_id int NOT NULL REFERENCES sites(id), sku text NOT NULL, qty int NOT NULL);
CREATE TABLE stock_levels (site_id int NOT NULL REFERENCES sites(id), sku text NOT NULL, qty int NOT NULL, PRIMARY KEY (site_id, sku));
GRANT SELECT, INSERT, UPDATE ON stock_movements, stock_levels, sites TO importer;
SQL
as_app wh-web wh warehouse <<'SQL'
INSERT INTO sites SELECT g, 'site ' || g FROM generate_series(1, 5) g;
INSERT INTO stock_movements SELECT g, 1 + g % 5, 'SKU-' || (g % 400), 1 + g % 9 FROM generate_series(1, 1000) g;
INSERT INTO stock_levels SELECT s, 'SKU-' || k, 10 FROM generate_series(1, 5) s, generate_series(0, 39) k;
SQL
sql warehouse "VACUUM ANALYZE"
flush warehouse
collect main warehouse baseline.json

LABEL=import as_app stock-import importer warehouse --allow-errors <<'SQL'
BEGIN;
INSERT INTO stock_movements SELECT g, 1 + g % 5, 'SKU-' || (g % 400), 1 + g % 9 FROM generate_series(1001, 6000) g;
INSERT INTO stock_levels VALUES (99, 'SKU-1', 5);
ROLLBACK;
SQL
flush warehouse
save_logs main
collect main warehouse evidence.json --log postgresql.log --baseline baseline.json
write_expected <<'JSON'
{
  "story": "The nightly stock import (role importer, application stock-import) inserted 5000 stock movements in one transaction, then hit a foreign-key violation on stock_levels (site 99 does not exist) and rolled back. Nothing committed was lost: the 5000 rows never existed for anyone else.",
  "tables": [
    {"table": "public.stock_movements", "kind": "rollback", "event": "import"}
  ],
  "not_wiped": ["public.stock_movements", "public.stock_levels", "public.sites"],
  "events": {
    "import": {"statement": "INSERT INTO stock_movements"}
  }
}
JSON
finish
