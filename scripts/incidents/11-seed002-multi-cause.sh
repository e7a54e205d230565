#!/usr/bin/env bash
# 11-seed002-multi-cause (modelled on seed 002): several tables, several causes at once, no
# baseline. In order:
#  1. Alembic migration 086 runs `op.execute("DROP TYPE IF EXISTS migration.collectionflowstatus
#     CASCADE")`: the enum goes and, with it, the status column of collection_flows (re-added
#     empty by the same migration). Rows intact, every status value lost.
#  2. The flow janitor deletes the collection flows whose status is NULL (as orphaned): 143 of
#     the 145 rows, because of step 1.
#  3. A "reset demo data" script truncates assets, raw_import_records, data_imports and
#     discovery_flows in one TRUNCATE (no CASCADE): 0 deletes, 0 live rows.
#  4. Someone pastes a clean-up DELETE with a shell-escaped `\!=`: a syntax error, nothing deleted.
# users and canonical_applications are intact.
source "$(dirname "$0")/lib.sh"
incident_begin 11-seed002-multi-cause

days_ago() { date -u -d "-$1 days" +%Y-%m-%dT%H:%M:%SZ; }
repo_init
V="$OUT/repo/backend/alembic/versions"
mkdir -p "$V"
cat >"$V/084_discovery_and_collection.py" <<'PY'
"""discovery and collection tables

Revision ID: 084
Revises:
"""
from alembic import op
import sqlalchemy as sa

revision = "084"
down_revision = None


def upgrade() -> None:
    op.execute("CREATE SCHEMA IF NOT EXISTS migration")
    op.execute("CREATE TYPE migration.collectionflowstatus AS ENUM ('initialized', 'running', 'completed', 'failed')")
    op.create_table("users", sa.Column("id", sa.Integer, primary_key=True), sa.Column("email", sa.Text, nullable=False), schema="migration")
    op.create_table("canonical_applications", sa.Column("id", sa.Integer, primary_key=True), sa.Column("name", sa.Text, nullable=False), schema="migration")
    op.create_table("data_imports", sa.Column("id", sa.Integer, primary_key=True), sa.Column("filename", sa.Text, nullable=False), schema="migration")
    op.create_table("raw_import_records", sa.Column("id", sa.Integer, primary_key=True), sa.Column("data_import_id", sa.Integer, sa.ForeignKey("migration.data_imports.id")), sa.Column("payload", sa.Text), schema="migration")
    op.create_table("assets", sa.Column("id", sa.Integer, primary_key=True), sa.Column("raw_import_record_id", sa.Integer, sa.ForeignKey("migration.raw_import_records.id")), sa.Column("name", sa.Text, nullable=False), schema="migration")
    op.create_table("discovery_flows", sa.Column("id", sa.Integer, primary_key=True), sa.Column("data_import_id", sa.Integer, sa.ForeignKey("migration.data_imports.id")), schema="migration")
    op.create_table("collection_flows", sa.Column("id", sa.Integer, primary_key=True), sa.Column("status", sa.Enum(name="collectionflowstatus", schema="migration", create_type=False)), schema="migration")


def downgrade() -> None:
    pass
PY
repo_commit "$(days_ago 20)" "084: discovery and collection tables"
cat >"$V/086_fix_collection_flow_status_adr012.py" <<'PY'
"""fix collection flow status (ADR-012)

Revision ID: 086
Revises: 084
"""
from alembic import op
import sqlalchemy as sa

revision = "086"
down_revision = "084"


def upgrade() -> None:
    # ADR-012: the status enum gets new values; recreate it.
    op.execute("DROP TYPE IF EXISTS migration.collectionflowstatus CASCADE")
    op.execute("CREATE TYPE migration.collectionflowstatus AS ENUM ('initialized', 'running', 'paused', 'completed', 'failed', 'cancelled')")
    op.add_column("collection_flows", sa.Column("status", sa.Enum(name="collectionflowstatus", schema="migration", create_type=False), nullable=True), schema="migration")


def downgrade() -> None:
    pass
PY
repo_commit "$(days_ago 1)" "086: fix collection flow status enum (ADR-012)"
repo_bundle

