#!/usr/bin/env bash
# Regenerates every sample incident in sample-logs/incidents/ from scratch, each on its own
# throwaway PostgreSQL cluster. Needs the PostgreSQL server binaries (12-17; the samples were
# made with 15), git and python3. Run as root (the clusters then run as `postgres`) or as a
# user that may run initdb. `make-all.sh 03 07` regenerates only those.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
(cd "$here/../.." && cargo build -q --bin pgtriage)
export PGTRIAGE_NO_BUILD=1
for script in "$here"/[0-9][0-9]-*.sh; do
    name="$(basename "$script" .sh)"
    if [[ $# -gt 0 ]]; then
        wanted=0
        for n in "$@"; do [[ "$name" == "$n"* ]] && wanted=1; done
        [[ $wanted == 1 ]] || continue
    fi
    bash "$script"
done
du -sh "$here/../../sample-logs/incidents"
