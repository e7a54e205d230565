#!/usr/bin/env bash
# Writes tests/data/odd-logs/: the same small incident logged by real PostgreSQL servers with
# odd log_line_prefix layouts (%l after the pid, %c, %x, %v, %e, padding, epoch time), so the
# inference is tested on what servers really write. Each file is one throwaway server's stderr
# log. Expected events (checked by tests/logs_odd_corpus.rs): a rolled-back
# `DELETE FROM payments`, a committed `DELETE FROM payments WHERE id = 1`, `TRUNCATE orders`.
# Also cloud/ (the same incident in RDS, CloudWatch, Cloud SQL, CloudNativePG and Azure
# renderings of a real server's logs), rotation/ and rotation-copytruncate/ (see below).
# Usage: scripts/make-odd-logs.sh [NAME…]   (names: the log names below, rds, cloudsql,
# cloudnativepg, azure, rotation; none = all)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/pg-throwaway.sh
out=tests/data/odd-logs
mkdir -p "$out"

# The incident every log holds.
incident() {
  pg_psql postgres -c "CREATE TABLE payments (id int); CREATE TABLE orders (id int); INSERT INTO payments VALUES (1), (2); INSERT INTO orders VALUES (1)" >/dev/null
  printf 'BEGIN;\nDELETE FROM payments;\nSELECT 1;\nROLLBACK;\n' | pg_psql postgres >/dev/null
  printf 'BEGIN;\nDELETE FROM payments WHERE id = 1;\nCOMMIT;\n' | pg_psql postgres >/dev/null
  pg_psql postgres -c "TRUNCATE orders" >/dev/null
}

# With names as arguments, only those logs are (re)written.
wanted() {
  [ "${#ONLY[@]}" -eq 0 ] && return 0
  local n
  for n in "${ONLY[@]}"; do [ "$n" = "$1" ] && return 0; done
  return 1
}
ONLY=("$@")

write_one() {
  local name=$1 prefix=$2
  wanted "$name" || return 0
  (
    pg_throwaway_start "log_destination = 'stderr'" "log_line_prefix = '$prefix'" "archive_mode = off"
    incident
    pg_as_server_user "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast -w stop >/dev/null
    cp "$PG_DIR/data/log/postgresql.log" "$out/$name.log"
  )
}

