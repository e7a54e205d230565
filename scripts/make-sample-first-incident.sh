#!/usr/bin/env bash
# Reproduces sample-logs/first-incident/: a throwaway cluster, a small shop schema with foreign
# keys, VACUUM ANALYZE (the steady state), then an incident — a TRUNCATE of one table, a DELETE
# without WHERE on another, a bulk INSERT rolled back — collected with the real binary. Copies the
# evidence file and the server's three log files (stderr, csvlog, jsonlog) into the sample dir.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/pg-throwaway.sh

out=sample-logs/first-incident
pg_throwaway_start
pg_psql postgres -c "CREATE DATABASE shop"

pg_psql shop <<'SQL'
CREATE TABLE customers (id serial PRIMARY KEY, email text NOT NULL UNIQUE, created_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE products (id serial PRIMARY KEY, sku text NOT NULL UNIQUE, price_cents int NOT NULL);
CREATE TABLE orders (id serial PRIMARY KEY, customer_id int NOT NULL REFERENCES customers(id) ON DELETE CASCADE, placed_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE order_items (order_id int NOT NULL REFERENCES orders(id) ON DELETE CASCADE, product_id int NOT NULL REFERENCES products(id), qty int NOT NULL, PRIMARY KEY (order_id, product_id));
CREATE TABLE invoices (id serial PRIMARY KEY, order_id int NOT NULL REFERENCES orders(id), total_cents int NOT NULL);
CREATE TABLE audit_log (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, at timestamptz NOT NULL DEFAULT now(), message text NOT NULL);
CREATE TABLE newsletter_signups (id serial PRIMARY KEY, email text NOT NULL);
INSERT INTO customers (email) SELECT 'customer' || g || '@example.com' FROM generate_series(1, 200) g;
INSERT INTO products (sku, price_cents) SELECT 'SKU-' || g, 100 * g FROM generate_series(1, 50) g;
INSERT INTO orders (customer_id) SELECT 1 + g % 200 FROM generate_series(1, 600) g;
INSERT INTO order_items SELECT o, 1 + (o * 7 + k) % 50, 1 + k FROM generate_series(1, 600) o, generate_series(0, 2) k;
INSERT INTO invoices (order_id, total_cents) SELECT g, 1000 + g FROM generate_series(1, 600) g;
INSERT INTO audit_log (message) SELECT 'seed ' || g FROM generate_series(1, 400) g;
SQL
# VACUUM once the inserting backend has flushed its counts (it does as it exits, just after
# psql): a VACUUM before that flush would count the rows twice in n_live_tup.
sleep 2
pg_psql shop -c "VACUUM ANALYZE"
sleep 2

# The incident: a cleanup job run against production by mistake.
PGAPPNAME=cleanup-job pg_psql shop <<'SQL'
TRUNCATE order_items;
DELETE FROM invoices;
BEGIN;
INSERT INTO audit_log (message) SELECT 'reimport ' || g FROM generate_series(1, 5000) g;
ROLLBACK;
SQL
# Statistics reach other sessions when the backend flushes them (at exit, or within a second).
sleep 2

mkdir -p "$out"
cargo run -q -- collect --db "$(pg_url shop)" -o "$out/evidence.json"
sleep 1
for ext in log csv json; do
  cp "$PG_DIR/data/log/postgresql.$ext" "$out/postgresql.$ext"
done
chmod 0644 "$out"/*
echo "wrote $out/: evidence.json postgresql.log postgresql.csv postgresql.json"
