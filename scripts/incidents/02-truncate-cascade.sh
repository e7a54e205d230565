#!/usr/bin/env bash
# 02-truncate-cascade: an engineer resets what she thinks is her dev database with
# `TRUNCATE accounts CASCADE` in psql. Every table referencing accounts, directly or not and
# whatever its ON DELETE action, is emptied in the same transaction: one shared pg_class xmin
# commit time, every relfilenode new. The log shows one statement; the cascade NOTICEs went to
# her terminal only.
source "$(dirname "$0")/lib.sh"
incident_begin 02-truncate-cascade
pg_start main
sql postgres "CREATE ROLE crm LOGIN; CREATE ROLE alice LOGIN SUPERUSER; CREATE DATABASE crm OWNER crm"
as_app crm-migrate crm crm <<'SQL'
CREATE TABLE accounts (id int PRIMARY KEY, name text NOT NULL);
CREATE TABLE contacts (id int PRIMARY KEY, account_id int NOT NULL REFERENCES accounts(id) ON DELETE CASCADE, email text NOT NULL);
CREATE TABLE activities (id int PRIMARY KEY, contact_id int NOT NULL REFERENCES contacts(id) ON DELETE CASCADE, note text);
CREATE TABLE deals (id int PRIMARY KEY, account_id int NOT NULL REFERENCES accounts(id), amount numeric(12,2) NOT NULL);
CREATE TABLE products (id int PRIMARY KEY, name text NOT NULL);
SQL
as_app crm-web crm crm <<'SQL'
INSERT INTO accounts SELECT g, 'account ' || g FROM generate_series(1, 200) g;
INSERT INTO contacts SELECT g, 1 + g % 200, 'c' || g || '@example.com' FROM generate_series(1, 600) g;
INSERT INTO activities SELECT g, 1 + g % 600, 'call ' || g FROM generate_series(1, 1200) g;
INSERT INTO deals SELECT g, 1 + g % 200, g * 10 FROM generate_series(1, 300) g;
INSERT INTO products SELECT g, 'product ' || g FROM generate_series(1, 50) g;
SQL
sql crm "VACUUM ANALYZE"
flush crm
collect main crm baseline.json

LABEL=truncate_cascade as_app psql alice crm <<'SQL'
TRUNCATE accounts CASCADE;
SQL
flush crm
save_logs main
collect main crm evidence.json --log postgresql.csv --baseline baseline.json
write_expected <<'JSON'
{
  "story": "Alice (superuser, psql) ran TRUNCATE accounts CASCADE believing she was connected to her dev database. contacts and activities (ON DELETE CASCADE) and deals (plain FK, NO ACTION) were truncated with accounts in the same transaction; products is untouched. The evidence was collected from the csvlog.",
  "tables": [
    {"table": "public.accounts", "kind": "cascade", "event": "truncate_cascade", "status": "wiped"},
    {"table": "public.contacts", "kind": "cascade", "event": "truncate_cascade", "status": "wiped"},
    {"table": "public.activities", "kind": "cascade", "event": "truncate_cascade", "status": "wiped"},
    {"table": "public.deals", "kind": "cascade", "event": "truncate_cascade", "status": "wiped"}
  ],
  "not_wiped": ["public.products"],
  "events": {
    "truncate_cascade": {"statement": "TRUNCATE accounts CASCADE"}
  }
}
JSON
finish
