#!/usr/bin/env bash
# 07-drop-recreate: a developer pastes the "reset comments" snippet of the dev setup guide into
# a console connected to production: DROP TABLE comments; CREATE TABLE comments (…); three
# sample rows. New oid (higher than its siblings), relfilenode = oid, counters restarted with
# ins = 3, every last_* NULL.
source "$(dirname "$0")/lib.sh"
incident_begin 07-drop-recreate
pg_start main
sql postgres "CREATE ROLE blog LOGIN; CREATE ROLE deploy LOGIN; CREATE DATABASE blog OWNER blog"
as_app blog-migrate blog blog <<'SQL'
CREATE TABLE posts (id int PRIMARY KEY, title text NOT NULL);
CREATE TABLE comments (id int PRIMARY KEY, post_id int NOT NULL REFERENCES posts(id), body text NOT NULL);
CREATE TABLE tags (id int PRIMARY KEY, name text NOT NULL);
GRANT REFERENCES ON posts TO deploy;
SQL
as_app blog-web blog blog <<'SQL'
INSERT INTO posts SELECT g, 'post ' || g FROM generate_series(1, 100) g;
INSERT INTO comments SELECT g, 1 + g % 100, 'comment ' || g FROM generate_series(1, 500) g;
INSERT INTO tags SELECT g, 'tag ' || g FROM generate_series(1, 25) g;
SQL
sql blog "ALTER TABLE comments OWNER TO deploy; GRANT CREATE ON SCHEMA public TO deploy"
sql blog "VACUUM ANALYZE"
flush blog
collect main blog baseline.json

LABEL=drop_recreate as_app rails-console deploy blog <<'SQL'
DROP TABLE comments;
CREATE TABLE comments (id int PRIMARY KEY, post_id int NOT NULL REFERENCES posts(id), body text NOT NULL);
INSERT INTO comments VALUES (1, 1, 'first!'), (2, 1, 'nice post'), (3, 2, 'sample comment');
SQL
flush blog
save_logs main
collect main blog evidence.json --log postgresql.json --baseline baseline.json
write_expected <<'JSON'
{
  "story": "deploy (rails-console) ran the dev guide's reset snippet on production: DROP TABLE comments, CREATE TABLE comments, three sample rows. The 500 real comments are gone with the old table. The evidence was collected from the jsonlog.",
  "tables": [
    {"table": "public.comments", "kind": "drop_recreate", "event": "drop_recreate"}
  ],
  "not_wiped": ["public.posts", "public.tags"],
  "events": {
    "drop_recreate": {"statement": "DROP TABLE comments"}
  }
}
JSON
finish
