#!/usr/bin/env bash
# Benchmark of `pgtriage report`: an evidence file of 10,000 tables (a mix of intact, truncated,
# deleted-from, aborted-insert and never-populated tables, with foreign keys) and 100,000
# timeline events, analysed and rendered as JSON and as Markdown by the release binary.
# Goal: under 1 s each. Prints the figures; asserts nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
TABLES="${TABLES:-10000}"
EVENTS="${EVENTS:-100000}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

cargo build --release --quiet
python3 - "$TABLES" "$EVENTS" "$work/evidence.json" <<'PY'
import json, sys, random
random.seed(7)
n_tables, n_events, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
def ts(sec):
    h, rem = divmod(sec, 3600); m, s = divmod(rem, 60)
    return f"2026-11-23T{h % 24:02d}:{m:02d}:{s:02d}Z"
tables, fks = [], []
for i in range(n_tables):
    oid = 20000 + i
    rows = random.randint(10, 100000)
    t = dict(schema="app", name=f"t{i:05d}", oid=oid, relfilenode=oid, relkind="r",
             n_tup_ins=rows, n_tup_upd=0, n_tup_del=0, n_tup_hot_upd=0, n_live_tup=rows,
             n_dead_tup=0, n_mod_since_analyze=0, n_ins_since_vacuum=0,
             last_vacuum=ts(3600), last_autovacuum=None, last_analyze=ts(3600), last_autoanalyze=None,
             vacuum_count=1, autovacuum_count=0, analyze_count=1, autoanalyze_count=0,
             reltuples=float(rows), relpages=max(1, rows // 100), size_bytes=max(1, rows // 100) * 8192,
             catalog_xmin_age=1000, catalog_commit_time=ts(1800))
    kind = i % 10
    if kind == 1:    # truncated (groups of 5 share a commit time)
        t.update(n_live_tup=0, relfilenode=oid + 50000, reltuples=-1.0, relpages=0, size_bytes=0,
                 catalog_commit_time=ts(7200 + i // 5))
    elif kind == 2:  # committed deletes
        k = rows // 3
        t.update(n_tup_del=k, n_live_tup=rows - k, n_dead_tup=k, n_mod_since_analyze=k)
    elif kind == 3:  # aborted inserts
        t.update(n_tup_ins=rows * 2, n_dead_tup=rows, n_ins_since_vacuum=rows)
    elif kind == 4:  # never populated
        t.update(n_tup_ins=0, n_live_tup=0, reltuples=-1.0, relpages=0, size_bytes=0,
                 last_vacuum=None, last_analyze=None, vacuum_count=0, analyze_count=0)
    tables.append(t)
    if i % 5 and kind in (1, 2):
        parent = tables[i - 1]
        fks.append(dict(name=f"fk{i}", schema="app", table=t["name"], columns=["p_id"],
                        ref_schema="app", ref_table=parent["name"], ref_columns=["id"],
                        on_delete="cascade" if kind == 2 else "no_action", on_update="no_action"))
kinds = ["truncate", "delete", "delete_all", "ddl", "error", "autovacuum", "autoanalyze",
         "bulk_load", "rollback", "drop_table"]
events = []
for j in range(n_events):
    k = kinds[j % len(kinds)]
    name = f"t{random.randrange(n_tables):05d}"
    events.append(dict(at=ts(7000 + j // 20), kind=k, source=f"log:postgresql.log:{j + 1}",
                       session=dict(pid=1000 + j % 50, user="app", database="shop", application="api"),
                       severity="LOG", text=f"{k.upper()} {name}", tables=[name], cascade=False,
                       outcome="committed" if j % 7 else "rolled_back"))
ev = {"format": "pgtriage-evidence/1", "tool_version": "bench", "collected_at": ts(80000),
      "inputs": [{"kind": "database", "name": "app@db:5432/shop"}],
      "database": {"server": {"version_num": 150018, "version": "PostgreSQL 15.18", "host": "db",
                              "port": 5432, "database": "shop", "user": "app", "datid": 16390,
                              "system_identifier": "1", "timeline_id": 1,
                              "postmaster_start_time": ts(0), "in_recovery": False,
                              "server_time": ts(80000)},
                   "settings": {"log_statement": "all", "archive_mode": "on", "track_commit_timestamp": "on"},
                   "tables": tables, "foreign_keys": fks},
      "timeline": {"sources": [], "events": events}}
with open(out, "w") as f:
    json.dump(ev, f)
PY
size=$(du -h "$work/evidence.json" | cut -f1)
echo "evidence: $TABLES tables, $EVENTS timeline events, $size"
for format in json md; do
    best=""
    for run in 1 2 3; do
        start=$(date +%s.%N)
        ./target/release/pgtriage report "$work/evidence.json" --format "$format" -o "$work/report.$format"
        end=$(date +%s.%N)
        t=$(echo "$end - $start" | bc)
        if [ -z "$best" ] || [ "$(echo "$t < $best" | bc)" = 1 ]; then best=$t; fi
    done
    printf 'report --format %-4s best of 3: %.3f s (%s)\n' "$format" "$best" "$(du -h "$work/report.$format" | cut -f1)"
done