write_one line-number-as-pid '%t [%p]: [%l-1] user=%u,db=%d '
write_one session-xid-vxid-sqlstate '%m %c %x %v %e [%p] %q%u@%d '
write_one padded '%m [%-8p] %-10u %-10d '
write_one epoch '%n [%p] %q%u@%d '
# The transaction id in brackets before the pid: `%m [%p] [%l] …` (the xid read as the pid) and
# `%m [%l] [%p] …` fit every line alike and neither number counts lines; only the session
# markers (BEGIN and COMMIT in one session, connection authorized … disconnection) tell them apart.
write_one xid-before-pid '%m [%x] [%p] %q%u@%d '
# Cloud renderings: the same incident logged by a real server with the provider's own prefix,
# then put in the provider's export envelope from that server's stderr and csvlog, field for field:
#   rds.log             AWS RDS/Aurora's prefix %t:%r:%u@%d:[%p]: (what the RDS console downloads)
#   rds-cloudwatch.log  the same lines as CloudWatch Logs exports them: the event's RFC 3339
#                       timestamp and a space before each entry's first line
#   cloudsql.json       Cloud Logging JSON lines: textPayload = the stderr line with Cloud SQL's
#                       prefix %m [%p]: [%l-1] db=%d,user=%u, plus timestamp/severity/logName
#   cloudnativepg.json  CloudNativePG pod logs: the instance manager's own lines, and each csvlog
#                       record as {"logger":"postgres","msg":"record","record":{csv columns}}
#   azure.json          Azure Database for PostgreSQL diagnostic logs (category PostgreSQLLogs):
#                       {"time","resourceId","category","operationName":"LogEvent",
#                        "properties":{"timestamp","processId","errorLevel","sqlerrcode",
#                        "message","detail",…}} from the csvlog
render_cloud() {
  local name=$1 prefix=$2
  wanted "$name" || return 0
  mkdir -p "$out/cloud"
  (
    pg_throwaway_start "log_destination = 'stderr,csvlog'" "log_line_prefix = '$prefix'" "archive_mode = off"
    incident
    pg_as_server_user "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast -w stop >/dev/null
    python3 - "$name" "$PG_DIR/data/log/postgresql.log" "$PG_DIR/data/log/postgresql.csv" "$out/cloud" <<'PY'
import csv, datetime, json, sys
name, stderr_path, csv_path, out = sys.argv[1:]
lines = open(stderr_path, encoding="utf-8").read().splitlines()
CSV = ["log_time", "user_name", "database_name", "process_id", "connection_from", "session_id",
       "session_line_num", "command_tag", "session_start_time", "virtual_transaction_id",
       "transaction_id", "error_severity", "sql_state_code", "message", "detail", "hint",
       "internal_query", "internal_query_pos", "context", "query", "query_pos", "location",
       "application_name", "backend_type", "leader_pid", "query_id"]
records = [dict(zip(CSV, row)) for row in csv.reader(open(csv_path, encoding="utf-8", newline=""))]

def rfc3339(pg_time):
    # "2026-12-02 06:17:41.570 UTC" (csvlog, %m) or "2026-12-02 06:17:41 UTC" (%t)
    t = pg_time.rsplit(" ", 1)[0]
    fmt = "%Y-%m-%d %H:%M:%S.%f" if "." in t else "%Y-%m-%d %H:%M:%S"
    d = datetime.datetime.strptime(t, fmt).replace(tzinfo=datetime.timezone.utc)
    return d.isoformat(timespec="milliseconds").replace("+00:00", "Z")

def write(fname, rows):
    with open(f"{out}/{fname}", "w", encoding="utf-8") as f:
        for r in rows:
            f.write(r if isinstance(r, str) else json.dumps(r, separators=(",", ":")))
            f.write("\n")

if name == "rds":
    write("rds.log", lines)
    # CloudWatch: the entry's own time in front of every line that starts an entry.
    write("rds-cloudwatch.log",
          [l if l.startswith("\t") else rfc3339(l[:19] + " UTC") + " " + l for l in lines])
elif name == "cloudsql":
    sev = {"LOG": "INFO", "STATEMENT": "INFO", "DETAIL": "INFO", "HINT": "INFO", "WARNING": "WARNING",
           "ERROR": "ERROR", "FATAL": "CRITICAL", "PANIC": "EMERGENCY"}
    rows, pending = [], None
    for l in lines:
        if l.startswith("\t") and pending:
            pending["textPayload"] += "\n" + l
            continue
        word = next((w for w in sev if f" {w}:  " in l), "LOG")
        pending = {"insertId": f"s{len(rows):06d}", "logName": "projects/shop-prod/logs/cloudsql.googleapis.com%2Fpostgres.log",
                   "receiveTimestamp": rfc3339(l[:23] + " UTC"),
                   "resource": {"labels": {"database_id": "shop-prod:main", "project_id": "shop-prod", "region": "europe-west1"},
                                "type": "cloudsql_database"},
                   "severity": sev[word], "textPayload": l, "timestamp": rfc3339(l[:23] + " UTC")}
        rows.append(pending)
    write("cloudsql.json", rows)
elif name == "cloudnativepg":
    rows = [{"level": "info", "ts": rfc3339(records[0]["log_time"]), "logger": "instance-manager",
             "msg": "Starting PostgreSQL", "logging_pod": "shop-1"}]
    for r in records:
        rows.append({"level": "info", "ts": rfc3339(r["log_time"]), "logger": "postgres", "msg": "record",
                     "logging_pod": "shop-1", "record": r})
    rows.append({"level": "info", "ts": rfc3339(records[-1]["log_time"]), "logger": "instance-manager",
                 "msg": "PostgreSQL process exited", "logging_pod": "shop-1"})
    write("cloudnativepg.json", rows)
elif name == "azure":
    rows = []
    rid = "/SUBSCRIPTIONS/0000/RESOURCEGROUPS/SHOP/PROVIDERS/MICROSOFT.DBFORPOSTGRESQL/FLEXIBLESERVERS/SHOP-PROD"
    for r in records:
        rows.append({"time": rfc3339(r["log_time"]), "resourceId": rid, "category": "PostgreSQLLogs",
                     "operationName": "LogEvent", "LogicalServerName": "shop-prod",
                     "properties": {"timestamp": r["log_time"], "processId": int(r["process_id"]),
                                    "errorLevel": r["error_severity"], "sqlerrcode": r["sql_state_code"],
                                    "backendType": r["backend_type"], "message": r["message"],
                                    "detail": r["detail"], "user": r["user_name"], "database": r["database_name"],
                                    "sessionId": r["session_id"], "statement": r["query"],
                                    "context": r["context"], "hint": r["hint"],
                                    "schemaName": "", "tableName": "", "columnName": "", "datatypeName": ""}})
    write("azure.json", rows)
PY
  )
}

