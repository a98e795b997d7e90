#!/bin/sh
# A hash list imported through the HTTP route: a fresh data directory, an admin key, `takedown
# serve` on a loopback port, one bank, then POST /v1/banks/BENCH/import with the list as the body
# (curl, streamed from the file), timed from the first byte sent to the answer.
#
#   bench/serve/import_http.sh TAKEDOWN_BINARY LIST_FILE [DATA_DIR]
#
# LIST_FILE holds "pdq <hex>" lines, e.g. 10M of them (690 MB):
#   python3 -c 'import os
#   for i in range(10000000): print("pdq " + os.urandom(32).hex())' > list.txt
set -eu
bin=$1
list=$2
dir=${3:-$(mktemp -d "${TMPDIR:-/tmp}/td-import-http.XXXXXX")}
mkdir -p "$dir"
key=$("$bin" key create --data "$dir" --role admin --name bench)
out=$(mktemp)
"$bin" serve --listen 127.0.0.1:0 --data "$dir" >"$out" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -f "$out"' EXIT
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
echo "importing $(wc -l <"$list") lines ($(wc -c <"$list") bytes) through $base"
curl -sS -f -H "Authorization: Bearer $key" -H 'Content-Type: text/plain' -H 'Expect:' \
  --data-binary @"$list" -w '\nHTTP %{http_code}, %{time_total} s (upload %{size_upload} bytes)\n' \
  "$base/v1/banks/BENCH/import?atomic=1"
