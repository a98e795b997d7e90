#!/bin/sh
# A hash list imported through the HTTP route: a fresh data directory, an admin key, `takedown
# serve` on a loopback port, one bank, then POST /v1/banks/BENCH/import?atomic=1 with the list as
# the body (curl, streamed from the file), timed from the first byte sent to the answer (the
# import committed and the signals matched from then on). Prints the server's CPU time during the
# request too. With a second binary (an older build), both import the same list one after the
# other in this run, each into a fresh directory, and the ratio is printed.
#
#   bench/serve/import_http.sh TAKEDOWN_BINARY LIST_FILE [OLDER_TAKEDOWN_BINARY]
#
# LIST_FILE holds "pdq <hex>" lines, e.g. 10M of them (690 MB):
#   python3 -c 'import os, sys
#   for i in range(10000000): sys.stdout.write("pdq " + os.urandom(32).hex() + "\n")' > list.txt
# Data directories are made under ${TMPDIR:-/tmp} and removed afterwards.
set -eu
new=$1
list=$2
old=${3:-}
tick=$(getconf CLK_TCK)

# import BINARY LABEL: prints "LABEL: N s (server CPU C s)" and leaves the seconds in $secs.
import() {
  bin=$1
  label=$2
  dir=$(mktemp -d "${TMPDIR:-/tmp}/td-import-http.XXXXXX")
  out=$dir.log
  key=$("$bin" key create --data "$dir" --role admin --name bench 2>/dev/null)
  "$bin" serve --listen 127.0.0.1:0 --data "$dir" >"$out" 2>&1 &
  pid=$!
  trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$dir" "$out"' EXIT
  port=
  for _ in $(seq 600); do
    port=$(sed -n 's|^takedown: listening on http://127.0.0.1:\([0-9]*\).*|\1|p' "$out")
    [ -n "$port" ] && break
    sleep 0.1
  done
  [ -n "$port" ] || { cat "$out" >&2; exit 1; }
  base="http://127.0.0.1:$port"
  curl -sS -f -o /dev/null -H "Authorization: Bearer $key" -H 'Content-Type: application/json' \
    -d '{"name": "BENCH", "action": "block"}' "$base/v1/banks"
  cpu0=$(awk '{print $14 + $15}' "/proc/$pid/stat")
  res=$(curl -sS -f -H "Authorization: Bearer $key" -H 'Content-Type: text/plain' -H 'Expect:' \
    --data-binary @"$list" -w ' %{http_code} %{time_total}' "$base/v1/banks/BENCH/import?atomic=1")
  cpu1=$(awk '{print $14 + $15}' "/proc/$pid/stat")
  code=$(echo "$res" | tail -n 1 | awk '{print $(NF-1)}')
  secs=$(echo "$res" | tail -n 1 | awk '{print $NF}')
  added=$(echo "$res" | sed -n 's/.*"added":\([0-9]*\).*/\1/p')
  [ "$code" = 200 ] || { echo "$label: HTTP $code: $res" >&2; exit 1; }
  awk -v l="$label" -v a="$added" -v s="$secs" -v c="$((cpu1 - cpu0))" -v t="$tick" \
    -v load="$(cut -d' ' -f1 /proc/loadavg)" \
    'BEGIN { printf "%s: %s signals added in %.1f s (server CPU %.1f s), load %s\n", l, a, s, c / t, load }'
  kill "$pid"
  wait "$pid" 2>/dev/null || true
  rm -rf "$dir" "$out"
  trap - EXIT
}

echo "importing $(wc -l <"$list") lines ($(wc -c <"$list") bytes) through POST /v1/banks/BENCH/import"
if [ -n "$old" ]; then
  import "$old" older
  old_secs=$secs
fi
import "$new" this
if [ -n "$old" ]; then
  awk -v o="$old_secs" -v n="$secs" 'BEGIN { printf "older / this: %.2fx\n", o / n }'
fi
