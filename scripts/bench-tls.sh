#!/usr/bin/env bash
# Benchmark: `pgtriage collect` on 10,000 tables (5,000 foreign keys) over TCP on the same
# server, plain (sslmode=disable) against TLS (sslmode=require, and verify-full with a root
# certificate, which adds pgtriage's strict pre-connection handshake). Release build, throwaway
# cluster with a CA and server certificate made by openssl. Prints each run and the means.
# Goal: TLS under 10 % slower than plain.
#   usage: scripts/bench-tls.sh [TABLES (10000)] [RUNS (5)]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/pg-throwaway.sh

tables=${1:-10000}
runs=${2:-5}
cargo build --release -q
bin=target/release/pgtriage

certs=$(mktemp -d /tmp/pgtriage-bench-tls-XXXXXX)
trap 'pg_throwaway_stop; rm -rf "$certs"' EXIT
(
  cd "$certs"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ca.key \
    -out ca.crt -days 2 -subj "/CN=bench ca" -addext basicConstraints=critical,CA:TRUE \
    -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout server.key \
    -out server.csr -subj "/CN=localhost" 2>/dev/null
  printf 'subjectAltName=DNS:localhost\nextendedKeyUsage=serverAuth\n' > server.ext
  openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out server.crt \
    -days 2 -extfile server.ext 2>/dev/null
  chmod 0600 server.key
)
if [ "$(id -u)" = 0 ]; then chown -R postgres:postgres "$certs"; chmod 0755 "$certs"; fi

pg_throwaway_start "listen_addresses = '127.0.0.1'" "ssl = on" \
  "ssl_cert_file = '$certs/server.crt'" "ssl_key_file = '$certs/server.key'" \
  "log_statement = 'none'"
pg_psql postgres -c "ALTER ROLE postgres PASSWORD 'bench-pw'" -c "CREATE DATABASE bench"
echo "creating $tables tables ($((tables / 2)) foreign keys)…"
pg_make_bench_tables bench "$tables"

plain="postgres://postgres:bench-pw@127.0.0.1:$PG_PORT/bench?sslmode=disable"
require="postgres://postgres:bench-pw@127.0.0.1:$PG_PORT/bench?sslmode=require"
full="postgres://postgres:bench-pw@localhost:$PG_PORT/bench?sslmode=verify-full&sslrootcert=$certs/ca.crt"

"$bin" collect --db "$plain" -o "$PG_DIR/warmup.json"   # warm the catalog caches

# Interleaved (plain, require, full, plain, …) so drift in the machine's load hits every mode alike.
declare -A total
for mode in plain require full; do total[$mode]=0; done
for r in $(seq 1 "$runs"); do
  for mode in plain require full; do
    url=${!mode}
    t0=$(date +%s.%N)
    "$bin" collect --db "$url" -o "$PG_DIR/$mode-$r.json" 2>/dev/null
    t1=$(date +%s.%N)
    secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')
    total[$mode]=$(awk -v a="${total[$mode]}" -v b="$secs" 'BEGIN { print a + b }')
    printf '%-8s run %d: %.3f s\n' "$mode" "$r" "$secs"
  done
done
declare -A mean
for mode in plain require full; do
  mean[$mode]=$(awk -v a="${total[$mode]}" -v n="$runs" 'BEGIN { print a / n }')
done
grep -q '"encrypted": false' "$PG_DIR/plain-1.json" || { echo "plain run was encrypted?" >&2; exit 1; }
grep -q '"encrypted": true' "$PG_DIR/require-1.json" || { echo "require run was not encrypted?" >&2; exit 1; }
grep -q '"certificate_checked": "full"' "$PG_DIR/full-1.json" || { echo "verify-full not recorded" >&2; exit 1; }
printf 'evidence file: %s bytes\n' "$(stat -c %s "$PG_DIR/plain-1.json")"
for mode in plain require full; do
  printf 'mean %-8s %.3f s  (%+.1f %% vs plain)\n' "$mode" "${mean[$mode]}" \
    "$(awk -v a="${mean[$mode]}" -v b="${mean[plain]}" 'BEGIN { print (a / b - 1) * 100 }')"
done
