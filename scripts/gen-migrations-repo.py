#!/usr/bin/env python3
"""Writes a `git fast-import` stream of a synthetic application history for
scripts/bench-migrations.sh: COMMITS commits (default 20,000), about 2,500 migration files spread
over per-app folders (Django apps with `apps/<app>/migrations/NNNN_*.py`, SQL services with
`services/<svc>/migrations/NNNN_*.sql`), plus application code edited in every commit; migrations
are modified, renamed and deleted, and every 2,000 commits a formatter rewrites 200 of them
(whitespace and keyword case only). Deterministic (seeded)."""

import random
import sys


# --- Shapes of real repositories -------------------------------------------------------------
# `gen-migrations-repo.py --shape NAME` writes a history with the shape of a public repository
# that cannot be fetched here, from its published statistics (issue #16). What is reproduced is
# what the walk and the parser pay for: commit count, share of merge commits, migration files
# ever added and their folder layout, how often one is edited, renamed or deleted afterwards,
# whole-folder rewrites (formatters, squashes, moves) and the SQL size per file. Application
# code is edited in every commit so that most commits change no migration, as in the real ones.
# Figures marked "assumed" are not published and were chosen to match the measurements
# (git log time relative to the walk), not taken from the real repository.
# `--shape NAME --commits N` writes N commits of the same shape (files scaled with the commits),
# for tests that need the shape in seconds (tests/migrations_walk_scope.rs).
SHAPES = {
    # saleor/saleor: 22.6k commits, 1.9k Django migration files (issue #16) in ~45 apps
    # (saleor/<app>/migrations/NNNN_name.py); black reformatted every Python file once (2018);
    # a few apps squashed; tests next to the apps. Merges and edit rates assumed.
    "saleor": dict(commits=22600, files=1900, merge_share=0.20, edit=0.05, rename=0.01,
                   delete=0.01, sql_kb=1.2, app_files=3200, framework="django"),
    # openfoodfoundation/openfoodnetwork: Rails, one flat db/migrate/ of timestamped files, PRs
    # merged with merge commits, old migrations squashed into one schema migration (2021);
    # spec/migrations/*_spec.rb and a vendored jquery-migrate that are not migrations.
    # Commit count (~24k), files (~1.3k ever added), shares: assumed.
    "openfoodnetwork": dict(commits=24000, files=1300, merge_share=0.35, edit=0.03,
                            rename=0.005, delete=0.005, sql_kb=0.6, app_files=5000,
                            framework="rails"),
    # LemmyNet/lemmy: 950 Diesel files (up.sql + down.sql per folder, ~3 MB of SQL: issue #16);
    # the folder moved from server/migrations/ to migrations/ when server/ became the root
    # (2020) and pg_format rewrote every migration once (2023). Commits (~6.8k), squash
    # merges (few merge commits), edit rates: assumed.
    "lemmy": dict(commits=6800, files=950, merge_share=0.03, edit=0.03, rename=0.0,
                  delete=0.002, sql_kb=6.0, app_files=700, framework="diesel"),
}

DJANGO_APPS = ["account", "app", "attribute", "channel", "checkout", "core", "csv", "discount",
               "giftcard", "invoice", "menu", "order", "page", "payment", "plugins", "product",
               "shipping", "site", "tax", "warehouse", "webhook", "wishlist", "seo", "search",
               "permission", "thumbnail", "graphql", "demo", "data_feeds", "dashboard",
               "cart", "userprofile", "registration", "delivery", "social", "analytics",
               "brand", "collection", "category", "voucher", "sale", "reviews", "tracking",
               "translations", "loyalty"]


