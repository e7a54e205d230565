#!/usr/bin/env bash
# 06-delete: an operator means `DELETE FROM payments WHERE status = 'test'` and runs it without
# the WHERE. Autovacuum is off for payments (switched off for a bulk load and never switched
# back), so the 1200 deleted rows are still on disk as dead tuples: the report's immediate
# action is to keep it that way and recover them with a dirty-read tool.
source "$(dirname "$0")/lib.sh"
incident_begin 06-delete
pg_start main
sql postgres "CREATE ROLE pay LOGIN; CREATE ROLE ops LOGIN; CREATE DATABASE payments OWNER pay"
as_app pay-migrate pay payments <<'SQL'
CREATE TABLE merchants (id int PRIMARY KEY, name text NOT NULL);
CREATE TABLE payments (id bigint PRIMARY KEY, merchant_id int NOT NULL REFERENCES merchants(id), amount_cents bigint NOT NULL, status text NOT NULL);
CREATE TABLE refunds (id bigint PRIMARY KEY, merchant_id int NOT NULL REFERENCES merchants(id), amount_cents bigint NOT NULL);
ALTER TABLE payments SET (autovacuum_enabled = false);
GRANT SELECT, DELETE ON payments TO ops;
SQL
as_app pay-api pay payments <<'SQL'
INSERT INTO merchants SELECT g, 'merchant ' || g FROM generate_series(1, 40) g;
INSERT INTO payments SELECT g, 1 + g % 40, 100 * g, CASE WHEN g % 10 = 0 THEN 'test' ELSE 'settled' END FROM generate_series(1, 1200) g;
INSERT INTO refunds SELECT g, 1 + g % 40, 50 * g FROM generate_series(1, 60) g;
SQL
sql payments "ANALYZE"
flush payments
collect main payments baseline.json

LABEL=delete_all as_app psql ops payments <<'SQL'
DELETE FROM payments;
SQL
flush payments
save_logs main
collect main payments evidence.json --log postgresql.log --baseline baseline.json
write_expected <<'JSON'
{
  "story": "ops (psql) ran DELETE FROM payments without its WHERE status = 'test'. All 1200 payments are deleted; autovacuum is disabled on payments, so their dead tuples are still in the heap and can be read back with a dirty-read tool (pg_dirtyread) as long as nothing vacuums the table.",
  "tables": [
    {"table": "public.payments", "kind": "delete", "event": "delete_all"}
  ],
  "not_wiped": ["public.merchants", "public.refunds"],
  "immediate_actions": ["public.payments"],
  "events": {
    "delete_all": {"statement": "DELETE FROM payments"}
  }
}
JSON
finish
