#!/bin/sh
# Project rules a compiler does not check:
#  - allocation goes through src/core/alloc.c (no raw malloc/calloc/realloc/strdup elsewhere);
#  - no unbounded string functions (strcpy, strcat, sprintf, gets) and no atoi/atol;
#  - the library (everything under src/ but src/cli/) never prints or exits;
#  - every tracked .c and .h file is formatted as .clang-format says (make format fixes it);
#  - cppcheck finds nothing in src/ (warnings, performance and portability checks).
# Exits non-zero if any rule is broken or a tool is missing (scripts/debian-packages.txt).
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

# clang-format: list the files whose formatting differs (git ls-files skips build trees). One
# clang-format run for all files; its messages start with the file name.
if command -v clang-format >/dev/null 2>&1; then
  hits=$(git ls-files -z '*.c' '*.h' | xargs -0 clang-format --dry-run --Werror 2>&1 \
           | sed -n 's/^\([^:]*\):[0-9]*:[0-9]*: error: .*/\1/p' | sort -u)
  report "files to format (clang-format -i FILE, or make format)" "$hits"
else
  report "clang-format" "not installed"
fi

# cppcheck over the library and the CLI. Suppressions, for false positives only:
#  - missingIncludeSystem: system headers are not given to cppcheck (it has its own library
#    configurations for libc), and looking them up would only slow it down.
# A genuine false positive in one place is suppressed there with a
# "cppcheck-suppress <id>" comment saying why.
if command -v cppcheck >/dev/null 2>&1; then
  hits=$(cppcheck -j2 --quiet --std=c11 -I include -I src \
           --enable=warning,performance,portability --inline-suppr --error-exitcode=1 \
           --suppress=missingIncludeSystem \
           --template='{file}:{line}: {severity} ({id}): {message}' src 2>&1) || \
    report "cppcheck" "${hits:-cppcheck failed}"
else
  report "cppcheck" "not installed"
fi
exit $status
