# Shared helpers for the incident scenarios in scripts/incidents/NN-*.sh.
#
# Each scenario sources this file, starts a throwaway PostgreSQL cluster configured exactly like
# tests/support/mod.rs (forensic logging in three formats, archiving, commit timestamps), stages
# one incident on it, and writes the evidence into sample-logs/incidents/<NN-name>/. Every cluster
# this file starts is stopped and its directory removed on exit, however the script exits.
#
# Usage inside a scenario:
#   source "$(dirname "$0")/lib.sh"
#   incident_begin 01-truncate          # sets OUT, cleans it, builds the binary
#   pg_start main                       # a cluster; sets PGHOST/PGPORT for psql
#   as_app billing-cron billing shop <<'SQL' ... SQL   # one session, recorded as event
#   ...
#   save_logs main                      # copy the server logs into $OUT
#   collect evidence.json --baseline baseline.json --repo ...
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PG_BINDIR="${PGTRIAGE_PG_BINDIR:-$(pg_config --bindir 2>/dev/null || true)}"
if [[ ! -x "$PG_BINDIR/initdb" ]]; then
    PG_BINDIR="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"
fi
[[ -x "$PG_BINDIR/initdb" ]] || { echo "no PostgreSQL server binaries (set PGTRIAGE_PG_BINDIR)" >&2; exit 2; }
PGTRIAGE="${PGTRIAGE:-$ROOT/target/debug/pgtriage}"

# Name -> directory / port of every cluster started here.
declare -A CLUSTER_DIR CLUSTER_PORT
CLUSTERS_STARTED=()
OUT=""
EVENTS_FILE=""

is_root() { [[ "$(id -u)" == 0 ]]; }

# Runs a server binary as the server user (initdb/pg_ctl refuse root).
as_pg() {
    if is_root; then runuser -u postgres -- "$@"; else "$@"; fi
}

cleanup() {
    local name
    for name in "${CLUSTERS_STARTED[@]}"; do
        local dir="${CLUSTER_DIR[$name]}"
        as_pg "$PG_BINDIR/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
        rm -rf "$dir"
    done
    [[ -n "${OUT:-}" && -d "$OUT/repo" ]] && rm -rf "$OUT/repo"
    [[ -n "${WORK:-}" && -d "$WORK" ]] && rm -rf "$WORK"
    return 0
}
trap cleanup EXIT

free_port() {
    python3 - <<'PY' 2>/dev/null || echo $((20000 + RANDOM % 20000))
import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()
PY
}

# incident_begin NAME: the output directory, emptied, and the binary built.
incident_begin() {
    OUT="$ROOT/sample-logs/incidents/$1"
    rm -rf "$OUT"
    mkdir -p "$OUT"
    EVENTS_FILE="$OUT/.events"
    : >"$EVENTS_FILE"
    WORK="$(mktemp -d /tmp/pgtriage-incident-work-XXXXXX)"
    if [[ -z "${PGTRIAGE_NO_BUILD:-}" ]]; then
        (cd "$ROOT" && cargo build -q --bin pgtriage)
    fi
    echo "== incident $1"
}

# pg_conf_lines DIR: the forensic settings of tests/support/mod.rs.
pg_conf_lines() {
    local dir="$1"
    cat <<EOF

# pgtriage incident scenario (same settings as tests/support/mod.rs)
listen_addresses = '127.0.0.1'
unix_socket_directories = '$dir'
fsync = off
synchronous_commit = off
full_page_writes = off
shared_buffers = '32MB'
max_connections = 60
logging_collector = on
log_destination = 'stderr,csvlog,jsonlog'
log_directory = 'log'
log_filename = 'postgresql.log'
log_rotation_age = 0
log_rotation_size = 0
log_statement = 'all'
log_line_prefix = '%m [%p] %q%u@%d '
log_connections = on
log_disconnections = on
log_checkpoints = on
log_autovacuum_min_duration = 0
log_timezone = 'UTC'
timezone = 'UTC'
track_commit_timestamp = on
wal_level = replica
archive_mode = on
archive_command = 'test ! -f $dir/archive/%f && cp %p $dir/archive/%f'
EOF
}

# pg_start NAME: initdb + start a cluster; exports PGHOST/PGPORT/PGUSER for psql.
pg_start() {
    local name="$1"
    local dir
    dir="$(mktemp -d /tmp/pgtriage-incident-XXXXXX)"
    mkdir -p "$dir/archive"
    echo -n "triage-secret-pw" >"$dir/pwfile"
    if is_root; then chown -R postgres:postgres "$dir"; chmod 0755 "$dir"; fi
    CLUSTER_DIR[$name]="$dir"
    CLUSTERS_STARTED+=("$name")
    as_pg "$PG_BINDIR/initdb" -D "$dir/data" -U postgres --auth-local=trust \
        --auth-host=scram-sha-256 --encoding=UTF8 --locale=C --no-sync \
        --pwfile="$dir/pwfile" >/dev/null
    pg_conf_lines "$dir" >>"$dir/data/postgresql.conf"
    pg_up "$name"
}

