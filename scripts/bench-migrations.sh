#!/usr/bin/env bash
# Benchmark of `pgtriage migrations` against `git log`, on repositories with the shape of real
# ones (issue #16) and on the synthetic 20,000-commit repository.
#
#   scripts/bench-migrations.sh [SHAPES] [RUNS]
#
# SHAPES: comma-separated, from `synthetic` (scripts/gen-migrations-repo.py COMMITS, 20,000 commits
# by default, COMMITS=… to change), `saleor`, `openfoodnetwork`, `lemmy` (`gen-migrations-repo.py
# --shape NAME`: commit count, merges, migration files and layout, edit/rename/delete shares,
# rewrites, SQL size per file from the published statistics). Default: all four. Each repository
# is generated once (`git fast-import`, then `git gc` and a commit-graph, as a clone has) and
# cached in target/bench-shape-NAME. For each, in the same run, best wall time of RUNS (default
# 3), its CPU time (user + system) and peak RSS (/usr/bin/time, of the best run) of:
#   anchor   git log --full-history --name-status -- <the framework's migration paths>
#   walk     pgtriage migrations --walk-only      (the history walk alone, no blob read)
#   full     pgtriage migrations --format json     (walk + blobs read + everything parsed)
# and the ratios walk/anchor and full/anchor. Goals (issue #16): walk <= 1.2x, full <= 1.5x,
# memory within 1.5x of git log's. The machine is shared: read the ratios, not the seconds.
# PGTRIAGE_BIN: an already built binary instead of the release build. Asserts nothing.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
SHAPES=${1:-synthetic,saleor,openfoodnetwork,lemmy}
RUNS=${2:-3}
COMMITS=${COMMITS:-20000}
if [[ -n "${PGTRIAGE_BIN:-}" ]]; then BIN=$PGTRIAGE_BIN; else
    (cd "$ROOT" && cargo build --release --quiet)
    BIN="$ROOT/target/release/pgtriage"
fi

# The paths `git log` is given: what the framework's layout names (the issue's anchors).
anchor_paths() {
    case $1 in
        saleor) echo 'saleor/*/migrations/*' ;;
        openfoodnetwork) echo 'db/migrate/*' ;;
        lemmy) echo ':(glob)migrations/**' ':(glob)server/migrations/**' ;;
        *) echo ':(glob)**/migrations/**' ;;
    esac
}

repo_of() {
    local shape=$1 repo
    if [[ $shape == synthetic ]]; then repo="$ROOT/target/bench-migrations-repo-$COMMITS"; else repo="$ROOT/target/bench-shape-$shape"; fi
    if [[ ! -d "$repo/.git" ]]; then
        echo "generating $repo…" >&2
        rm -rf "$repo"
        git init -q -b main "$repo"
        if [[ $shape == synthetic ]]; then
            python3 "$ROOT/scripts/gen-migrations-repo.py" "$COMMITS" | git -C "$repo" fast-import --quiet
        else
            python3 "$ROOT/scripts/gen-migrations-repo.py" --shape "$shape" | git -C "$repo" fast-import --quiet
        fi
        git -C "$repo" checkout -q main
        git -C "$repo" gc -q
        git -C "$repo" commit-graph write --reachable 2>/dev/null || true
    fi
    echo "$repo"
}

# measure CMD…: prints "SECONDS KIB CPU" — the best wall time of RUNS runs, that run's peak RSS
# and its CPU time (user + system: on a loaded machine the wall time swings, the CPU much less).
measure() {
    local best_t="" best_kb="" best_cpu="" out
    out=$(mktemp)
    for _ in $(seq "$RUNS"); do
        /usr/bin/time -f '%e %M %U %S' -o "$out" "$@" >/dev/null
        read -r t kb u s < "$out"
        if [[ -z "$best_t" ]] || awk -v a="$t" -v b="$best_t" 'BEGIN { exit !(a < b) }'; then
            best_t=$t best_kb=$kb best_cpu=$(awk -v u="$u" -v s="$s" 'BEGIN { printf "%.2f", u + s }')
        fi
    done
    rm -f "$out"
    echo "$best_t $best_kb $best_cpu"
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "-" }'; }

printf '%-16s %-7s %8s %8s %9s %8s %8s %8s\n' repository run seconds "CPU s" "RSS MiB" "time/git" "CPU/git" "RSS/git"
for shape in ${SHAPES//,/ }; do
    repo=$(repo_of "$shape")
    read -r -a paths <<< "$(anchor_paths "$shape")"
    echo "# $shape: $(git -C "$repo" rev-list --count HEAD) commits ($(git -C "$repo" rev-list --count --merges HEAD) merges)," \
         "$(git -C "$repo" log --full-history --format= --name-only --diff-filter=A -- "${paths[@]}" | sort -u | wc -l) migration files ever added," \
         "$(git -C "$repo" ls-files -- "${paths[@]}" | wc -l) at HEAD, $(git -C "$repo" ls-files -z -- "${paths[@]}" | (cd "$repo" && xargs -0 cat) | wc -c) bytes at HEAD;" \
         "pgtriage: $("$BIN" migrations --repo "$repo" --walk-only)"
    read -r g_t g_kb g_c < <(measure git -C "$repo" log --full-history --format='%H %cd' --name-status -- "${paths[@]}")
    read -r w_t w_kb w_c < <(measure "$BIN" migrations --repo "$repo" --walk-only)
    read -r f_t f_kb f_c < <(measure "$BIN" migrations --repo "$repo" --format json)
    mib() { awk -v k="$1" 'BEGIN { printf "%.0f", k / 1024 }'; }
    printf '%-16s %-7s %8s %8s %9s %8s %8s %8s\n' "$shape" "git log" "$g_t" "$g_c" "$(mib "$g_kb")" "" "" ""
    printf '%-16s %-7s %8s %8s %9s %8s %8s %8s\n' "$shape" "walk" "$w_t" "$w_c" "$(mib "$w_kb")" "$(ratio "$w_t" "$g_t")" "$(ratio "$w_c" "$g_c")" "$(ratio "$w_kb" "$g_kb")"
    printf '%-16s %-7s %8s %8s %9s %8s %8s %8s\n' "$shape" "full" "$f_t" "$f_c" "$(mib "$f_kb")" "$(ratio "$f_t" "$g_t")" "$(ratio "$f_c" "$g_c")" "$(ratio "$f_kb" "$g_kb")"
    printf '%-16s %-7s full CPU / walk CPU %s\n' "$shape" "" "$(ratio "$f_c" "$w_c")"
done
echo "goals: walk <= 1.20x git log, full <= 1.50x, RSS <= 1.50x (best of $RUNS; shared machine: ratios, not seconds)"
