#!/bin/sh
# Project rules a compiler does not check:
#  - allocation goes through src/core/alloc.c (no raw malloc/calloc/realloc/strdup elsewhere);
#  - no unbounded string functions (strcpy, strcat, sprintf, gets) and no atoi/atol;
#  - the library (everything under src/ but src/cli/) never prints or exits.
set -u
cd "$(dirname "$0")/.."
status=0
report() {
  if [ -n "$2" ]; then
    echo "lint: $1:"
    echo "$2"
    status=1
  fi
}
c_files=$(find src -name '*.[ch]' | sort)
hits=$(grep -nE '(^|[^_a-zA-Z.>])(malloc|calloc|realloc|strdup|aligned_alloc)\(' $c_files \
       | grep -v '^src/core/alloc.c:')
report "raw allocation outside src/core/alloc.c" "$hits"
hits=$(grep -nE '(^|[^_a-zA-Z.>])(strcpy|strcat|sprintf|vsprintf|gets|atoi|atol|atoll)\(' $c_files)
report "banned function" "$hits"
lib_files=$(echo "$c_files" | tr ' ' '\n' | grep -v '^src/cli/')
hits=$(grep -nE '(^|[^_a-zA-Z.>])(printf|fprintf|puts|fputs|putchar|perror|exit|abort)\(' $lib_files)
report "the library must not print or exit" "$hits"
exit $status