# pg_up NAME: (re)start a stopped cluster on a free port.
pg_up() {
    local name="$1" dir="${CLUSTER_DIR[$1]}" port
    port="$(free_port)"
    as_pg "$PG_BINDIR/pg_ctl" -D "$dir/data" -w -t 120 -l "$dir/startup.log" -o "-p $port" start >/dev/null
    CLUSTER_PORT[$name]="$port"
    use_cluster "$name"
}

# pg_stop NAME MODE: `fast` for a clean shutdown, `immediate` for a crash.
pg_stop() {
    as_pg "$PG_BINDIR/pg_ctl" -D "${CLUSTER_DIR[$1]}/data" -w -t 60 -m "$2" stop >/dev/null
}

use_cluster() {
    export PGHOST="${CLUSTER_DIR[$1]}" PGPORT="${CLUSTER_PORT[$1]}" PGUSER=postgres
}

# url NAME DB: the connection URL pgtriage is given (unix socket, trust: no password anywhere).
db_url() {
    echo "postgres:///$2?host=${CLUSTER_DIR[$1]}&port=${CLUSTER_PORT[$1]}&user=postgres"
}

# sql DB "SQL": statements (each in its own transaction) as the superuser, application `setup`.
sql() {
    PGAPPNAME=setup "$PG_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -At -d "$1" -f - <<<"$2"
}

# as_app APP USER DB [--allow-errors] < script: ONE psql session, as USER with application_name
# APP. With LABEL set, records it in $OUT/.events as `label|from|to|pid|user|db|app`: the window is
# the client's clock around the session, the pid is read back from the server's own log
# (`connection authorized: … application_name=APP`), so nothing extra is logged.
as_app() {
    local app="$1" user="$2" db="$3" stop=1
    [[ "${4:-}" == "--allow-errors" ]] && stop=0
    local from to status=0
    from="$(now_utc)"
    # ONE_COMMAND: send stdin to the server verbatim with -c (psql would take `\!` for a
    # meta-command in a script; a pasted one-liner goes to the server as typed).
    if [[ -n "${ONE_COMMAND:-}" ]]; then
        PGAPPNAME="$app" "$PG_BINDIR/psql" -X -q -v ON_ERROR_STOP=$stop -At -U "$user" -d "$db" \
            -c "$(cat)" 2>"$WORK/session.err" || status=$?
    else
        PGAPPNAME="$app" "$PG_BINDIR/psql" -X -q -v ON_ERROR_STOP=$stop -At -U "$user" -d "$db" -f - \
            2>"$WORK/session.err" || status=$?
    fi
    to="$(now_utc)"
    [[ -s "$WORK/session.err" ]] && sed 's/^/  client: /' "$WORK/session.err" >&2
    [[ $status == 0 || $stop == 0 ]] || return $status
    [[ -n "${LABEL:-}" ]] && record_session "$LABEL" "$from" "$to" "$app" "$user" "$db"
    return 0
}

# record_session LABEL FROM TO APP USER DB: records the last session APP opened as USER on DB
# (its pid read back from the server's `connection authorized` line) in the events file.
record_session() {
    local label="$1" from="$2" to="$3" app="$4" user="$5" db="$6" pid="" try
    for try in 1 2 3 4 5 6 7 8 9 10; do
        pid="$(grep -a "connection authorized: user=$user database=$db application_name=$app\$" \
            "$PGHOST/data/log/postgresql.log" | tail -1 | sed -n 's/^[^[]*\[\([0-9]*\)\].*/\1/p')"
        [[ -n "$pid" ]] && break
        sleep 0.2
    done
    [[ -n "$pid" ]] || { echo "no connection line for $app in the log" >&2; return 1; }
    echo "$label|$from|$to|$pid|$user|$db|$app" >>"$EVENTS_FILE"
}

# now_utc: the time now, as the events file writes it.
now_utc() { date -u +%Y-%m-%dT%H:%M:%S.%6NZ; }

# mark LABEL FROM TO: records a server-side event (no session) in the events file.
mark() { echo "$1|$2|$3||||" >>"$EVENTS_FILE"; }

