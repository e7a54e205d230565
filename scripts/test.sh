#!/usr/bin/env bash
# The whole test suite, as the README's second command: installs what a fresh machine of this
# kind lacks (PostgreSQL 15 and its extensions, PgBouncer, openssl, npm, zstd/lz4, python3),
# fetches the server binaries of the version matrix (PostgreSQL 12–18, cached), then runs
# `cargo test --locked` with PGTRIAGE_PG_VERSIONS set so no version is skipped silently.
# Extra arguments go to cargo test (e.g. `scripts/test.sh --test wal_evidence`).
set -euo pipefail
cd "$(dirname "$0")/.."

# PostgreSQL server binaries for the real-server tests (initdb, pg_ctl, psql, pg_dump, …).
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! command -v initdb >/dev/null 2>&1; then
  echo "ci: installing PostgreSQL server binaries"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq postgresql >/dev/null
fi
# pgaudit, so the AUDIT-line test runs instead of skipping; optional, a failure here is not fatal.
for bindir in /usr/lib/postgresql/*/bin; do
  major=$(basename "$(dirname "$bindir")")
  if [ ! -f "/usr/share/postgresql/$major/extension/pgaudit.control" ] && [ "$(id -u)" = 0 ]; then
    echo "ci: installing postgresql-$major-pgaudit"
    (export DEBIAN_FRONTEND=noninteractive; apt-get update -qq && apt-get install -y -qq "postgresql-$major-pgaudit" >/dev/null) \
      || echo "ci: pgaudit not installed; its test will say it skipped"
  fi
  # pg_dirtyread: the report's printed dead-tuple query is run by tests/recovery_commands.rs.
  if [ ! -f "/usr/share/postgresql/$major/extension/pg_dirtyread.control" ] && [ "$(id -u)" = 0 ]; then
    echo "ci: installing postgresql-$major-dirtyread"
    (export DEBIAN_FRONTEND=noninteractive; apt-get update -qq && apt-get install -y -qq "postgresql-$major-dirtyread" >/dev/null)
  fi
  # pg_cron: tests/recovery_cron.rs runs the printed pause of the job that issued a DELETE.
  if [ ! -f "/usr/share/postgresql/$major/extension/pg_cron.control" ] && [ "$(id -u)" = 0 ]; then
    echo "ci: installing postgresql-$major-cron"
    (export DEBIAN_FRONTEND=noninteractive; apt-get update -qq && apt-get install -y -qq "postgresql-$major-cron" >/dev/null)
  fi
done
# PgBouncer for the pooler tests, the openssl command line for the TLS tests' certificates, and
# npm/node to fetch the other PostgreSQL majors.
missing=()
[ -x /usr/sbin/pgbouncer ] || command -v pgbouncer >/dev/null 2>&1 || missing+=(pgbouncer)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
command -v npm >/dev/null 2>&1 || missing+=(npm)
command -v node >/dev/null 2>&1 || missing+=(nodejs)
if [ ${#missing[@]} -gt 0 ]; then
  echo "ci: installing ${missing[*]}"
  (export DEBIAN_FRONTEND=noninteractive; apt-get update -qq && apt-get install -y -qq "${missing[@]}" >/dev/null)
fi
# The PostgreSQL version matrix (12, 13, 14, 16, 17, 18; 15 is the distribution's): cached
# server binaries, fetched once; the matrix test fails rather than skips a version asked for.
versions_line=$(scripts/fetch-pg-versions.sh | tail -n 1)
export "${versions_line?}"
echo "ci: $versions_line"

# zstd and lz4, for the test of compressed WAL segments (tests/wal_evidence.rs).
if ! command -v zstd >/dev/null 2>&1 || ! command -v lz4 >/dev/null 2>&1; then
  echo "ci: installing zstd and lz4"
  (export DEBIAN_FRONTEND=noninteractive; apt-get update -qq && apt-get install -y -qq zstd lz4 >/dev/null)
fi
# python3 (stdlib only) stages the randomized incidents of tests/random_incidents.rs.
if ! command -v python3 >/dev/null 2>&1; then
  echo "ci: installing python3"
  (export DEBIAN_FRONTEND=noninteractive; apt-get update -qq && apt-get install -y -qq python3 >/dev/null)
fi
# Barman, its barman-wal-archive client and an ssh server, for tests/recovery_barman.rs: a real
# Barman on localhost that receives the WAL over ssh and runs the printed `barman recover`.
if ! command -v barman >/dev/null 2>&1 || ! command -v barman-wal-archive >/dev/null 2>&1 || [ ! -x /usr/sbin/sshd ]; then
  echo "ci: installing barman barman-cli openssh-server"
  (export DEBIAN_FRONTEND=noninteractive; apt-get update -qq && apt-get install -y -qq barman barman-cli openssh-server >/dev/null)
fi
# pgBackRest, whose printed restore tests/recovery_tools.rs runs on a real stanza, and the AWS
# CLI (PyPI), which parses and validates the printed RDS commands there.
if ! command -v pgbackrest >/dev/null 2>&1; then
  echo "ci: installing pgbackrest"
  (export DEBIAN_FRONTEND=noninteractive; apt-get update -qq && apt-get install -y -qq pgbackrest >/dev/null)
fi
if ! command -v aws >/dev/null 2>&1; then
  echo "ci: installing the AWS CLI"
  python3 -m pip install -q awscli || echo "ci: awscli not installed; tests/recovery_tools.rs will fail naming it"
fi
# Mermaid for tests/report_render.rs: Debian's chromium, and @mermaid-js/mermaid-cli from npm
# without puppeteer's own browser download (cached in /var/cache/pgtriage/mermaid).
if ! command -v chromium >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  echo "ci: installing chromium"
  (export DEBIAN_FRONTEND=noninteractive; apt-get update -qq && apt-get install -y -qq chromium >/dev/null)
fi
mermaid_dir=/var/cache/pgtriage/mermaid
if [ ! -x "$mermaid_dir/node_modules/.bin/mmdc" ] && [ "$(id -u)" = 0 ]; then
  echo "ci: installing @mermaid-js/mermaid-cli"
  mkdir -p "$mermaid_dir"
  (cd "$mermaid_dir" && PUPPETEER_SKIP_DOWNLOAD=1 npm install --no-audit --no-fund --silent @mermaid-js/mermaid-cli >/dev/null)
fi
if command -v chromium >/dev/null 2>&1 && [ -x "$mermaid_dir/node_modules/.bin/mmdc" ]; then
  export PGTRIAGE_MMDC="$mermaid_dir/node_modules/.bin/mmdc" PGTRIAGE_REQUIRE_MERMAID=1
fi
# The postmaster refuses to run as root: the harness runs it as `postgres`.
if [ "$(id -u)" = 0 ] && ! id postgres >/dev/null 2>&1; then
  useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
fi

cargo test --locked --no-fail-fast "$@"
