#!/usr/bin/env bash
# 10-crash: the host loses power (pg_ctl stop -m immediate), the server comes back through crash
# recovery, and every table's counters are zero although every committed row was replayed.
# pg_stat_database.stats_reset stays NULL; the bgwriter's stats_reset = end of recovery; the
# postmaster start time is new; the timeline is unchanged.
source "$(dirname "$0")/lib.sh"
incident_begin 10-crash
pg_start main
sql postgres "CREATE ROLE ledger LOGIN; CREATE DATABASE ledger OWNER ledger"
as_app ledger-migrate ledger ledger <<'SQL'
CREATE TABLE accounts (id int PRIMARY KEY, name text NOT NULL);
CREATE TABLE entries (id bigint PRIMARY KEY, account_id int NOT NULL REFERENCES accounts(id), amount bigint NOT NULL);
SQL
as_app ledger-api ledger ledger <<'SQL'
INSERT INTO accounts SELECT g, 'account ' || g FROM generate_series(1, 100) g;
INSERT INTO entries SELECT g, 1 + g % 100, g FROM generate_series(1, 2000) g;
SQL
sql ledger "VACUUM ANALYZE"
flush ledger
collect main ledger baseline.json
as_app ledger-api ledger ledger <<'SQL'
INSERT INTO entries SELECT g, 1 + g % 100, g FROM generate_series(2001, 2100) g;
SQL
flush ledger

from="$(now_utc)"
pg_stop main immediate
pg_up main
to="$(now_utc)"
mark crash "$from" "$to"
flush ledger
save_logs main
collect main ledger evidence.json --log postgresql.csv --baseline baseline.json
write_expected <<'JSON'
{
  "story": "The server was killed (pg_ctl stop -m immediate, as a power loss would) and restarted through crash recovery. Every committed row is there (entries 2100, accounts 100) but every table's counters restarted from zero. A statistics artefact, not a loss. The evidence was collected from the csvlog.",
  "tables": [
    {"table": "public.entries", "kind": "stats_reset", "event": "crash"},
    {"table": "public.accounts", "kind": "stats_reset", "event": "crash"}
  ],
  "not_wiped": ["public.entries", "public.accounts"],
  "events": {
    "crash": {"statement": "automatic recovery in progress", "session": false}
  }
}
JSON
finish
