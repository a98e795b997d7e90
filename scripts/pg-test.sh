#!/bin/sh
# A throwaway PostgreSQL server for the tests: its own cluster in a temporary directory, listening
# on 127.0.0.1 only, on a free port, with trust authentication and no fsync (test data only).
#
#   scripts/pg-test.sh start STATE   initdb + start; writes TD_TEST_PG_URL=... and TD_PG_DIR=...
#                                    to the file STATE (sh syntax, read by `stop` and by `run`)
#   scripts/pg-test.sh stop STATE    stops the server and removes its directory and STATE
#   scripts/pg-test.sh run BUILD...  start, run the PostgreSQL ctest entries (*_pg, test_store_pg)
#                                    of every BUILD directory against it, always stop (trap)
#
# initdb refuses to run as root: as root the cluster belongs to the `postgres` user (runuser).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
src=$(dirname "$here")

pgbin() {
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    if [ -x "$d/initdb" ]; then echo "$d"; return 0; fi
  done
  echo "pg-test: no PostgreSQL server found (Debian package postgresql; run scripts/install-deps.sh)" >&2
  return 1
}

as_owner() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

start() {
  state=$1
  bin=$(pgbin)
  dir=$(mktemp -d "${TMPDIR:-/tmp}/td-pg.XXXXXX")
  chmod 755 "$dir"
  [ "$(id -u)" -eq 0 ] && chown postgres:postgres "$dir"
  as_owner "$bin/initdb" -D "$dir/data" -A trust -U postgres -E UTF8 --no-sync >"$dir/initdb.log" 2>&1 || {
    cat "$dir/initdb.log" >&2; rm -rf "$dir"; return 1; }
  tries=0
  while :; do
    port=$(( 20000 + $(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % 40000 ))
    # A port taken by another program makes the start fail: then another port.
    if as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c max_connections=300 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
        start >/dev/null; then
      break
    fi
    tries=$((tries + 1))
    if [ $tries -ge 5 ]; then
      cat "$dir/server.log" >&2 || true; rm -rf "$dir"; return 1
    fi
  done
  as_owner "$bin/createdb" -h 127.0.0.1 -p "$port" -U postgres takedown_test
  url="postgresql://postgres@127.0.0.1:$port/takedown_test?sslmode=disable&gssencmode=disable"
  printf "TD_TEST_PG_URL='%s'\nTD_PG_DIR='%s'\n" "$url" "$dir" >"$state"
  echo "pg-test: PostgreSQL $("$bin/postgres" -V | awk '{print $3}') on 127.0.0.1:$port ($dir)"
}

stop() {
  state=$1
  [ -f "$state" ] || return 0
  TD_PG_DIR=
  . "$state"
  if [ -n "$TD_PG_DIR" ] && [ -d "$TD_PG_DIR/data" ]; then
    as_owner "$(pgbin)/pg_ctl" -D "$TD_PG_DIR/data" -m immediate -w stop >/dev/null 2>&1 || true
    rm -rf "$TD_PG_DIR"
  fi
  rm -f "$state"
  echo "pg-test: stopped"
}

run() {
  state=$(mktemp "${TMPDIR:-/tmp}/td-pg-state.XXXXXX")
  trap 'stop "$state"' EXIT
  trap 'exit 130' INT TERM
  start "$state"
  . "$state"
  status=0
  for build in "$@"; do
    # The URL at configure time registers the PostgreSQL tests; it is taken out afterwards so
    # that a later plain ctest in that directory does not look for this (stopped) server.
    cmake -S "$src" -B "$build" -DTD_TEST_PG_URL="$TD_TEST_PG_URL" >/dev/null
    # --no-tests=error: tests that failed to register fail the run rather than skip it.
    ctest --test-dir "$build" --output-on-failure --no-tests=error -R '(_pg|^test_store_pg)$' \
      || status=1
    cmake -S "$src" -B "$build" -DTD_TEST_PG_URL= >/dev/null
  done
  return $status
}

cmd=${1:-}
[ $# -gt 0 ] && shift
case "$cmd" in
  start) [ $# -eq 1 ] || { echo "usage: $0 start STATE" >&2; exit 2; }; start "$1" ;;
  stop) [ $# -eq 1 ] || { echo "usage: $0 stop STATE" >&2; exit 2; }; stop "$1" ;;
  run) [ $# -ge 1 ] || { echo "usage: $0 run BUILD..." >&2; exit 2; }; run "$@" ;;
  *) echo "usage: $0 start STATE | stop STATE | run BUILD..." >&2; exit 2 ;;
esac
