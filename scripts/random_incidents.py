#!/usr/bin/env python3
"""Randomized incidents on a real PostgreSQL, judged against the ground truth they were staged with.

Usage: random_incidents.py N [SEED]   (normally through scripts/random-incidents.sh)

Each incident i of a run is drawn from random.Random(f"{SEED}/{i}") alone, so one incident can be
re-staged by itself (RANDOM_INCIDENTS_ONLY=i), and a larger N run in parts
(RANDOM_INCIDENTS_FROM=i stages i..N-1). For each incident this:

1. copies a cluster initialised once per run and starts it with random logging settings:
   log_statement none/ddl/mod/all, one of several log_line_prefix values, stderr/csvlog/jsonlog,
   a log time zone, track_commit_timestamp on or off;
2. creates a random schema in one database: several schemas (quoted mixed-case and reserved-word
   names among them), FK chains up to depth 4 with mixed ON DELETE actions, a partitioned
   table, tables without a primary key;
3. runs a background workload (inserts, updates, a few routine deletes), optionally VACUUM
   ANALYZE and a baseline (`pgtriage collect`);
4. stages one or two events drawn from every hypothesis kind (truncate, cascade, rollback,
   restore, delete, drop_recreate; and ways of doing them a bundled incident does not show: a
   DROP never followed by a CREATE, a purge job deleting in batches, a DELETE inside a SQL or
   PL/pgSQL function the log shows only as its CREATE FUNCTION and SELECT, a DELETE in a
   data-modifying WITH, a bare DELETE after SET search_path beside a namesake in public, a
   parameterised DELETE over the extended protocol, `TRUNCATE a; DELETE FROM b` sent as one
   query, a partition dropped, a DELETE … WHERE cascading down its children, a TRUNCATE inside
   a function, a DELETE whose WHERE reads another table, `pg_restore --clean` into the same
   database, an UNLOGGED table emptied by crash recovery) and the false alarms (among them a DELETE or TRUNCATE of a same-named table in
   another database of the cluster) (crash, pg_stat_reset, never
   populated, a DELETE or TRUNCATE whose transaction rolled back), each on its own tables, and
   records per table what happened (RANDOM_INCIDENTS_KINDS=k1,k2,… draws from those kinds
   only);
5. runs `pgtriage collect` (with --baseline when there is one) and `pgtriage report --format
   json`, and judges every table.

A table is explained correctly when:
- it lost rows (truncate, cascade, delete, drop_recreate, restore, drop, batched_delete,
  function_delete, cte_delete, search_path_delete, extended_delete, multi_statement,
  partition_drop, partial_cascade, function_truncate, join_delete, restore_clean,
  unlogged_crash): the first hypothesis in rank
  order listing it (the report's contract) has an accepted kind (a TRUNCATE … CASCADE may be
  told as `cascade` or `truncate`; a DELETE whose FKs cascaded as `delete` or `cascade` for the
  table named in the statement; a DROP (of a table or a partition) as `drop_recreate`, left
  out when there is neither a
  baseline nor a logged DROP to see it by; the other DELETEs as `delete`);
- it only had a rolled-back insert: its first hypothesis is `rollback` and it is not `wiped`
  (`stats_reset` is as true when a crash or `pg_stat_reset()` came after the insert: it zeroed
  the counters that showed it);
- it was never written: its first hypothesis is `never_populated`, or no loss explains it and its
  status is `never_populated`;
- its counters restarted (crash, pg_stat_reset), its DELETE or TRUNCATE rolled back, or nothing
  happened to it: no loss hypothesis is its first explanation and its status is not `wiped`.

Prints per-kind accuracy, the number of incidents that only had false alarms where a "data loss"
hypothesis is some table's first explanation (and, stricter, those with any finding counted as a
loss, whatever its rank and table), and last `random incidents: K/N tables explained correctly`. Misses are kept under
RANDOM_INCIDENTS_KEEP (default target/random-incidents/SEED) with truth.json, evidence.json,
report.json and the server log, so each can be re-judged with a newer pgtriage.
"""

import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import defaultdict

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PGTRIAGE = os.environ.get("PGTRIAGE", os.path.join(ROOT, "target/debug/pgtriage"))


def find_bindir():
    env = os.environ.get("PGTRIAGE_PG_BINDIR")
    if env:
        return env
    cands = sorted(
        (d for d in os.listdir("/usr/lib/postgresql") if d.isdigit()), key=int
    ) if os.path.isdir("/usr/lib/postgresql") else []
    for v in reversed(cands):
        d = f"/usr/lib/postgresql/{v}/bin"
        if os.path.exists(f"{d}/initdb"):
            return d
    sys.exit("no PostgreSQL server binaries (set PGTRIAGE_PG_BINDIR)")


BIN = find_bindir()
IS_ROOT = os.geteuid() == 0

# Words PostgreSQL reserves (a subset that makes good table names): they must be quoted.
RESERVED = {
    "order", "user", "group", "table", "select", "from", "where", "check", "default", "limit",
    "offset", "grant", "column", "references", "primary", "analyse", "analyze", "window", "end",
}
SCHEMA_POOL = ["billing", "Sales", "order", "app_data", "Ops", "user", "inventory"]
TABLE_POOL = [
    "customers", "accounts", "orders", "order", "user", "group", "UserAccounts", "LineItems",
    "Invoice", "invoice_lines", "events", "audit_log", "Sessions", "tags", "payments",
    "shipments", "Products", "inventory", "notes", "table", "check", "Ledger", "line_items",
    "Addresses", "refunds", "select", "Reviews", "comments", "window", "limit",
]
PREFIXES = [
    "%m [%p] %q%u@%d ",
    "%t [%p]: [%l-1] user=%u,db=%d,app=%a,client=%h ",
    "%m [%p] %q[%a] %u@%d ",
    "%m %p %u %d %a %x ",
    "< %m %u %d %p > ",
    "%m %u@%d ",  # no %p: sessions cannot be followed, outcomes stay unknown
]
ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata", "Australia/Sydney"]
DESTINATIONS = {"stderr": "postgresql.log", "csvlog": "postgresql.csv", "jsonlog": "postgresql.json"}
LOSS_KINDS = {"truncate", "cascade", "delete", "drop_recreate", "restore", "drop", "batched_delete",
              "function_delete", "cte_delete", "search_path_delete", "extended_delete",
              "multi_statement", "partition_drop", "partial_cascade", "function_truncate",
              "join_delete", "restore_clean", "unlogged_crash"}
# A DELETE or TRUNCATE whose transaction rolled back (ROLLBACK, or an error before COMMIT)
# removed nothing; with log_statement = mod the log shows the statement and not how its
# transaction ended, so only the tables tell.
ROLLED_BACK_KINDS = {"rolled_back_delete", "rolled_back_truncate"}
# A DELETE of every row of a same-named table in another database of the cluster: the log
# shows it beside this database's statements; this database lost nothing.
FALSE_ALARMS = {"crash", "stats_reset", "never_populated", "other_database"} | ROLLED_BACK_KINDS
EVENT_KINDS = [
    "truncate", "cascade", "rollback", "restore", "delete", "drop_recreate",
    "crash", "stats_reset", "never_populated", "rolled_back_delete", "rolled_back_truncate",
    "drop", "batched_delete", "function_delete", "cte_delete", "search_path_delete",
    "extended_delete", "multi_statement", "partition_drop", "partial_cascade", "function_truncate",
    "other_database", "join_delete", "restore_clean", "unlogged_crash",
]


def drawn_kinds():
    """The kinds events are drawn from: RANDOM_INCIDENTS_KINDS (comma-separated) narrows them."""
    wanted = [k for k in os.environ.get("RANDOM_INCIDENTS_KINDS", "").split(",") if k]
    unknown = [k for k in wanted if k not in EVENT_KINDS]
    if unknown:
        sys.exit(f"RANDOM_INCIDENTS_KINDS: unknown kind(s) {', '.join(unknown)}")
    return wanted or EVENT_KINDS


def ident(name):
    """An SQL identifier as PostgreSQL needs it written: bare when it folds to itself."""
    if re.fullmatch(r"[a-z_][a-z0-9_]*", name) and name not in RESERVED:
        return name
    return '"' + name.replace('"', '""') + '"'


def qname(schema, name):
    return f"{ident(schema)}.{ident(name)}"


def run(cmd, check=True, **kw):
    p = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if check and p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({p.returncode}): {p.stderr.strip()[:2000]}")
    return p


def as_pg(cmd):
    return (["runuser", "-u", "postgres", "--"] + cmd) if IS_ROOT else cmd


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def utc_now():
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + f".{int(time.time() * 1e6) % 1000000:06d}Z"


class Cluster:
    """One throwaway cluster, copied from the run's template data directory."""

    def __init__(self, template, settings):
        self.dir = tempfile.mkdtemp(prefix="pgtriage-random-")
        os.chmod(self.dir, 0o755)
        shutil.copytree(template, f"{self.dir}/data", symlinks=True)
        with open(f"{self.dir}/data/postgresql.conf", "a") as f:
            f.write("\n# random incident\n")
            f.write(f"unix_socket_directories = '{self.dir}'\n")
            for k, v in settings.items():
                f.write(f"{k} = '{v}'\n")
        if IS_ROOT:
            run(["chown", "-R", "postgres:postgres", self.dir])
        os.chmod(f"{self.dir}/data", 0o700)
        self.port = None

    def start(self):
        self.port = free_port()
        run(as_pg([f"{BIN}/pg_ctl", "-D", f"{self.dir}/data", "-w", "-t", "120", "-l",
                   f"{self.dir}/startup.log", "-o", f"-p {self.port}", "start"]))

    def stop(self, mode="fast"):
        run(as_pg([f"{BIN}/pg_ctl", "-D", f"{self.dir}/data", "-w", "-t", "60", "-m", mode, "stop"]),
            check=False)

    def destroy(self):
        self.stop("immediate")
        shutil.rmtree(self.dir, ignore_errors=True)

    def env(self, app):
        e = dict(os.environ)
        e.update(PGHOST=self.dir, PGPORT=str(self.port), PGUSER="postgres", PGAPPNAME=app)
        return e

    def psql(self, db, sql, app="setup", allow_errors=False):
        p = run([f"{BIN}/psql", "-X", "-q", "-At", "-v", f"ON_ERROR_STOP={0 if allow_errors else 1}",
                 "-d", db, "-f", "-"], input=sql, env=self.env(app), check=not allow_errors)
        time.sleep(0.15)  # the backend flushes its statistics as it exits
        return p.stdout

    def psql_command(self, db, sql, app="setup"):
        """`psql -c SQL`: the whole text is one simple-protocol query, logged as one line."""
        p = run([f"{BIN}/psql", "-X", "-q", "-At", "-d", db, "-c", sql], env=self.env(app))
        time.sleep(0.15)
        return p.stdout

    def tool(self, cmd, db, *args):
        return run([f"{BIN}/{cmd}", "-U", "postgres", *([] if db is None else ["-d", db]), *args],
                   env=self.env(cmd))

    def url(self, db):
        return f"postgres:///{db}?host={self.dir}&port={self.port}&user=postgres"

    def log_path(self, dest):
        return f"{self.dir}/data/log/{DESTINATIONS[dest]}"


