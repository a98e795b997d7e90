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
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing
