#!/usr/bin/env bash
# Benchmark of `pgtriage migrations` against `git log` on a synthetic repository.
#
#   scripts/bench-migrations.sh [COMMITS] [RUNS]
#
# Generates (once, cached in target/bench-migrations-repo) a repository with `git fast-import`
# from scripts/gen-migrations-repo.py: COMMITS commits (default 20,000), ~2,500 migration files
# over 40 per-app folders, renames, deletions and formatter rewrites. Then prints the best of RUNS
# wall-clock times (default 5) for:
#   1. git log --full-history --name-status -- <migration paths>     (the reference)
#   2. pgtriage migrations --walk-only                                (the git2 walk alone)
#   3. pgtriage migrations --format json                              (walk + read + parse all)
# Goals (issue 4): 2 within 1.5x of 1; 3 under 3 s. Uses the release binary.
set -euo pipefail

COMMITS=${1:-20000}
RUNS=${2:-5}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
REPO="$ROOT/target/bench-migrations-repo-$COMMITS"
BIN="$ROOT/target/release/pgtriage"

if [[ ! -x "$BIN" ]]; then
    echo "building the release binary…" >&2
    (cd "$ROOT" && cargo build --release --quiet)
fi

if [[ ! -d "$REPO/.git" ]]; then
    echo "generating $REPO ($COMMITS commits)…" >&2
    rm -rf "$REPO"
    git init -q -b main "$REPO"
    python3 "$ROOT/scripts/gen-migrations-repo.py" "$COMMITS" | git -C "$REPO" fast-import --quiet
    git -C "$REPO" checkout -q main
    git -C "$REPO" gc -q
    git -C "$REPO" commit-graph write --reachable 2>/dev/null || true
fi

# Best wall-clock time of RUNS runs, in seconds.
best() {
    local best_t=""
    for _ in $(seq "$RUNS"); do
        local start end t
        start=$(date +%s.%N)
        "$@" >/dev/null
        end=$(date +%s.%N)
        t=$(echo "$end - $start" | bc -l)
        if [[ -z "$best_t" ]] || (( $(echo "$t < $best_t" | bc -l) )); then best_t=$t; fi
    done
    printf '%.3f' "$best_t"
}

PATHS=(':(glob)**/migrations/**')
echo "repository: $REPO"
echo "  $(git -C "$REPO" rev-list --count HEAD) commits," \
     "$(git -C "$REPO" log --full-history --format= --name-only --diff-filter=A -- "${PATHS[@]}" | sort -u | wc -l) migration files ever added," \
     "$(git -C "$REPO" ls-files -- "${PATHS[@]}" | wc -l) at HEAD"
echo "  pgtriage: $("$BIN" migrations --repo "$REPO" --walk-only)"
echo "  git log:  $(git -C "$REPO" log --full-history --format=%H --name-status -- "${PATHS[@]}" | grep -c '^[0-9a-f]\{40\}$') commits touch migrations"

t_git=$(best git -C "$REPO" log --full-history --format='%H %cd' --name-status -- "${PATHS[@]}")
t_walk=$(best "$BIN" migrations --repo "$REPO" --walk-only)
t_scan=$(best "$BIN" migrations --repo "$REPO" --format json)

echo
printf '%-58s %8s\n' "command (best of $RUNS)" "seconds"
printf '%-58s %8s\n' "git log --full-history --name-status -- migrations" "$t_git"
printf '%-58s %8s  (%.2fx git log; goal <= 1.5x)\n' "pgtriage migrations --walk-only (git2 walk)" "$t_walk" "$(echo "$t_walk / $t_git" | bc -l)"
printf '%-58s %8s  (goal < 3 s)\n' "pgtriage migrations --format json (walk + parse all)" "$t_scan"