class Table:
    def __init__(self, schema, name, pk=True, parent=None, action=None, partitioned=False):
        self.schema, self.name = schema, name
        self.pk, self.parent, self.action = pk, parent, action
        self.partitioned = partitioned
        self.partitions = []  # (schema, name) of leaf partitions
        self.children = []
        self.rows = 0
        self.never_written = False
        self.unlogged = False

    @property
    def q(self):
        return qname(self.schema, self.name)

    @property
    def key(self):
        return f"{self.schema}.{self.name}"

    def leaves(self):
        """What pgtriage lists as tables: the partitions of a partitioned table, else itself."""
        return [f"{s}.{n}" for s, n in self.partitions] if self.partitioned else [self.key]

    def ddl(self):
        cols = ["id int NOT NULL"]
        if self.parent is not None:
            null = "" if self.action == "SET NULL" else " NOT NULL"
            cols.append(f"parent_id int{null} REFERENCES {self.parent.q}(id) ON DELETE {self.action}")
        cols.append("payload text")
        if self.pk:
            cols.append("PRIMARY KEY (id)")
        part = " PARTITION BY RANGE (id)" if self.partitioned else ""
        kind = "UNLOGGED TABLE" if self.unlogged else "TABLE"
        out = [f"CREATE {kind} {self.q} ({', '.join(cols)}){part};"]
        for i, (s, n) in enumerate(self.partitions):
            # Split at 20 so both partitions hold rows whatever the row count.
            lo, hi = (("MINVALUE", "20") if i == 0 else ("20", "MAXVALUE"))
            out.append(f"CREATE TABLE {qname(s, n)} PARTITION OF {self.q} FOR VALUES FROM ({lo}) TO ({hi});")
        return "\n".join(out)

    def insert(self, lo, hi):
        if self.parent is not None:
            pr = max(self.parent.rows, 1)
            return (f"INSERT INTO {self.q} (id, parent_id, payload) SELECT g, 1 + g % {pr}, "
                    f"'row ' || g FROM generate_series({lo}, {hi}) g;")
        return f"INSERT INTO {self.q} (id, payload) SELECT g, 'row ' || g FROM generate_series({lo}, {hi}) g;"


