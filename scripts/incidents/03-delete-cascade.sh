#!/usr/bin/env bash
# 03-delete-cascade: support offboards tenant 7 with `DELETE FROM tenants WHERE id = 7` from the
# admin tool; ON DELETE CASCADE silently takes its 10 projects and their 100 tasks with it. The
# log shows only the parent DELETE; the stats show n_tup_del on all three tables, in FK fan-out
# proportions, with the dead tuples still there.
source "$(dirname "$0")/lib.sh"
incident_begin 03-delete-cascade
pg_start main
sql postgres "CREATE ROLE saas LOGIN; CREATE ROLE support LOGIN; CREATE DATABASE saas OWNER saas"
as_app saas-migrate saas saas <<'SQL'
CREATE TABLE tenants (id int PRIMARY KEY, name text NOT NULL);
CREATE TABLE projects (id int PRIMARY KEY, tenant_id int NOT NULL REFERENCES tenants(id) ON DELETE CASCADE, title text NOT NULL);
CREATE TABLE tasks (id int PRIMARY KEY, project_id int NOT NULL REFERENCES projects(id) ON DELETE CASCADE, done boolean NOT NULL DEFAULT false);
CREATE TABLE plans (id int PRIMARY KEY, name text NOT NULL);
GRANT SELECT, DELETE ON tenants TO support;
SQL
as_app saas-web saas saas <<'SQL'
INSERT INTO tenants SELECT g, 'tenant ' || g FROM generate_series(1, 20) g;
INSERT INTO projects SELECT g, 1 + (g - 1) % 20, 'project ' || g FROM generate_series(1, 200) g;
INSERT INTO tasks SELECT g, 1 + (g - 1) % 200 FROM generate_series(1, 2000) g;
INSERT INTO plans VALUES (1, 'free'), (2, 'team'), (3, 'enterprise');
SQL
sql saas "VACUUM ANALYZE"
flush saas
collect main saas baseline.json

LABEL=delete_tenant as_app support-admin support saas <<'SQL'
DELETE FROM tenants WHERE id = 7;
SQL
flush saas
save_logs main
collect main saas evidence.json --log postgresql.log --baseline baseline.json
write_expected <<'JSON'
{
  "story": "Support (role support, application support-admin) deleted tenant 7. ON DELETE CASCADE removed its 10 projects and their 100 tasks in the same transaction; only the parent DELETE is in the log.",
  "tables": [
    {"table": "public.tenants", "kind": "cascade", "event": "delete_tenant"},
    {"table": "public.projects", "kind": "cascade", "event": "delete_tenant"},
    {"table": "public.tasks", "kind": "cascade", "event": "delete_tenant"}
  ],
  "not_wiped": ["public.plans", "public.tenants", "public.projects", "public.tasks"],
  "events": {
    "delete_tenant": {"statement": "DELETE FROM tenants WHERE id = 7"}
  }
}
JSON
finish
