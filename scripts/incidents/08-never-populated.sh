#!/usr/bin/env bash
# 08-never-populated (modelled on seed 000): "ticker_info is empty: did something destroy it?"
# The table was created by migration 001 and nothing ever wrote to it (the fetcher that should
# fill it was never deployed). Its siblings are populated. The repository holds a planned
# clean-up migration whose DROP TABLE ticker_info is commented out. Not a loss at all:
# ins = upd = del = 0, reltuples = -1, relfilenode = oid, no vacuum/analyze ever.
source "$(dirname "$0")/lib.sh"
incident_begin 08-never-populated

days_ago() { date -u -d "-$1 days" +%Y-%m-%dT%H:%M:%SZ; }
repo_init
mkdir -p "$OUT/repo/db/migrations" "$OUT/repo/scripts" "$OUT/repo/src/data/aurora"
cat >"$OUT/repo/db/migrations/001_complete_schema.sql" <<'SQL'
-- Complete schema for the market data service.
CREATE TABLE IF NOT EXISTS ticker_info (
    id serial PRIMARY KEY,
    symbol varchar(20) NOT NULL UNIQUE,
    display_name text,
    exchange text
);

CREATE TABLE IF NOT EXISTS ticker_prices (
    symbol varchar(20) NOT NULL,
    day date NOT NULL,
    close numeric(12,4) NOT NULL,
    PRIMARY KEY (symbol, day)
);

CREATE TABLE IF NOT EXISTS fund_data (
    id serial PRIMARY KEY,
    fund text NOT NULL,
    nav numeric(12,4) NOT NULL
);
SQL
cat >"$OUT/repo/src/data/aurora/repository.py" <<'PY'
def upsert_ticker_info(conn, symbol, display_name, exchange):
    conn.execute(
        "INSERT INTO ticker_info (symbol, display_name, exchange) VALUES (%s, %s, %s) "
        "ON CONFLICT (symbol) DO UPDATE SET display_name = EXCLUDED.display_name",
        (symbol, display_name, exchange),
    )
PY
repo_commit "$(days_ago 30)" "Initial market data schema"
cat >"$OUT/repo/db/migrations/002_ticker_master.sql" <<'SQL'
-- Phase 4.1: the new ticker master table (ticker_info is replaced in phase 4.4).
CREATE TABLE IF NOT EXISTS ticker_master (
    id serial PRIMARY KEY,
    symbol varchar(20) NOT NULL UNIQUE
);
SQL
cat >"$OUT/repo/db/migrations/003_drop_ticker_info.sql" <<'SQL'
-- Phase 4.4: clean up the old ticker_info table, after every reference is gone.
-- DESTRUCTIVE: blocked until phase 4.3 is done. Uncomment and run manually.
-- DROP TABLE IF EXISTS ticker_info;
SELECT 1;
SQL
cat >"$OUT/repo/scripts/aurora_ticker_unification_migration.py" <<'PY'
# Phase 4.4: cleanup old columns and ticker_info table
PHASE_4_4_CLEANUP_SQL = [
    # Step 5: Drop old ticker_info table (after all references removed)
    # "DROP TABLE IF EXISTS ticker_info",
]


def run_migration(phase: str = "4.1", dry_run: bool = False):
    if phase == "4.4":
        return {"status": "blocked", "message": "Phase 4.4 is destructive. Uncomment SQL statements and run manually."}
PY
repo_commit "$(days_ago 12)" "Ticker unification: phase 4.1 master table, phase 4.4 clean-up kept blocked"
repo_bundle

pg_start main
sql postgres "CREATE ROLE market LOGIN; CREATE DATABASE market OWNER market"
LABEL=create as_app migrate market market <<SQL
CREATE TABLE IF NOT EXISTS schema_migrations (version bigint PRIMARY KEY, dirty boolean NOT NULL);
$(cat "$OUT/repo/db/migrations/001_complete_schema.sql")
INSERT INTO schema_migrations VALUES (1, false);
SQL
as_app migrate market market <<SQL
$(cat "$OUT/repo/db/migrations/002_ticker_master.sql")
$(cat "$OUT/repo/db/migrations/003_drop_ticker_info.sql")
UPDATE schema_migrations SET version = 3;
SQL
as_app price-fetcher market market <<'SQL'
INSERT INTO ticker_prices SELECT 'SYM' || s, DATE '2026-01-01' + d, 10 + s + d / 10.0 FROM generate_series(1, 40) s, generate_series(0, 29) d;
INSERT INTO fund_data (fund, nav) SELECT 'fund ' || g, 100 + g FROM generate_series(1, 80) g;
INSERT INTO ticker_master (symbol) SELECT 'SYM' || s FROM generate_series(1, 40) s;
SQL
flush market
save_logs main
repo_checkout
collect main market evidence.json --log postgresql.log --repo repo
write_expected <<'JSON'
{
  "story": "ticker_info was created by migration 001 and never written: the job that fills it was never deployed. ticker_prices, fund_data and ticker_master are populated. The only DROP of ticker_info in the repository (db/migrations/003_drop_ticker_info.sql, scripts/aurora_ticker_unification_migration.py) is commented out. Nothing was lost; no baseline (as in seed 000).",
  "tables": [
    {"table": "public.ticker_info", "kind": "never_populated", "event": "create", "status": "never_populated"}
  ],
  "not_wiped": ["public.ticker_prices", "public.fund_data", "public.ticker_master", "public.ticker_info"],
  "events": {
    "create": {"statement": "CREATE TABLE IF NOT EXISTS ticker_info"}
  },
  "report_mentions": ["003_drop_ticker_info.sql"]
}
JSON
finish