class Incident:
    def __init__(self, seed, index):
        self.rng = random.Random(f"{seed}/{index}")
        self.index = index
        self.truth = {}  # leaf table -> {"kind": …, "accept": [...], "event": …}
        self.events = []
        self.notes = []

    # ---- schema -------------------------------------------------------------------------
    def make_schema(self):
        rng = self.rng
        schemas = ["public"] + rng.sample(SCHEMA_POOL, rng.randint(1, 2))
        names = rng.sample(TABLE_POOL, len(TABLE_POOL))
        used = set()

        def new_name(schema):
            while True:
                n = names.pop()
                if (schema, n) not in used:
                    used.add((schema, n))
                    return n

        tables = []
        for _ in range(rng.randint(1, 2)):  # FK chains, depth 1-4
            depth = rng.randint(1, 4)
            parent = None
            for level in range(depth + 1):
                s = rng.choice(schemas)
                action = None
                if parent is not None:
                    action = rng.choice(["CASCADE", "CASCADE", "NO ACTION", "RESTRICT", "SET NULL"])
                t = Table(s, new_name(s), pk=True, parent=parent, action=action)
                if parent is not None:
                    parent.children.append(t)
                tables.append(t)
                parent = t
        for _ in range(rng.randint(1, 3)):  # standalone tables, some without a primary key
            s = rng.choice(schemas)
            tables.append(Table(s, new_name(s), pk=rng.random() < 0.6))
        if rng.random() < 0.5:  # a partitioned table
            s = rng.choice(schemas)
            t = Table(s, new_name(s), pk=True, partitioned=True)
            t.partitions = [(s, f"{t.name}_p1"), (s, f"{t.name}_p2")]
            tables.append(t)
        self.schemas, self.tables = schemas, tables

    def descendants(self, t):
        out = []
        for c in t.children:
            out.append(c)
            out.extend(self.descendants(c))
        return out

    def standalone(self, free):
        """Tables nothing references (a DELETE, DROP or plain TRUNCATE of them stays on them)."""
        return [t for t in free if not t.children and t not in self.busy]

    # ---- settings -----------------------------------------------------------------------
    def settings(self):
        rng = self.rng
        self.dest = rng.choice(list(DESTINATIONS))
        self.log_statement = rng.choice(["none", "ddl", "mod", "all"])
        zone = rng.choice(ZONES)
        s = {
            "listen_addresses": "",
            "fsync": "off",
            # On, so that a COMMIT is in the WAL before an immediate stop: with it off the
            # last ~200 ms of commits are lost in a staged crash, and the ground truth would
            # record a DELETE the recovered database never saw (a count(*) shows the rows).
            # fsync stays off: the OS keeps the written WAL across the server's crash.
            "synchronous_commit": "on",
            "full_page_writes": "off",
            "shared_buffers": "32MB",
            "max_connections": "30",
            "logging_collector": "on",
            "log_destination": self.dest,
            "log_directory": "log",
            "log_filename": "postgresql.log",
            "log_rotation_age": "0",
            "log_rotation_size": "0",
            "log_statement": self.log_statement,
            "log_line_prefix": rng.choice(PREFIXES),
            "log_connections": rng.choice(["on", "on", "off"]),
            "log_disconnections": rng.choice(["on", "off"]),
            "log_checkpoints": "on",
            "log_timezone": zone,
            "timezone": rng.choice([zone, "UTC"]),
            "track_commit_timestamp": rng.choice(["on", "on", "off"]),
            "wal_level": "replica",
        }
        self.setting_values = s
        return s

    # ---- events -------------------------------------------------------------------------
    def plan_events(self):
        rng = self.rng
        pool = drawn_kinds()
        first = rng.choice(pool)
        kinds = [first]
        others = [k for k in pool if k not in ("restore", "restore_clean", first)]
        if first not in ("restore", "restore_clean") and others and rng.random() < 0.4:
            second = rng.choice(others)
            if {first, second} & {"crash", "stats_reset"} and {first, second} <= {"crash", "stats_reset"}:
                second = "truncate"
            kinds.append(second)
        self.busy = set()
        plans = []
        for k in kinds:
            p = self.plan(k)
            if p is not None:
                plans.append(p)
        if not plans:
            plans.append(self.plan("stats_reset"))
        self.plans = plans

    def mark(self, t, kind, accept, event):
        for leaf in t.leaves():
            self.truth[leaf] = {"kind": kind, "accept": sorted(accept), "event": event}
        self.busy.add(t)

    def plan(self, kind):
        rng = self.rng
        free = [t for t in self.tables if t not in self.busy]
        label = f"{kind}#{len(self.events)}"
        if kind == "truncate":
            cands = [t for t in self.standalone(free) if t.parent is None or True]
            cands = [t for t in cands if all(c not in self.busy for c in self.descendants(t))]
            if not cands:
                return None
            picked = rng.sample(cands, min(len(cands), rng.choice([1, 1, 2])))
            for t in picked:
                self.mark(t, "truncate", {"truncate"}, label)
            return {"kind": kind, "label": label, "sql": f"TRUNCATE {', '.join(self.ref(t) for t in picked)};"}
        if kind == "cascade":
            roots = [t for t in free if t.children and not (set(self.descendants(t)) & self.busy)]
            if not roots:
                return None
            root = rng.choice(roots)
            desc = self.descendants(root)
            deletable = self.delete_reach(root)
            if deletable is not None and rng.random() < 0.5:
                self.mark(root, "delete", {"delete", "cascade"}, label)
                for t in desc:
                    if t in deletable:
                        self.mark(t, "cascade", {"cascade"}, label)
                    else:
                        self.busy.add(t)  # SET NULL: rows kept, updated
                return {"kind": kind, "label": label, "sql": f"DELETE FROM {self.ref(root)};"}
            for t in [root] + desc:
                self.mark(t, "cascade", {"cascade", "truncate"}, label)
            return {"kind": kind, "label": label, "sql": f"TRUNCATE {self.ref(root)} CASCADE;"}
        if kind == "delete":
            cands = self.standalone(free)
            cands = [t for t in cands if not t.partitioned or True]
            if not cands:
                return None
            t = rng.choice(cands)
            self.mark(t, "delete", {"delete"}, label)
            where = rng.choice(["", f" WHERE id > {rng.randint(1, 5)}", " WHERE payload IS NOT NULL",
                                " WHERE id % 2 = 0"])
            return {"kind": kind, "label": label, "sql": f"DELETE FROM {self.ref(t)}{where};"}
        if kind == "drop_recreate":
            cands = [t for t in self.standalone(free) if not t.partitioned]
            if not cands:
                return None
            t = rng.choice(cands)
            self.mark(t, "drop_recreate", {"drop_recreate"}, label)
            sql = f"DROP TABLE {self.ref(t)};\n{t.ddl()}\n"
            if rng.random() < 0.5:
                sql += t.insert(1, 3) + "\n"
            return {"kind": kind, "label": label, "sql": sql}
        if kind == "drop":
            # DROP TABLE, never created again: only the baseline or a logged DROP can tell (the
            # judge leaves it out when neither is there). Not a partitioned table: a logged DROP
            # names the parent alone, and its partitions' names are nowhere else.
            cands = [t for t in self.standalone(free) if not t.partitioned]
            if not cands:
                return None
            t = rng.choice(cands)
            self.mark(t, "drop", {"drop_recreate"}, label)
            return {"kind": kind, "label": label, "sql": f"DROP TABLE {self.ref(t)};"}
        if kind == "batched_delete":
            # A purge job deleting in batches, one statement (and transaction) per batch, until
            # the table is empty: many small DELETEs that add up to the loss.
            cands = self.standalone(free)
            if not cands:
                return None
            t = rng.choice(cands)
            self.mark(t, "batched_delete", {"delete"}, label)
            batch = rng.choice([50, 100, 250, 400])
            n = max(1, (t.rows if t.rows else 1500) // batch + 2)
            stmt = f"DELETE FROM {t.q} WHERE id IN (SELECT id FROM {t.q} ORDER BY id LIMIT {batch});"
            return {"kind": kind, "label": label, "sql": "\n".join([stmt] * n)}
        if kind == "function_delete":
            # The DELETE runs inside a function: log_statement = mod/ddl logs the CREATE
            # FUNCTION (whose body holds the DELETE's text) but not the SELECT that ran it.
            cands = self.standalone(free)
            if not cands:
                return None
            t = rng.choice(cands)
            self.mark(t, "function_delete", {"delete"}, label)
            fn = f"purge_{t.name.lower().replace(' ', '_')[:20]}_{len(self.events)}"
            fn = re.sub(r"[^a-z0-9_]", "_", fn)
            lang = rng.choice(["sql", "plpgsql"])
            body = (f"DELETE FROM {t.q};" if lang == "sql"
                    else f"BEGIN DELETE FROM {t.q}; END;")
            sql = (f"CREATE FUNCTION public.{fn}() RETURNS void LANGUAGE {lang} AS $fn$ {body} $fn$;\n"
                   f"SELECT public.{fn}();\n")
            return {"kind": kind, "label": label, "sql": sql}
        if kind == "cte_delete":
            # A DELETE in a data-modifying WITH (logged under log_statement = mod, as a SELECT
            # would not be), its rows archived to nowhere or counted.
            cands = self.standalone(free)
            if not cands:
                return None
            t = rng.choice(cands)
            self.mark(t, "cte_delete", {"delete"}, label)
            where = rng.choice(["", " WHERE id > 3", " WHERE payload IS NOT NULL"])
            tail = rng.choice(["SELECT count(*) FROM gone;", "SELECT id FROM gone ORDER BY id LIMIT 1;"])
            return {"kind": kind, "label": label,
                    "sql": f"WITH gone AS (DELETE FROM {self.ref(t)}{where} RETURNING id) {tail}"}
        if kind == "search_path_delete":
            # A session that set its search_path, then named the table bare: the log's
            # `DELETE FROM name` may match a table of the same name in public that lost nothing.
            cands = [t for t in self.standalone(free) if t.schema != "public"]
            if not cands:
                return None
            t = rng.choice(cands)
            self.mark(t, "search_path_delete", {"delete"}, label)
            if rng.random() < 0.5 and not any(o.schema == "public" and o.name == t.name for o in self.tables):
                # Its twin in public, which the DELETE did not touch.
                self.tables.append(Table("public", t.name, pk=True))
            path = ident(t.schema) + rng.choice(["", ", public"])
            return {"kind": kind, "label": label,
                    "sql": f"SET search_path TO {path};\nDELETE FROM {ident(t.name)};"}
        if kind == "join_delete":
            # A DELETE whose WHERE reads another table (USING, or a subquery): only the table
            # after DELETE FROM loses rows; the one it reads is untouched.
            cands = [t for t in self.standalone(free) if t.parent is not None
                     and t.parent not in self.busy and not t.partitioned]
            if not cands:
                return None
            t = rng.choice(cands)
            self.mark(t, "join_delete", {"delete"}, label)
            self.busy.add(t.parent)  # read, not written: judged as untouched
            p_ = t.parent
            sql = rng.choice([
                f"DELETE FROM {self.ref(t)} c USING {self.ref(p_)} p WHERE c.parent_id = p.id AND p.id % 2 = 0;",
                f"DELETE FROM {self.ref(t)} WHERE parent_id IN (SELECT id FROM {self.ref(p_)} WHERE id % 3 <> 0);",
            ])
            return {"kind": kind, "label": label, "sql": sql}
        if kind == "other_database":
            cands = [t for t in self.standalone(free) if t.parent is None and not t.partitioned]
            if not cands:
                return None
            t = rng.choice(cands)
            self.mark(t, "other_database", set(), label)
            statement = rng.choice([f"DELETE FROM {self.ref(t)};", f"TRUNCATE {self.ref(t)};"])
            return {"kind": kind, "label": label, "table": t, "sql": statement}
        if kind == "partial_cascade":
            # DELETE … WHERE on a parent whose children are ON DELETE CASCADE all the way down:
            # about half of every table in the chain goes, the children's rows by the cascade.
            roots = [t for t in free if t.children and not (set(self.descendants(t)) & self.busy)]
            roots = [t for t in roots if (r := self.delete_reach(t)) is not None
                     and set(r) == set(self.descendants(t))]
            if not roots:
                return None
            root = rng.choice(roots)
            self.mark(root, "partial_cascade", {"delete", "cascade"}, label)
            for t in self.descendants(root):
                self.mark(t, "partial_cascade", {"cascade", "delete"}, label)
            return {"kind": kind, "label": label,
                    "sql": f"DELETE FROM {self.ref(root)} WHERE id % 2 = 0;"}
        if kind == "function_truncate":
            # TRUNCATE inside a PL/pgSQL function run by SELECT: the log (ddl/mod) shows the
            # CREATE FUNCTION, `all` the SELECT too, never the TRUNCATE as a statement.
            cands = self.standalone(free)
            if not cands:
                return None
            t = rng.choice(cands)
            self.mark(t, "function_truncate", {"truncate"}, label)
            fn = re.sub(r"[^a-z0-9_]", "_", f"reset_{t.name.lower()[:20]}_{len(self.events)}")
            sql = (f"CREATE FUNCTION public.{fn}() RETURNS void LANGUAGE plpgsql AS "
                   f"$fn$ BEGIN TRUNCATE {t.q}; END; $fn$;\nSELECT public.{fn}();\n")
            return {"kind": kind, "label": label, "sql": sql}
        if kind == "multi_statement":
            # `psql -c "TRUNCATE a; DELETE FROM b"`: one simple-protocol query, so the log has
            # one `statement:` line holding both.
            cands = self.standalone(free)
            if not cands:
                return None
            picked = rng.sample(cands, min(len(cands), 2))
            parts = []
            if len(picked) == 2:
                a, b = picked
                self.mark(a, "multi_statement", {"truncate"}, label)
                parts.append(f"TRUNCATE {self.ref(a)}")
            else:
                b = picked[0]
            self.mark(b, "multi_statement", {"delete"}, label)
            parts.append(f"DELETE FROM {self.ref(b)}")
            if rng.random() < 0.5:
                parts.reverse()
            return {"kind": kind, "label": label, "sql": "; ".join(parts), "one_query": True}
        if kind == "partition_drop":
            # A partition dropped (detached first, or not): its rows leave the partitioned table.
            cands = [t for t in free if t.partitioned and t not in self.busy]
            if not cands:
                return None
            t = rng.choice(cands)
            s2, n2 = t.partitions[1]
            self.truth[f"{s2}.{n2}"] = {"kind": "partition_drop", "accept": ["drop_recreate"],
                                        "event": label}
            self.busy.add(t)
            sql = f"DROP TABLE {qname(s2, n2)};"
            if rng.random() < 0.5:
                sql = f"ALTER TABLE {t.q} DETACH PARTITION {qname(s2, n2)};\n" + sql
            return {"kind": kind, "label": label, "sql": sql}
        if kind == "extended_delete":
            # An application's DELETE over the extended protocol (pgbench -M extended/prepared):
            # logged as `execute <unnamed>:` / `execute P0_0:` with `$1` and a DETAIL line
            # giving the parameters.
            cands = self.standalone(free)
            if not cands:
                return None
            t = rng.choice(cands)
            self.mark(t, "extended_delete", {"delete"}, label)
            where = rng.choice(["WHERE id > :low", "WHERE id >= :low AND payload IS NOT NULL"])
            script = f"\\set low {rng.randint(1, 4)}\nDELETE FROM {self.ref(t)} {where};\n"
            return {"kind": kind, "label": label, "script": script,
                    "mode": rng.choice(["extended", "prepared"])}
        if kind == "rollback":
            cands = [t for t in free if not t.children]
            if not cands:
                return None
            t = rng.choice(cands)
            if t.partitioned:
                # Ids from 100000 all land in the second partition; the first gets nothing.
                s, n2 = t.partitions[1]
                self.truth[f"{s}.{n2}"] = {"kind": "rollback", "accept": ["rollback"], "event": label}
                self.busy.add(t)
            else:
                self.mark(t, "rollback", {"rollback"}, label)
            n = rng.randint(500, 3000)
            ins = t.insert(100000, 100000 + n)
            end = rng.choice(["ROLLBACK;", "SELECT 1/0;\nCOMMIT;"])
            return {"kind": kind, "label": label, "sql": f"BEGIN;\n{ins}\n{end}\n", "allow_errors": True}
        if kind in ("restore", "restore_clean"):
            # restore_clean: `pg_restore --clean --if-exists` into the same database (its oid
            # kept; every table dropped and created again by the restore).
            for t in self.tables:
                if not t.never_written:
                    self.mark(t, kind, {"restore"}, label)
            return {"kind": kind, "label": label}
        if kind == "unlogged_crash":
            # An UNLOGGED table (a cache, a queue, a table someone made unlogged for a bulk load)
            # with rows, then a crash: recovery resets it to empty; every other table only has
            # its counters zeroed.
            if any(t.unlogged for t in self.tables):
                return None
            t = Table(rng.choice(self.schemas), f"cache_{self.index}", pk=rng.random() < 0.7)
            t.unlogged = True
            self.tables.append(t)
            self.mark(t, "unlogged_crash", {"unlogged_crash"}, label)
            for other in self.tables:
                for leaf in other.leaves():
                    self.truth.setdefault(leaf, {"kind": "crash", "accept": [], "event": label})
            return {"kind": kind, "label": label}
        if kind in ("crash", "stats_reset"):
            for t in self.tables:
                for leaf in t.leaves():
                    self.truth.setdefault(leaf, {"kind": kind, "accept": [], "event": label})
            return {"kind": kind, "label": label}
        if kind == "never_populated":
            return {"kind": kind, "label": label}  # staged at schema time (see stage)
        if kind in ROLLED_BACK_KINDS:
            # Tables nothing references: a TRUNCATE of a referenced table fails without
            # CASCADE, and a DELETE would reach its children.
            cands = self.standalone(free)
            if not cands:
                return None
            t = rng.choice(cands)
            # Nothing was removed: judged as a false alarm (no loss first, never `wiped`).
            self.mark(t, kind, set(), label)
            statement = (f"DELETE FROM {self.ref(t)};" if kind == "rolled_back_delete"
                         else f"TRUNCATE {self.ref(t)};")
            end = rng.choice(["ROLLBACK;", "SELECT 1/0;\nCOMMIT;"])
            return {"kind": kind, "label": label, "sql": f"BEGIN;\n{statement}\n{end}\n",
                    "allow_errors": True}
        raise ValueError(kind)

    def delete_reach(self, root):
        """Tables a DELETE FROM root empties through ON DELETE CASCADE, or None when a
        NO ACTION/RESTRICT child would make it fail."""
        reached = set()

        def walk(t):
            for c in t.children:
                if c.action == "CASCADE":
                    reached.add(c)
                    if walk(c) is None:
                        return None
                elif c.action == "SET NULL":
                    continue
                else:
                    return None
            return True

        return reached if walk(root) else None

    def ref(self, t):
        """How a person would name the table in a statement: bare in public, now and then."""
        if t.schema == "public" and self.rng.random() < 0.6:
            return ident(t.name)
        return t.q

    # ---- staging ------------------------------------------------------------------------
    def stage(self, template, workdir):
        rng = self.rng
        self.make_schema()
        settings = self.settings()
        # A never-populated table is decided before the workload so nothing writes to it.
        self.plan_events()
        for p in self.plans:
            if p["kind"] == "never_populated":
                cands = [t for t in self.tables if not t.children and t.parent is None
                         and t not in self.busy]
                if not cands:
                    t = Table("public", "never_filled_" + str(self.index), pk=True)
                    self.tables.append(t)
                else:
                    t = rng.choice(cands)
                t.never_written = True
                self.mark(t, "never_populated", {"never_populated"}, p["label"])
        self.baseline = rng.random() < 0.6
        self.vacuum = rng.random() < 0.7
        db = rng.choice(["shop", "App", "crm"])  # a mixed-case database name now and then
        self.db = db
        c = Cluster(template, settings)
        self.cluster = c
        try:
            c.start()
            c.psql("postgres", f"CREATE DATABASE {ident(db)};")
            ddl = [f"CREATE SCHEMA {ident(s)};" for s in self.schemas if s != "public"]
            ddl += [t.ddl() for t in self.tables]
            c.psql(db, "\n".join(ddl), app="migrate")
            # Workload: rows in every table (parents first), some updates and routine deletes.
            work = []
            for t in self.tables:
                if t.never_written:
                    continue
                t.rows = rng.randint(30, 1500)
                work.append(t.insert(1, t.rows))
            for t in self.tables:
                if t.never_written or t.rows == 0:
                    continue
                if rng.random() < 0.5:
                    work.append(f"UPDATE {t.q} SET payload = payload || '!' WHERE id <= {rng.randint(1, 20)};")
                if not t.children and rng.random() < 0.4:
                    work.append(f"DELETE FROM {t.q} WHERE id = {rng.randint(1, t.rows)};")
            c.psql(db, "\n".join(work), app="web")
            if self.vacuum:
                c.psql(db, "VACUUM ANALYZE;", app="maintenance")
            restore = next((p for p in self.plans if p["kind"] in ("restore", "restore_clean")), None)
            if restore is not None:
                dump = f"{workdir}/db.dump"
                c.tool("pg_dump", db, "-Fc", "-f", dump)
                more = [t.insert(t.rows + 1, t.rows + rng.randint(5, 100)) for t in self.tables
                        if not t.never_written and not t.children]
                c.psql(db, "\n".join(more), app="web")
            if self.baseline:
                self.collect(f"{workdir}/baseline.json", with_log=False)
            for p in self.plans:
                self.run_event(p, workdir)
            if rng.random() < 0.5:  # the application keeps writing, into emptied tables too
                lost = {k for k, v in self.truth.items() if v["kind"] in ("truncate", "delete", "drop_recreate")}
                after = [t.insert(50000, 50000 + rng.randint(1, 20)) for t in self.tables
                         if (t not in self.busy or (set(t.leaves()) & lost and rng.random() < 0.5))
                         and not t.never_written and not t.children and t.parent is None]
                if after:
                    c.psql(db, "\n".join(after), app="web", allow_errors=True)
            time.sleep(0.5)  # let the collector write the last lines
            self.collect(f"{workdir}/evidence.json", with_log=True,
                         baseline=f"{workdir}/baseline.json" if self.baseline else None)
            shutil.copy(c.log_path(self.dest), f"{workdir}/{DESTINATIONS[self.dest]}")
        finally:
            c.destroy()

    def run_event(self, p, workdir):
        c, db = self.cluster, self.db
        start = utc_now()
        kind = p["kind"]
        if kind in ("truncate", "cascade", "delete", "drop_recreate", "rollback", "drop",
                    "batched_delete", "function_delete", "cte_delete", "search_path_delete",
                    "multi_statement", "partition_drop", "partial_cascade", "function_truncate",
                    "join_delete") \
                or kind in ROLLED_BACK_KINDS:
            app = self.rng.choice(["psql", "janitor", "admin-console", "cron"])
            if p.get("one_query"):
                c.psql_command(db, p["sql"], app=app)
            else:
                c.psql(db, p["sql"], app=app, allow_errors=p.get("allow_errors", False))
        elif kind == "other_database":
            t = p["table"]
            other = f"{db.lower()}_staging"
            c.psql("postgres", f"CREATE DATABASE {ident(other)};")
            setup = [f"CREATE SCHEMA {ident(t.schema)};"] if t.schema != "public" else []
            setup += [t.ddl(), t.insert(1, self.rng.randint(30, 500))]
            c.psql(other, "\n".join(setup), app="staging-seed")
            c.psql(other, p["sql"], app=self.rng.choice(["psql", "reset-staging"]))
        elif kind == "extended_delete":
            path = f"{workdir}/delete.pgbench"
            with open(path, "w") as f:
                f.write(p["script"])
            os.chmod(path, 0o644)
            c.tool("pgbench", None, "-n", "-M", p["mode"], "-t", "1", "-f", path, db)
            time.sleep(0.15)
        elif kind == "restore_clean":
            # pg_restore --clean exits 1 on a partitioned table (it drops each partition's
            # inherited constraints first, which fails) and restores everything all the same,
            # as an operator running it sees.
            run([f"{BIN}/pg_restore", "-U", "postgres", "-d", db, "--clean", "--if-exists",
                 f"{workdir}/db.dump"], check=False, env=c.env("pg_restore"))
            c.psql(db, "SELECT 1;")
        elif kind == "restore":
            c.tool("dropdb", None, db)
            c.tool("createdb", None, db)
            c.tool("pg_restore", db, f"{workdir}/db.dump")
            c.psql(db, "SELECT 1;")
        elif kind in ("crash", "unlogged_crash"):
            c.stop("immediate")
            c.start()
            c.psql(db, "SELECT 1;")
        elif kind == "stats_reset":
            c.psql(db, "SELECT pg_stat_reset();", app="dba-console")
        self.events.append({"label": p["label"], "kind": kind, "sql": p.get("sql"),
                            "from": start, "to": utc_now()})

    def collect(self, out, with_log, baseline=None):
        args = [PGTRIAGE, "collect", "--db", self.cluster.url(self.db)]
        if with_log:
            args += ["--log", self.cluster.log_path(self.dest)]
        if baseline:
            args += ["--baseline", baseline]
        args += ["-o", out]
        run(args)

    def truth_doc(self):
        for t in self.tables:
            for leaf in t.leaves():
                self.truth.setdefault(leaf, {"kind": "untouched", "accept": [], "event": None})
        return {
            "index": self.index,
            "settings": {k: self.setting_values[k] for k in
                         ("log_statement", "log_destination", "log_line_prefix", "log_timezone",
                          "track_commit_timestamp", "log_connections")},
            "baseline": self.baseline,
            "vacuum": self.vacuum,
            "events": self.events,
            "tables": self.truth,
        }


def judge(truth, report):
    """Per table: (kind, correct, what the report said)."""
    hyps = sorted(report.get("hypotheses", []), key=lambda h: h.get("rank", 1 << 30))
    rows = {f"{r.get('schema')}.{r.get('name')}": r for r in report.get("tables", [])}
    order = [e["label"] for e in truth["events"]]
    # Events after which every counter restarted (crash recovery, pg_stat_reset()).
    resets = [i for i, e in enumerate(truth["events"]) if e["kind"] in ("crash", "stats_reset", "unlogged_crash")]
    out = []
    for table, t in sorted(truth["tables"].items()):
        top = next((h for h in hyps if table in h.get("tables", [])), None)
        top_kind = top["kind"] if top else None
        top_loss = bool(top and top.get("loss", top_kind in LOSS_KINDS))
        status = rows.get(table, {}).get("status")
        kind = t["kind"]
        if kind in ("drop", "partition_drop") and not truth["baseline"] \
                and truth["settings"]["log_statement"] == "none":
            continue  # nothing left to see: no baseline row, no logged DROP
        if kind in LOSS_KINDS:
            ok = top_kind in t["accept"]
        elif kind == "rollback":
            # A crash or pg_stat_reset() after the failed insert zeroed the counters that showed
            # it: "statistics reset, nothing lost" is then as true of the table as the rollback.
            reset_after = t["event"] in order and any(r > order.index(t["event"]) for r in resets)
            accept = ("rollback", "stats_reset") if reset_after else ("rollback",)
            ok = top_kind in accept and status != "wiped"
        elif kind == "never_populated":
            ok = top_kind == "never_populated" or (not top_loss and status == "never_populated")
        else:  # crash, stats_reset, untouched
            ok = not top_loss and status != "wiped"
        out.append((table, kind, ok, f"top={top_kind} status={status}"))
    return out


def read_as_committed(truth, report):
    """Tables whose DELETE or TRUNCATE rolled back that the report still says committed: a
    timeline entry of the statement with outcome `committed`, or a ruled-out reason saying the
    statement committed. (The judge above only asks that no loss explain them.)"""
    out = []
    for table, t in sorted(truth["tables"].items()):
        if t["kind"] not in ROLLED_BACK_KINDS:
            continue
        schema, name = table.split(".", 1)
        names = {name.lower(), table.lower()}

        def names_it(logged):
            return logged.replace('"', "").lower() in names

        timeline = any(e.get("kind") in ("delete_all", "truncate") and e.get("outcome") == "committed"
                       and any(names_it(n) for n in e.get("tables", []))
                       for e in report.get("timeline", []))
        reasons = any(table in r.get("tables", []) and "committed on it" in r.get("reason", "")
                      for r in report.get("ruled_out", []))
        out.append((table, timeline or reasons))
    return out


def main():
    # A test runner's SIGTERM (timeout) unwinds through the `finally`s: no cluster left behind.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if len(sys.argv) < 2 or not sys.argv[1].isdigit():
        sys.exit("usage: random-incidents.sh N [SEED]")
    n = int(sys.argv[1])
    seed = sys.argv[2] if len(sys.argv) > 2 else "1"
    only = os.environ.get("RANDOM_INCIDENTS_ONLY")
    keep = os.environ.get("RANDOM_INCIDENTS_KEEP", os.path.join(ROOT, "target/random-incidents", seed))
    keep_all = os.environ.get("RANDOM_INCIDENTS_KEEP_ALL") == "1"
    if not os.access(PGTRIAGE, os.X_OK):
        sys.exit(f"{PGTRIAGE}: not built (cargo build --bin pgtriage)")
    run_dir = tempfile.mkdtemp(prefix="pgtriage-random-run-")
    os.chmod(run_dir, 0o755)
    template = f"{run_dir}/template"
    if IS_ROOT:
        run(["chown", "postgres:postgres", run_dir])
    run(as_pg([f"{BIN}/initdb", "-D", template, "-U", "postgres", "--auth-local=trust",
               "--encoding=UTF8", "--locale=C", "--no-sync"]))
    per_kind = defaultdict(lambda: [0, 0])
    false_loss = 0
    any_loss = 0
    false_alarm_incidents = 0
    rolled_back_tables = rolled_back_said_committed = 0
    total = right = 0
    failures = 0
    started = time.time()
    # Incidents FROM..N-1 only: a larger N in parts, each incident still drawn from SEED/i alone.
    first = int(os.environ.get("RANDOM_INCIDENTS_FROM", "0"))
    indexes = [int(only)] if only else range(first, n)
    try:
        for i in indexes:
            inc = Incident(seed, i)
            work = tempfile.mkdtemp(prefix=f"incident-{i:03d}-", dir=run_dir)
            os.chmod(work, 0o777)
            try:
                inc.stage(template, work)
                truth = inc.truth_doc()
                rep = run([PGTRIAGE, "report", f"{work}/evidence.json", "--format", "json"])
                report = json.loads(rep.stdout)
            except Exception as e:  # a staging or tool failure is a miss of every table, said so
                failures += 1
                print(f"incident {i:03d}: FAILED: {e}", file=sys.stderr)
                truth = inc.truth_doc()
                report = {}
            verdicts = judge(truth, report)
            committed_reads = read_as_committed(truth, report)
            rolled_back_tables += len(committed_reads)
            rolled_back_said_committed += sum(1 for _, c in committed_reads if c)
            kinds = sorted({e["kind"] for e in inc.events})
            only_false = bool(kinds) and all(k in FALSE_ALARMS for k in kinds)
            lossy = []
            if only_false:
                false_alarm_incidents += 1
                hyps = sorted(report.get("hypotheses", []), key=lambda h: h.get("rank", 1 << 30))
                for table in truth["tables"]:
                    first = next((h for h in hyps if table in h.get("tables", [])), None)
                    if first is not None and first.get("loss"):
                        false_loss += 1
                        break
                # Stricter: any finding the report counts as a loss, on whichever table (a
                # partitioned parent, a table whose first explanation is something else).
                lossy = [h for h in hyps if h.get("loss")]
                if lossy:
                    any_loss += 1
            misses = []
            for table, kind, ok, said in verdicts:
                per_kind[kind][1] += 1
                total += 1
                if ok:
                    per_kind[kind][0] += 1
                    right += 1
                else:
                    misses.append(f"{table} [{kind}] {said}")
            s = truth["settings"]
            line = (f"incident {i:03d}: {'+'.join(kinds) or '-'} log_statement={s['log_statement']} "
                    f"{s['log_destination']} tz={s['log_timezone']} baseline={'yes' if truth['baseline'] else 'no'}: "
                    f"{len(verdicts) - len(misses)}/{len(verdicts)}")
            print(line, flush=True)
            for m in misses:
                print(f"    miss {m}", flush=True)
            for table, c in committed_reads:
                if c:
                    print(f"    rolled back, read as committed: {table}", flush=True)
            for h in lossy:
                print(f"    loss finding on a false alarm: #{h.get('rank')} {h.get('kind')} "
                      f"{', '.join(h.get('tables', [])[:4])} ({h.get('confidence')})", flush=True)
            if misses or keep_all or any(c for _, c in committed_reads):
                dest = os.path.join(keep, f"{i:03d}")
                shutil.rmtree(dest, ignore_errors=True)
                shutil.copytree(work, dest, ignore=shutil.ignore_patterns("*.dump"))
                with open(f"{dest}/truth.json", "w") as f:
                    json.dump(truth, f, indent=2)
                with open(f"{dest}/report.json", "w") as f:
                    json.dump(report, f, indent=2)
            shutil.rmtree(work, ignore_errors=True)
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)
    print(f"-- per kind (seed {seed}, {len(indexes)} incidents, {time.time() - started:.0f}s, "
          f"{failures} staging/tool failures)")
    for kind in EVENT_KINDS + ["untouched"]:
        ok, all_ = per_kind.get(kind, (0, 0))
        if all_:
            print(f"{kind:16} {ok:4}/{all_:<4} {100.0 * ok / all_:5.1f} %")
    print(f"false data loss on false-alarm-only incidents: {false_loss}/{false_alarm_incidents}")
    print(f"  (any loss finding at all, whatever its rank: {any_loss}/{false_alarm_incidents})")
    print(f"rolled-back DELETE/TRUNCATE read as committed: "
          f"{rolled_back_said_committed}/{rolled_back_tables} tables")
    summary = {"seed": seed, "incidents": len(indexes), "tables": total, "right": right,
               "per_kind": {k: {"right": v[0], "tables": v[1]} for k, v in per_kind.items()},
               "false_loss": false_loss, "any_loss_finding": any_loss,
               "false_alarm_incidents": false_alarm_incidents,
               "rolled_back_read_as_committed": {"tables": rolled_back_tables,
                                                 "read_as_committed": rolled_back_said_committed},
               "failures": failures}
    if os.environ.get("RANDOM_INCIDENTS_JSON"):
        with open(os.environ["RANDOM_INCIDENTS_JSON"], "w") as f:
            json.dump(summary, f, indent=2)
    print(f"random incidents: {right}/{total} tables explained correctly")


if __name__ == "__main__":
    main()
