#!/usr/bin/env bash
# 01-truncate: a billing cron job runs `TRUNCATE invoices` (it meant the staging copy).
# Leaves: invoices live 0, n_tup_del unchanged, new relfilenode (rfn<>oid), reltuples -1,
# the pg_class xmin commit time = the TRUNCATE; the log has the one statement line.
source "$(dirname "$0")/lib.sh"
incident_begin 01-truncate
pg_start main
sql postgres "CREATE ROLE shop LOGIN; CREATE ROLE billing LOGIN; CREATE DATABASE shop OWNER shop"
as_app shop-migrate shop shop <<'SQL'
CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL);
CREATE TABLE orders (id int PRIMARY KEY, customer_id int NOT NULL REFERENCES customers(id), total numeric(10,2) NOT NULL);
CREATE TABLE invoices (id int PRIMARY KEY, order_id int NOT NULL REFERENCES orders(id), issued_at timestamptz NOT NULL DEFAULT now());
GRANT SELECT, INSERT, TRUNCATE ON invoices TO billing;
GRANT SELECT ON orders, customers TO billing;
SQL
as_app shop-web shop shop <<'SQL'
INSERT INTO customers SELECT g, 'customer ' || g FROM generate_series(1, 300) g;
INSERT INTO orders SELECT g, 1 + g % 300, (g % 97) * 1.5 FROM generate_series(1, 1000) g;
INSERT INTO invoices (id, order_id) SELECT g, g FROM generate_series(1, 800) g;
SQL
sql shop "VACUUM ANALYZE"
flush shop
collect main shop baseline.json

LABEL=truncate as_app billing-cron billing shop <<'SQL'
TRUNCATE invoices;
SQL
as_app shop-web shop shop <<'SQL'
INSERT INTO orders SELECT g, 1 + g % 300, 12.50 FROM generate_series(1001, 1020) g;
SQL
flush shop
save_logs main
collect main shop evidence.json --log postgresql.log --baseline baseline.json
write_expected <<'JSON'
{
  "story": "The billing cron job (role billing, application billing-cron) ran TRUNCATE invoices against production instead of its staging copy. All 800 invoices are gone; customers and orders are untouched.",
  "tables": [
    {"table": "public.invoices", "kind": "truncate", "event": "truncate", "status": "wiped"}
  ],
  "not_wiped": ["public.customers", "public.orders"],
  "events": {
    "truncate": {"statement": "TRUNCATE invoices"}
  }
}
JSON
finish
