#!/bin/sh
# Installs the Debian packages listed in scripts/debian-packages.txt that are not installed yet.
# Usage: scripts/install-deps.sh [LIST...]   (default: scripts/debian-packages.txt)
set -eu
here=$(dirname "$0")
[ $# -gt 0 ] || set -- "$here/debian-packages.txt"
missing=""
for pkg in $(sed -e 's/#.*//' "$@"); do
  status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
  case "$status" in
    *" installed") ;;
    *) missing="$missing $pkg" ;;
  esac
done
[ -z "$missing" ] && exit 0
echo "installing:$missing"
if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: these packages are missing and installing them needs root:$missing" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# The clusters there before: installing the postgresql server package creates and starts a
# default cluster ("main", port 5432) that the tests do not use (scripts/pg-test.sh runs its own,
# on a free port). A cluster this install created is dropped again; existing ones are left alone.
clusters_before=$(pg_lsclusters -h 2>/dev/null | awk '{print $1 "/" $2}' || true)
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing
if command -v pg_lsclusters >/dev/null 2>&1; then
  for c in $(pg_lsclusters -h 2>/dev/null | awk '{print $1 "/" $2}'); do
    case " $(echo $clusters_before) " in
      *" $c "*) ;;
      *) echo "install-deps: dropping the default PostgreSQL cluster $c (not used)"
         pg_dropcluster --stop "${c%/*}" "${c#*/}" || true ;;
    esac
  done
fi