def shaped(name, commits=None):
    cfg = dict(SHAPES[name])
    if commits is not None:
        # A smaller history of the same shape (tests): migration files scale with the commits,
        # so the per-commit rates, the shares and the rewrite points stay those of the full one.
        cfg["files"] = max(20, round(cfg["files"] * commits / cfg["commits"]))
        cfg["commits"] = commits
    rng = random.Random(f"pgtriage-{name}")
    out = sys.stdout.buffer
    commits = cfg["commits"]
    fw = cfg["framework"]
    marks = [0]

    def mark():
        marks[0] += 1
        return marks[0]

    blob_cache = {}

    def blob(content):
        """A blob with a mark, written once per distinct content."""
        b = content.encode()
        if b in blob_cache:
            return blob_cache[b]
        m = mark()
        out.write(b"blob\nmark :%d\ndata %d\n" % (m, len(b)))
        out.write(b)
        out.write(b"\n")
        blob_cache[b] = m
        return m

    # Application code: a tree of folders, every commit edits one to four files.
    depth_dirs = {
        "saleor": ["saleor/graphql/%s" % a for a in DJANGO_APPS[:30]]
        + ["saleor/%s" % a for a in DJANGO_APPS] + ["saleor/%s/tests" % a for a in DJANGO_APPS]
        + ["saleor/static/js/components/c%02d" % n for n in range(40)],
        "openfoodnetwork": ["app/models/spree", "app/controllers/admin", "app/views/shop",
                            "app/serializers/api", "lib/open_food_network", "engines/dfc/app",
                            "spec/models", "spec/features/admin", "spec/controllers"]
        + ["app/webpacker/components/c%02d" % n for n in range(60)]
        + ["config/locales/l%02d" % n for n in range(20)],
        "lemmy": ["crates/%s/src" % c for c in ["api", "api_crud", "apub", "db_schema", "db_views",
                                                 "routes", "utils", "federate", "db_perf"]]
        + ["crates/%s/src/impls" % c for c in ["db_schema", "apub", "api"]]
        + ["docker", "scripts", "api_tests/src"],
    }[name]
    app = {}
    for n in range(cfg["app_files"]):
        d = depth_dirs[n % len(depth_dirs)]
        ext = {"saleor": ".py", "openfoodnetwork": ".rb", "lemmy": ".rs"}[name]
        if name == "saleor" and d.endswith("/tests"):
            app[f"{d}/test_{n:05d}.py"] = f"def test_{n}():\n    assert True\n"
        else:
            app[f"{d}/file_{n:05d}{ext}"] = f"// {d} {n}\n"
    app_paths = sorted(app)

    def sql_text(n, kb, lower=True):
        """SQL of about `kb` KiB: tables, indexes, a function with a dollar-quoted body, a
        trigger, data fixes; one destructive statement in five files."""
        parts = []
        k = 0
        while sum(len(p) for p in parts) < kb * 1024:
            t = f"t{n}_{k}"
            cols = ",\n    ".join(f"col_{c} {rng.choice(['text', 'int', 'bigint', 'boolean DEFAULT false NOT NULL', 'timestamp with time zone DEFAULT now()'])}"
                                   for c in range(rng.randint(3, 9)))
            parts.append(f"create table {t} (\n    id serial primary key,\n    {cols}\n);\n")
            parts.append(f"create index idx_{t}_col_0 on {t} (col_0);\n")
            if k % 3 == 1:
                parts.append(
                    f"create or replace function {t}_aggregates ()\n    returns trigger\n    language plpgsql\n    as $$\n"
                    f"begin\n    update {t} set col_1 = col_1 where id = new.id;\n    return null;\nend\n$$;\n"
                    f"create trigger {t}_aggregates after insert or delete on {t}\n    for each row execute procedure {t}_aggregates ();\n")
            if k % 4 == 2:
                parts.append(f"alter table {t} add column extra_{k} text;\nupdate {t} set extra_{k} = 'x' where col_0 is null;\n")
            k += 1
        if rng.random() < 0.2:
            parts.append(rng.choice([f"drop table old_{n} cascade;\n", f"delete from t{n}_0 where col_0 is null;\n",
                                     f"alter table t{n}_0 drop column col_1;\n", f"truncate t{n}_0;\n"]))
        s = "".join(parts)
        return s if lower else pg_format(s)

    def pg_format(s):
        for kw in ["create table", "create index", "create or replace function", "returns", "language",
                   "begin", "update", "set", "where", "return", "end", "create trigger", "after insert or delete on",
                   "for each row execute procedure", "alter table", "add column", "drop table", "delete from",
                   "drop column", "truncate", "primary key", "is null", "default", "not null"]:
            s = s.replace(kw, kw.upper())
        return s.replace("\n    ", "\n  ")

    def size_kb():
        # Log-normal around the mean; a few files are large (initial schemas).
        return max(0.2, min(300.0, rng.lognormvariate(0, 1.1) * cfg["sql_kb"] / 1.8))

    def django(appname, n, kb):
        ops = []
        while sum(len(o) for o in ops) < kb * 1024:
            m = len(ops)
            ops.append(rng.choice([
                f"        migrations.AddField(\n            model_name='model{n}',\n            name='field_{m}',\n            field=models.CharField(blank=True, max_length=256),\n        ),\n",
                f"        migrations.AlterField(\n            model_name='model{n}',\n            name='field_{m}',\n            field=models.IntegerField(default=0),\n        ),\n",
                f"        migrations.CreateModel(\n            name='Model{n}x{m}',\n            fields=[\n                ('id', models.AutoField(primary_key=True)),\n                ('name', models.CharField(max_length=128)),\n            ],\n        ),\n",
            ]))
        if rng.random() < 0.15:
            ops.append(rng.choice([f"        migrations.RemoveField(model_name='model{n}', name='legacy'),\n",
                                   f"        migrations.DeleteModel(name='Old{n}'),\n",
                                   f"        migrations.RunSQL('DELETE FROM {appname}_model{n} WHERE archived'),\n"]))
        return ("# Generated by Django 3.2 on 2021-01-01 00:00\n\nfrom django.db import migrations, models\n\n\n"
                f"class Migration(migrations.Migration):\n\n    dependencies = [\n        ('{appname}', '{n - 1:04d}_auto'),\n    ]\n\n"
                "    operations = [\n" + "".join(ops) + "    ]\n")

    def rails(n, kb, t):
        body = []
        while sum(len(b) for b in body) < kb * 1024:
            k = len(body)
            body.append(rng.choice([
                f"    add_column :spree_table_{n}, :field_{k}, :string\n",
                f"    add_index :spree_table_{n}, :field_{k}\n",
                f"    create_table :table_{n}_{k} do |t|\n      t.string :name, null: false\n      t.references :enterprise\n      t.timestamps\n    end\n",
                f"    change_column_null :spree_table_{n}, :field_{k}, false\n",
            ]))
        if rng.random() < 0.15:
            body.append(rng.choice([f"    drop_table :old_table_{n}\n", f"    remove_column :spree_table_{n}, :legacy\n",
                                    f"    execute \"DELETE FROM spree_table_{n} WHERE deleted_at IS NOT NULL\"\n"]))
        return f"class Change{n}Table < ActiveRecord::Migration[{rng.choice(['4.2', '5.0', '6.1', '7.0'])}]\n  def change\n" + "".join(body) + "  end\nend\n"

    live = {}  # migration path -> content
    counters = {}
    t0 = 1_400_000_000
    # Pull requests start with probability 2m and take 1-3 commits plus their merge: merges are
    # 2m / (1 + 4m) of all commits, and only the others add migrations.
    m2 = cfg["merge_share"] * 2
    rate = cfg["files"] / (commits * (1 - m2 / (1 + 2 * m2))) / (2 if fw == "diesel" else 1)
    moved = False
    rewritten = False
    squashed = False
    main_mark = None
    files_added = 0
    # Vendored and test files that look like migrations but are none (issue #16 "also seen").
    if name == "openfoodnetwork":
        app["app/assets/javascripts/jquery-migrate-1.0.0.js"] = "/*! jQuery Migrate v1.0.0 */\n" * 200
        for n in range(12):
            app[f"spec/migrations/{20200101000000 + n}_migration_spec.rb"] = f"describe 'migration {n}' do\n  it {{ Spree::Order.delete_all }}\nend\n"
        app_paths = sorted(app)

    def new_migration(i, ops):
        nonlocal files_added
        when = t0 + i * 3600
        stamp = __import__("time").strftime("%Y%m%d%H%M%S", __import__("time").gmtime(when))
        kb = size_kb()
        if fw == "django":
            a = rng.choice(DJANGO_APPS)
            counters[a] = counters.get(a, 0) + 1
            n = counters[a]
            if n == 1:
                ops.append(("M", f"saleor/{a}/migrations/__init__.py", ""))
            path = f"saleor/{a}/migrations/{n:04d}_auto_{stamp}.py"
            content = django(a, n, kb)
            ops.append(("M", path, content))
            live[path] = content
            files_added += 1
        elif fw == "rails":
            path = f"db/migrate/{stamp}_change_{i}.rb"
            content = rails(i, kb, stamp)
            ops.append(("M", path, content))
            live[path] = content
            files_added += 1
            app["db/schema.rb"] = app.get("db/schema.rb", "ActiveRecord::Schema.define do\n") + f"  # {stamp}\n"
            ops.append(("M", "db/schema.rb", app["db/schema.rb"]))
        else:
            root = "migrations" if moved else "server/migrations"
            d = f"{root}/{__import__('time').strftime('%Y-%m-%d-%H%M%S', __import__('time').gmtime(when))}_change_{i}"
            up = sql_text(i, kb, lower=not rewritten)
            down = "".join(f"drop table t{i}_{k};\n" for k in range(max(1, up.count("create table"))))
            for fname, content in (("up.sql", up), ("down.sql", down)):
                ops.append(("M", f"{d}/{fname}", content))
                live[f"{d}/{fname}"] = content
                files_added += 1

    def one_commit(i, ops):
        for p in rng.sample(app_paths, rng.randint(1, 4)):
            app[p] += f"// {i}\n"
            ops.append(("M", p, app[p]))
        if rng.random() < rate:
            new_migration(i, ops)
        # `edit`, `rename`, `delete`: share of the migration files that get one, over the history.
        r = rng.random() * commits / cfg["files"]
        if live and r < cfg["edit"]:
            p = rng.choice(sorted(live))
            live[p] += "-- fix\n" if p.endswith(".sql") else "# fix\n"
            ops.append(("M", p, live[p]))
        elif live and r < cfg["edit"] + cfg["rename"]:
            p = rng.choice(sorted(live))
            q = p.replace("_auto_", "_renamed_").replace("_change_", "_renamed_")
            if q != p and q not in live:
                live[q] = live.pop(p)
                ops.append(("R", p, q))
        elif live and r < cfg["edit"] + cfg["rename"] + cfg["delete"]:
            p = rng.choice(sorted(live))
            del live[p]
            ops.append(("D", p, None))

    def rewrite_all(ops):
        """One commit that rewrites every migration (formatter) or moves the folder."""
        nonlocal moved, rewritten, squashed
        if name == "saleor":
            for p in sorted(live):
                live[p] = live[p].replace("'", '"')
                ops.append(("M", p, live[p]))
            rewritten = True
        elif name == "lemmy" and not moved:
            for p in sorted(live):
                q = p.replace("server/migrations/", "migrations/", 1)
                live[q] = live.pop(p)
                ops.append(("R", p, q))
            moved = True
        elif name == "lemmy":
            for p in sorted(live):
                if p.endswith(".sql"):
                    live[p] = pg_format(live[p])
                    ops.append(("M", p, live[p]))
            rewritten = True
        elif name == "openfoodnetwork" and not squashed:
            old = sorted(live)[: int(len(live) * 0.7)]
            for p in old:
                del live[p]
                ops.append(("D", p, None))
            path = "db/migrate/20210101000000_init_schema.rb"
            live[path] = rails(0, 120, "") 
            ops.append(("M", path, live[path]))
            squashed = True

    events = {"saleor": [0.30], "openfoodnetwork": [0.75], "lemmy": [0.40, 0.85]}[name]
    # Thresholds, not exact commits: a pull request may span the commit a fraction names.
    pending = [int(commits * f) for f in events]

    def write_commit(ref_from, merge_from, ops, i, msg):
        m = mark()
        resolved = []
        for op in ops:
            if op[0] == "M":
                resolved.append(("M", op[1], blob(op[2])))
            else:
                resolved.append(op)
        who = i % 23
        when = t0 + i * 3600
        out.write(b"commit refs/heads/main\nmark :%d\n" % m)
        out.write(b"author Dev %d <dev%d@example.com> %d +0000\n" % (who, who, when))
        out.write(b"committer Dev %d <dev%d@example.com> %d +0000\n" % (who, who, when))
        out.write(b"data %d\n%s\n" % (len(msg), msg))
        if ref_from:
            out.write(b"from :%d\n" % ref_from)
        if merge_from:
            out.write(b"merge :%d\n" % merge_from)
        for op in resolved:
            if op[0] == "M":
                out.write(b"M 100644 :%d %s\n" % (op[2], op[1].encode()))
            elif op[0] == "D":
                out.write(b"D %s\n" % op[1].encode())
            else:
                out.write(b'R "%s" "%s"\n' % (op[1].encode(), op[2].encode()))
        out.write(b"\n")
        return m

    i = 0
    # The first commit holds the application tree.
    main_mark = write_commit(None, None, [("M", p, app[p]) for p in app_paths], i, b"initial import")
    i += 1
    while i < commits:
        if rng.random() < cfg["merge_share"] * 2 and i + 2 < commits:
            # A pull request of 1-3 commits merged with a merge commit (--no-ff): the merge
            # restates the branch's final contents on top of the first parent.
            k = rng.randint(1, 3)
            tip = main_mark
            final = {}
            for _ in range(k):
                ops = []
                one_commit(i, ops)
                for op in ops:
                    if op[0] == "M":
                        final[op[1]] = ("M", op[1], op[2])
                    elif op[0] == "D":
                        final[op[1]] = ("D", op[1], None)
                    else:
                        final[op[1]] = ("D", op[1], None)
                        final[op[2]] = ("M", op[2], live.get(op[2], ""))
                tip = write_commit(tip, None, ops, i, b"change %d\n" % i)
                i += 1
            main_mark = write_commit(main_mark, tip, list(final.values()), i, b"Merge pull request #%d\n" % i)
            i += 1
            continue
        ops = []
        if pending and i >= pending[0]:
            pending.pop(0)
            rewrite_all(ops)
        else:
            one_commit(i, ops)
        main_mark = write_commit(main_mark, None, ops, i, b"commit %d\n" % i)
        i += 1
    sys.stderr.write(f"{name}: {i} commits, {files_added} migration files added, {len(live)} live at HEAD, "
                     f"{sum(len(v) for v in live.values()) // 1024} KiB of migrations at HEAD\n")


if len(sys.argv) > 2 and sys.argv[1] == "--shape":
    if sys.argv[2] not in SHAPES:
        sys.exit(f"--shape {sys.argv[2]}: unknown; one of {', '.join(SHAPES)}")
    # `--shape NAME --commits N`: N commits instead of the repository's own count.
    shape_commits = None
    if len(sys.argv) > 4 and sys.argv[3] == "--commits":
        shape_commits = int(sys.argv[4])
        if shape_commits < 10:
            sys.exit("--commits: at least 10")
    shaped(sys.argv[2], shape_commits)
    sys.exit(0)


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