# flush DB: make the statistics of every session visible, as pg-forensics.md does.
flush() {
    sql "$1" "SELECT pg_stat_force_next_flush()" >/dev/null
    sleep 1.5
}

# save_logs NAME [PREFIX]: copy the server's stderr/csv/json logs into $OUT (PREFIX-less by default).
save_logs() {
    local dir="${CLUSTER_DIR[$1]}" prefix="${2:-}"
    sleep 0.5 # let the logging collector write the last lines
    local ext
    for ext in log csv json; do
        if [[ -f "$dir/data/log/postgresql.$ext" ]]; then
            cp "$dir/data/log/postgresql.$ext" "$OUT/${prefix}postgresql.$ext"
            chmod 0644 "$OUT/${prefix}postgresql.$ext"
        fi
    done
}

# collect_supports FLAG: does this pgtriage's `collect` take FLAG yet?
collect_supports() {
    "$PGTRIAGE" collect --help 2>/dev/null | grep -q -- "$1"
}

# collect NAME DB FILE [--log F]... [--repo DIR] [--baseline F]: run the real `pgtriage collect`
# from inside $OUT, so the evidence names its inputs by relative path. Flags the built binary
# does not know yet are left out (and said so); the raw materials are in $OUT either way.
collect() {
    local name="$1" db="$2" file="$3"
    shift 3
    local args=(collect --db "$(db_url "$name" "$db")")
    while [[ $# -gt 0 ]]; do
        if collect_supports "$1"; then
            args+=("$1" "$2")
        else
            echo "  (collect has no $1 yet: $2 kept for later)" >&2
        fi
        shift 2
    done
    args+=(-o "$file")
    if (cd "$OUT" && "$PGTRIAGE" "${args[@]}"); then
        echo "  wrote $file"
    else
        echo "  collect failed (not built yet?); raw materials kept in $OUT" >&2
    fi
}

# repo_init: a fresh git repository in $OUT/repo with a fixed identity.
repo_init() {
    rm -rf "$OUT/repo"
    git init -q -b main "$OUT/repo"
    git -C "$OUT/repo" config user.name "${GIT_AUTHOR:-Dana Developer}"
    git -C "$OUT/repo" config user.email "${GIT_EMAIL:-dana@example.com}"
}

# repo_commit WHEN MESSAGE: commit everything in the repository at an ISO time (UTC).
repo_commit() {
    git -C "$OUT/repo" add -A
    GIT_AUTHOR_DATE="$1" GIT_COMMITTER_DATE="$1" git -C "$OUT/repo" commit -q -m "$2"
}

# repo_bundle: $OUT/repo.bundle, re-clonable with `git clone repo.bundle`.
repo_bundle() {
    git -C "$OUT/repo" bundle create -q "$OUT/repo.bundle" --all
}

# write_expected < TEMPLATE: expected.json from the scenario's ground truth. The template (JSON)
# names, per affected table, the kind of hypothesis that must explain it and the event that did
# it; each event in the template gives the statement fragment, and this fills in what the run
# measured: the time window and the session (pid, user, database, application).
write_expected() {
    cat >"$WORK/expected.tmpl"
    python3 - "$EVENTS_FILE" "$OUT/expected.json" "$(basename "$OUT")" "$WORK/expected.tmpl" <<'PY'
import json, sys
events_file, out, name, tmpl = sys.argv[1:5]
template = json.load(open(tmpl))
measured = {}
for line in open(events_file):
    label, frm, to, pid, user, db, app = line.rstrip("\n").split("|")
    m = {"from": frm, "to": to}
    if pid:
        m["session"] = {"pid": int(pid), "user": user, "database": db, "application": app}
    measured[label] = m
for label, ev in template.get("events", {}).items():
    if label not in measured:
        sys.exit(f"expected.json: event {label!r} was not recorded by the scenario")
    got = measured[label]
    ev["from"], ev["to"] = got["from"], got["to"]
    if ev.get("session", True) is False:
        del ev["session"]
    elif "session" in got:
        ev["session"] = got["session"]
doc = {"incident": name}
doc.update(template)
with open(out, "w") as f:
    json.dump(doc, f, indent=2)
    f.write("\n")
PY
    echo "  wrote expected.json"
}

# repo_checkout: $OUT/repo re-cloned from repo.bundle, as a reader of the sample would get it.
repo_checkout() {
    rm -rf "$OUT/repo"
    git -c init.defaultBranch=main clone -q "$OUT/repo.bundle" "$OUT/repo"
}

# finish: drop scratch files (what the events file recorded is in expected.json now).
finish() {
    rm -rf "$OUT/repo" "$EVENTS_FILE"
    du -sh "$OUT" | sed 's/^/  size /'
}
