# Shared by the scripts in scripts/: a throwaway PostgreSQL cluster with the same forensic
# settings as the test harness (tests/support/mod.rs). Source it, then call `pg_throwaway_start`;
# the EXIT trap stops the server and removes the directory.
#   PG_DIR   temp dir (socket dir too)      PG_PORT  the port
#   PG_BIN   server binaries                 pg_psql DB [psql args…]

pg_find_bindir() {
  if [ -n "${PGTRIAGE_PG_BINDIR:-}" ]; then echo "$PGTRIAGE_PG_BINDIR"; return; fi
  if command -v pg_config >/dev/null 2>&1 && [ -x "$(pg_config --bindir)/initdb" ]; then
    pg_config --bindir; return
  fi
  if command -v initdb >/dev/null 2>&1; then dirname "$(command -v initdb)"; return; fi
  local best
  best=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  if [ -z "$best" ]; then
    echo "no PostgreSQL server binaries (initdb, pg_ctl) found: install postgresql 12-17 or set PGTRIAGE_PG_BINDIR" >&2
    exit 2
  fi
  echo "$best"
}

# initdb and pg_ctl refuse to run as root: run them as postgres then.
pg_as_server_user() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

pg_throwaway_stop() {
  if [ -n "${PG_DIR:-}" ] && [ -d "$PG_DIR/data" ]; then
    pg_as_server_user "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast -w stop >/dev/null 2>&1 || true
  fi
  [ -n "${PG_DIR:-}" ] && rm -rf "$PG_DIR"
}

# pg_throwaway_start [extra postgresql.conf lines…]
pg_throwaway_start() {
  PG_BIN=$(pg_find_bindir)
  PG_DIR=$(mktemp -d /tmp/pgtriage-script-XXXXXX)
  trap pg_throwaway_stop EXIT
  if [ "$(id -u)" = 0 ]; then chown postgres:postgres "$PG_DIR"; fi
  chmod 0755 "$PG_DIR"
  pg_as_server_user "$PG_BIN/initdb" -D "$PG_DIR/data" -U postgres --auth-local=trust \
    --auth-host=scram-sha-256 --encoding=UTF8 --locale=C --no-sync >/dev/null
  # No TCP (listen_addresses = ''): the port only names the socket file in our private
  # directory, so any port is free.
  PG_PORT=54329
  {
    echo "# pgtriage throwaway cluster (same settings as tests/support)"
    echo "listen_addresses = ''"
    echo "unix_socket_directories = '$PG_DIR'"
    echo "fsync = off"
    echo "synchronous_commit = off"
    echo "full_page_writes = off"
    echo "logging_collector = on"
    echo "log_destination = 'stderr,csvlog,jsonlog'"
    echo "log_directory = 'log'"
    echo "log_filename = 'postgresql.log'"
    echo "log_rotation_age = 0"
    echo "log_rotation_size = 0"
    echo "log_statement = 'all'"
    echo "log_line_prefix = '%m [%p] %q%u@%d '"
    echo "log_connections = on"
    echo "log_disconnections = on"
    echo "log_checkpoints = on"
    echo "log_autovacuum_min_duration = 0"
    echo "log_timezone = 'UTC'"
    echo "timezone = 'UTC'"
    echo "track_commit_timestamp = on"
    echo "wal_level = replica"
    echo "archive_mode = on"
    echo "archive_command = 'test ! -f $PG_DIR/archive/%f && cp %p $PG_DIR/archive/%f'"
    for line in "$@"; do echo "$line"; done
  } | pg_as_server_user tee -a "$PG_DIR/data/postgresql.conf" >/dev/null
  pg_as_server_user mkdir -p "$PG_DIR/archive"
  pg_as_server_user "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -o "-p $PG_PORT" -l "$PG_DIR/startup.log" -w start >/dev/null
}

# pg_psql DB [psql args…]: psql over the socket as postgres, stop on the first error.
pg_psql() {
  local db=$1; shift
  PGAPPNAME=${PGAPPNAME:-psql} "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$PG_DIR" -p "$PG_PORT" -U postgres -d "$db" "$@"
}

pg_url() {
  echo "postgres:///$1?host=$PG_DIR&port=$PG_PORT&user=postgres"
}

# pg_make_bench_tables DB N: N tables for the collect benchmarks. Odd tables are parents with two
# rows; each even table references the one before it ON DELETE CASCADE (N/2 foreign keys).
# Batches of 500 keep the lock table small.
pg_make_bench_tables() {
  local db=$1 tables=$2 batch=500 start end
  for start in $(seq 1 $batch "$tables"); do
    end=$((start + batch - 1)); [ "$end" -gt "$tables" ] && end=$tables
    pg_psql "$db" -c "
DO \$\$
BEGIN
  FOR i IN $start..$end LOOP
    IF i % 2 = 1 THEN
      EXECUTE format('CREATE TABLE t%s (id int PRIMARY KEY, v text)', i);
      EXECUTE format('INSERT INTO t%s VALUES (1, ''a''), (2, ''b'')', i);
    ELSE
      EXECUTE format('CREATE TABLE t%s (id serial PRIMARY KEY, parent_id int REFERENCES t%s(id) ON DELETE CASCADE)', i, i - 1);
    END IF;
  END LOOP;
END \$\$;" >/dev/null
  done
  pg_psql "$db" -c "VACUUM ANALYZE" >/dev/null
}

# pg_count_pgtriage_statements: statements the server logged from application_name=pgtriage
# (needs a log_line_prefix with `app=%a`, as the benchmarks set it).
pg_count_pgtriage_statements() {
  grep -cE "app=pgtriage .*LOG:  (statement|execute [^:]*):" "$PG_DIR/data/log/postgresql.log" || true
}
