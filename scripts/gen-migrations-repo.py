#!/usr/bin/env python3
"""Writes a `git fast-import` stream of a synthetic application history for
scripts/bench-migrations.sh: COMMITS commits (default 20,000), about 2,500 migration files spread
over per-app folders (Django apps with `apps/<app>/migrations/NNNN_*.py`, SQL services with
`services/<svc>/migrations/NNNN_*.sql`), plus application code edited in every commit; migrations
are modified, renamed and deleted, and every 2,000 commits a formatter rewrites 200 of them
(whitespace and keyword case only). Deterministic (seeded)."""

import random
import sys

COMMITS = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
rng = random.Random(42)
out = sys.stdout.buffer

DJANGO_APPS = [f"apps/app{n:02d}/migrations" for n in range(20)]
SQL_SVCS = [f"services/svc{n:02d}/migrations" for n in range(20)]
SRC = [f"src/module{n:03d}/code{n:03d}.py" for n in range(300)]
DOCS = [f"docs/page{n:02d}.md" for n in range(50)]

counters = {d: 0 for d in DJANGO_APPS + SQL_SVCS}
live = {}  # path -> content
src_content = {p: f"# {p}\nVALUE = 0\n" for p in SRC}


def sql_migration(n, destructive):
    body = [f"CREATE TABLE t_{n} (id bigint PRIMARY KEY, name text NOT NULL, created_at timestamptz);"]
    body.append(f"CREATE INDEX idx_t_{n}_name ON t_{n} (name);")
    if destructive == 1:
        body.append(f"DROP TABLE IF EXISTS old_{n} CASCADE;")
    elif destructive == 2:
        body.append(f"DELETE FROM t_{n};")
    elif destructive == 3:
        body.append(f"ALTER TABLE t_{n} DROP COLUMN name;")
    body.append(
        "DO $$\nBEGIN\n  IF EXISTS (SELECT 1 FROM pg_tables WHERE tablename = 'x') THEN\n"
        f"    UPDATE t_{n} SET name = 'x' WHERE id = 1;\n  END IF;\nEND $$;"
    )
    return "\n".join(body) + "\n"


def django_migration(app, n, destructive):
    ops = [f"        migrations.CreateModel(name='Model{n}', fields=[('id', models.AutoField(primary_key=True))]),"]
    if destructive == 1:
        ops.append(f"        migrations.DeleteModel(name='Old{n}'),")
    elif destructive == 2:
        ops.append(f"        migrations.RemoveField(model_name='model{n}', name='legacy'),")
    elif destructive == 3:
        ops.append(f"        migrations.RunSQL(\"DELETE FROM {app}_model{n}\"),")
    return (
        "from django.db import migrations, models\n\n\n"
        "class Migration(migrations.Migration):\n"
        f"    dependencies = [('{app}', '{n - 1:04d}')]\n"
        "    operations = [\n" + "\n".join(ops) + "\n    ]\n"
    )


def formatted(path, content):
    if path.endswith(".sql"):
        # pg_format style: upper-case keywords, different indentation.
        return content.replace("CREATE TABLE", "create table").replace("    ", "  ").replace(";\n", ";\n\n")
    return content.replace("'", '"')


def data(b):
    out.write(b"data %d\n" % len(b))
    out.write(b)
    out.write(b"\n")


t0 = 1_600_000_000
mark = 0
for i in range(COMMITS):
    mark += 1
    ops = []
    # Application code: 1-3 edits per commit.
    for p in rng.sample(SRC, rng.randint(1, 3)):
        src_content[p] += f"VALUE_{i} = {i}\n"
        ops.append(("M", p, src_content[p]))
    if i % 17 == 0:
        p = rng.choice(DOCS)
        ops.append(("M", p, f"# docs {i}\n"))
    r = rng.random()
    touched = set()
    if r < 0.125 or i < 40:
        d = rng.choice(DJANGO_APPS + SQL_SVCS)
        counters[d] += 1
        n = counters[d]
        destructive = rng.choice([0, 0, 0, 0, 1, 2, 3])
        if d.startswith("apps/"):
            app = d.split("/")[1]
            path = f"{d}/{n:04d}_change_{i}.py"
            content = django_migration(app, n, destructive)
        else:
            path = f"{d}/{n:04d}_change_{i}.sql"
            content = sql_migration(i, destructive)
        live[path] = content
        touched.add(path)
        ops.append(("M", path, content))
    elif r < 0.225 and live:
        path = rng.choice(sorted(live))
        live[path] = live[path] + ("-- note\n" if path.endswith(".sql") else "# note\n")
        touched.add(path)
        ops.append(("M", path, live[path]))
    elif r < 0.235 and live:
        path = rng.choice(sorted(live))
        del live[path]
        touched.add(path)
        ops.append(("D", path, None))
    elif r < 0.245 and live:
        path = rng.choice(sorted(live))
        new = path.replace("_change_", "_renamed_")
        if new != path and new not in live:
            live[new] = live.pop(path)
            touched.update([path, new])
            ops.append(("R", path, new))
    if i > 0 and i % 2000 == 0:
        for path in rng.sample(sorted(live), min(200, len(live))):
            if path in touched:
                continue
            live[path] = formatted(path, live[path])
            ops.append(("M", path, live[path]))

    msg = f"commit {i}\n".encode()
    out.write(b"commit refs/heads/main\n")
    out.write(b"mark :%d\n" % mark)
    when = t0 + i * 600
    out.write(b"author Dev %d <dev%d@example.com> %d +0000\n" % (i % 7, i % 7, when))
    out.write(b"committer Dev %d <dev%d@example.com> %d +0000\n" % (i % 7, i % 7, when))
    data(msg)
    if mark > 1:
        out.write(b"from :%d\n" % (mark - 1))
    for op in ops:
        if op[0] == "M":
            out.write(b"M 100644 inline %s\n" % op[1].encode())
            data(op[2].encode())
        elif op[0] == "D":
            out.write(b"D %s\n" % op[1].encode())
        else:
            out.write(b'R "%s" "%s"\n' % (op[1].encode(), op[2].encode()))
    out.write(b"\n")

sys.stderr.write(
    f"{COMMITS} commits, {sum(counters.values())} migration files added, {len(live)} live at HEAD\n"
)
