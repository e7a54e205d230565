#!/usr/bin/env bash
# random-incidents.sh N [SEED]: N randomized incidents staged on real throwaway PostgreSQL
# clusters (random schemas, workload, destructive events and false alarms, logging settings),
# each judged by the real `pgtriage collect` + `report --format json` against the ground truth
# the generator recorded. Prints per-kind accuracy and, last,
# `random incidents: K/N tables explained correctly`. The body is scripts/random_incidents.py
# (Python 3 stdlib + psql); see its top comment for what is staged and how it is judged.
#
# Environment: PGTRIAGE (binary; default target/debug/pgtriage, built if missing),
# PGTRIAGE_PG_BINDIR (server binaries), RANDOM_INCIDENTS_KEEP=DIR (keep each missed incident's
# evidence, report and truth there; RANDOM_INCIDENTS_KEEP_ALL=1 keeps every incident's),
# RANDOM_INCIDENTS_JSON=FILE (write the summary as JSON),
# RANDOM_INCIDENTS_ONLY=i (stage incident i alone), RANDOM_INCIDENTS_FROM=i (stage i..N-1),
# RANDOM_INCIDENTS_KINDS=k1,k2 (draw the events from those kinds only, e.g.
# rolled_back_delete,rolled_back_truncate,delete,crash).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
if [[ $# -lt 1 ]]; then
    echo "usage: random-incidents.sh N [SEED]" >&2
    exit 2
fi
if [[ -z "${PGTRIAGE:-}" ]]; then
    (cd "$here/.." && cargo build -q --bin pgtriage)
    export PGTRIAGE="$here/../target/debug/pgtriage"
fi
exec python3 "$here/random_incidents.py" "$@"