render_cloud rds '%t:%r:%u@%d:[%p]:'
render_cloud cloudsql '%m [%p]: [%l-1] db=%d,user=%u '
render_cloud cloudnativepg '%m [%p] '
render_cloud azure '%t-%c-'

# Rotation artefacts, from one real server whose log is rotated (pg_rotate_logfile) in the middle
# of a transaction, laid out as a logrotate-managed directory holds them, in rotation/:
#   postgresql-1.log.gz  the first file, rotated and compressed: the transaction's BEGIN and DELETE
#   postgresql-2.log     the file the server rotated to: the COMMIT, a multi-line DELETE, TRUNCATE
#   postgresql-2.csv     its csvlog (log_destination = 'stderr,csvlog': a mixed directory)
#   postgresql-3.log     a new file still empty (rotated, nothing logged yet)
#   README               not a log
# and in rotation-copytruncate/ the second file as a copytruncate rotation leaves it when it cuts
# in the middle of the multi-line statement: postgresql.log.1 ends after its first continuation
# line, postgresql.log begins with the rest.
render_rotation() {
  wanted rotation || return 0
  local dir="$out/rotation" cut="$out/rotation-copytruncate"
  rm -rf "$dir" "$cut"; mkdir -p "$dir" "$cut"
  (
    pg_throwaway_start "log_destination = 'stderr,csvlog'" "log_filename = 'postgresql-%H%M%S.log'" "archive_mode = off"
    local log="$PG_DIR/data/log"
    pg_psql postgres -c "CREATE TABLE payments (id int); CREATE TABLE orders (id int); INSERT INTO payments VALUES (1), (2); INSERT INTO orders VALUES (1)" >/dev/null
    sleep 1.1
    # One session: BEGIN and DELETE, the log rotated by another session, then COMMIT.
    {
      printf 'BEGIN;\nDELETE FROM payments WHERE id = 1;\nSELECT 1;\n'
      sleep 1.5
      printf 'COMMIT;\n'
    } | pg_psql postgres >/dev/null &
    local session=$!
    sleep 0.5
    pg_psql postgres -c "SELECT pg_rotate_logfile()" >/dev/null
    wait "$session"
    printf 'DELETE FROM orders\n  WHERE id > 0\n    AND id < 100;\n' | pg_psql postgres >/dev/null
    pg_psql postgres -c "TRUNCATE orders" >/dev/null
    pg_as_server_user "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast -w stop >/dev/null
    local files
    mapfile -t files < <(ls "$log"/postgresql-*.log | sort)
    [ "${#files[@]}" -eq 2 ] || { echo "expected 2 rotated files, got ${files[*]}" >&2; exit 1; }
    gzip -n -c "${files[0]}" > "$dir/postgresql-1.log.gz"
    cat "${files[1]}" > "$dir/postgresql-2.log"
    cat "${files[1]%.log}.csv" > "$dir/postgresql-2.csv"
    : > "$dir/postgresql-3.log"
    printf 'Server logs of shop-prod, rotated daily by logrotate.\n' > "$dir/README"
    local n
    n=$(grep -n 'statement: DELETE FROM orders' "${files[1]}" | cut -d: -f1)
    head -n "$((n + 1))" "${files[1]}" > "$cut/postgresql.log.1"
    tail -n "+$((n + 2))" "${files[1]}" > "$cut/postgresql.log"
  )
}
render_rotation

echo "wrote $(find "$out" -type f | wc -l) logs to $out"