pg_start main
sql postgres "CREATE ROLE app LOGIN; CREATE ROLE admin LOGIN SUPERUSER; CREATE DATABASE migration_db OWNER app"
as_app alembic app migration_db <<'SQL'
BEGIN;
CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL, CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num));
CREATE SCHEMA IF NOT EXISTS migration;
CREATE TYPE migration.collectionflowstatus AS ENUM ('initialized', 'running', 'completed', 'failed');
CREATE TABLE migration.users (id SERIAL NOT NULL, email TEXT NOT NULL, PRIMARY KEY (id));
CREATE TABLE migration.canonical_applications (id SERIAL NOT NULL, name TEXT NOT NULL, PRIMARY KEY (id));
CREATE TABLE migration.data_imports (id SERIAL NOT NULL, filename TEXT NOT NULL, PRIMARY KEY (id));
CREATE TABLE migration.raw_import_records (id SERIAL NOT NULL, data_import_id INTEGER, payload TEXT, PRIMARY KEY (id), FOREIGN KEY(data_import_id) REFERENCES migration.data_imports (id));
CREATE TABLE migration.assets (id SERIAL NOT NULL, raw_import_record_id INTEGER, name TEXT NOT NULL, PRIMARY KEY (id), FOREIGN KEY(raw_import_record_id) REFERENCES migration.raw_import_records (id));
CREATE TABLE migration.discovery_flows (id SERIAL NOT NULL, data_import_id INTEGER, PRIMARY KEY (id), FOREIGN KEY(data_import_id) REFERENCES migration.data_imports (id));
CREATE TABLE migration.collection_flows (id SERIAL NOT NULL, status migration.collectionflowstatus, PRIMARY KEY (id));
INSERT INTO alembic_version (version_num) VALUES ('084') RETURNING alembic_version.version_num;
COMMIT;
SQL
as_app backend app migration_db <<'SQL'
INSERT INTO migration.users (email) SELECT 'user' || g || '@example.com' FROM generate_series(1, 11) g;
INSERT INTO migration.canonical_applications (name) SELECT 'app ' || g FROM generate_series(1, 8) g;
INSERT INTO migration.data_imports (filename) SELECT 'import-' || g || '.csv' FROM generate_series(1, 8) g;
INSERT INTO migration.raw_import_records (data_import_id, payload) SELECT 1 + g % 8, 'row ' || g FROM generate_series(1, 115) g;
INSERT INTO migration.assets (raw_import_record_id, name) SELECT g, 'asset ' || g FROM generate_series(1, 81) g;
DELETE FROM migration.assets WHERE id > 48;
INSERT INTO migration.discovery_flows (data_import_id) SELECT g FROM generate_series(1, 8) g;
DELETE FROM migration.discovery_flows WHERE id = 8;
INSERT INTO migration.collection_flows (status) SELECT (ARRAY['running', 'completed', 'failed'])[1 + g % 3]::migration.collectionflowstatus FROM generate_series(1, 143) g;
SQL
sql migration_db "VACUUM ANALYZE"

LABEL=migration_086 as_app alembic app migration_db <<'SQL'
BEGIN;
DROP TYPE IF EXISTS migration.collectionflowstatus CASCADE;
CREATE TYPE migration.collectionflowstatus AS ENUM ('initialized', 'running', 'paused', 'completed', 'failed', 'cancelled');
ALTER TABLE migration.collection_flows ADD COLUMN status migration.collectionflowstatus;
UPDATE alembic_version SET version_num='086' WHERE alembic_version.version_num = '084';
COMMIT;
SQL
as_app backend app migration_db <<'SQL'
INSERT INTO migration.collection_flows (status) VALUES ('running'), ('initialized');
SQL
sleep 1
LABEL=janitor as_app flow-janitor app migration_db <<'SQL'
DELETE FROM migration.collection_flows WHERE status IS NULL;
SQL
sleep 1
LABEL=truncate as_app reset_demo_data.py app migration_db <<'SQL'
TRUNCATE migration.assets, migration.raw_import_records, migration.data_imports, migration.discovery_flows;
SQL
sleep 1
LABEL=failed_delete ONE_COMMAND=1 as_app psql admin migration_db --allow-errors <<'SQL'
DELETE FROM migration.collection_flows WHERE status \!= 'completed';
SQL
flush migration_db
save_logs main
repo_checkout
collect main migration_db evidence.json --log postgresql.log --repo repo
write_expected <<'JSON'
{
  "story": "Seed 002 done right. (1) Alembic migration 086 ran DROP TYPE IF EXISTS migration.collectionflowstatus CASCADE, which dropped collection_flows.status (re-added empty): every status value lost, rows intact. (2) flow-janitor then deleted the 143 collection flows whose status was NULL (2 newer flows remain). (3) reset_demo_data.py truncated assets, raw_import_records, data_imports and discovery_flows in one TRUNCATE: 0 deletes, 0 live rows. (4) admin's pasted DELETE with '\\!=' failed with a syntax error and changed nothing. users and canonical_applications are intact. No baseline.",
  "tables": [
    {"table": "migration.assets", "kind": "truncate", "event": "truncate", "status": "wiped"},
    {"table": "migration.raw_import_records", "kind": "truncate", "event": "truncate", "status": "wiped"},
    {"table": "migration.data_imports", "kind": "truncate", "event": "truncate", "status": "wiped"},
    {"table": "migration.discovery_flows", "kind": "truncate", "event": "truncate", "status": "wiped"},
    {"table": "migration.collection_flows", "kind": "delete", "event": "janitor"}
  ],
  "not_wiped": ["migration.users", "migration.canonical_applications", "migration.collection_flows"],
  "timeline_events": ["migration_086", "failed_delete"],
  "events": {
    "truncate": {"statement": "TRUNCATE migration.assets, migration.raw_import_records, migration.data_imports, migration.discovery_flows"},
    "janitor": {"statement": "DELETE FROM migration.collection_flows WHERE status IS NULL"},
    "migration_086": {"statement": "DROP TYPE IF EXISTS migration.collectionflowstatus CASCADE"},
    "failed_delete": {"statement": "syntax error"}
  },
  "report_mentions": ["086_fix_collection_flow_status_adr012", "DROP TYPE IF EXISTS migration.collectionflowstatus CASCADE", "Do not rewrite migration.collection_flows: column #2 was dropped"]
}
JSON
finish
