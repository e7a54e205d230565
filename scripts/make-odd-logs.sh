#!/usr/bin/env bash
# Writes tests/data/odd-logs/: the same small incident logged by real PostgreSQL servers with
# odd log_line_prefix layouts (%l after the pid, %c, %x, %v, %e, padding, epoch time), so the
# inference is tested on what servers really write. Each file is one throwaway server's stderr
# log. Expected events (checked by tests/logs_odd_corpus.rs): a rolled-back
# `DELETE FROM payments`, a committed `DELETE FROM payments WHERE id = 1`, `TRUNCATE orders`.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/pg-throwaway.sh
out=tests/data/odd-logs
mkdir -p "$out"

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
    pg_psql postgres -c "CREATE TABLE payments (id int); CREATE TABLE orders (id int); INSERT INTO payments VALUES (1), (2); INSERT INTO orders VALUES (1)" >/dev/null
    printf 'BEGIN;\nDELETE FROM payments;\nSELECT 1;\nROLLBACK;\n' | pg_psql postgres >/dev/null
    printf 'BEGIN;\nDELETE FROM payments WHERE id = 1;\nCOMMIT;\n' | pg_psql postgres >/dev/null
    pg_psql postgres -c "TRUNCATE orders" >/dev/null
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
echo "wrote $(ls "$out" | wc -l) logs to $out"
