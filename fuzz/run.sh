#!/bin/sh
# Runs every fuzz harness (built as BUILD_DIR/fuzz/fuzz_<name>) for SECONDS each, on a scratch
# copy of its seed corpus fuzz/corpus/<name>/ (new inputs and crash files stay out of the tree).
# The harnesses are the fuzz/fuzz_<name>.c sources and the corpus directories (the image harnesses
# share fuzz/image_driver.c, so only their corpus names them). Exits non-zero if any harness is
# missing or fails.
# Usage: fuzz/run.sh BUILD_DIR SECONDS
# FUZZ_SEED=N makes the runs repeatable (the smoke run of make test uses it); unset, each run
# explores from a fresh random seed (make fuzz).
set -u
if [ $# -ne 2 ]; then
    echo "usage: $0 BUILD_DIR SECONDS" >&2
    exit 2
fi
build=$1
seconds=$2
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/takedown-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
status=0
count=0
names=$(
    for src in "$here"/fuzz_*.c; do
        name=$(basename "$src" .c)
        echo "${name#fuzz_}"
    done
    for dir in "$here"/corpus/*/; do
        basename "$dir"
    done
)
names=$(echo "$names" | sort -u)
for name in $names; do
    bin=$build/fuzz/fuzz_$name
    if [ ! -x "$bin" ]; then
        echo "fuzz: $bin not built (configure with CC=clang -DTD_FUZZ=ON)" >&2
        status=1
        continue
    fi
    count=$((count + 1))
    mkdir -p "$work/$name/corpus" "$work/$name/artifacts"
    cp "$here/corpus/$name/"* "$work/$name/corpus/" 2>/dev/null || true
    echo "fuzz: $name for ${seconds}s"
    if ! "$bin" ${FUZZ_SEED:+-seed="$FUZZ_SEED"} -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=262144 \
        -print_final_stats=1 -artifact_prefix="$work/$name/artifacts/" "$work/$name/corpus" \
        >"$work/$name/log" 2>&1; then
        echo "fuzz: $name FAILED; last lines of its log:" >&2
        tail -n 40 "$work/$name/log" >&2
        for a in "$work/$name/artifacts/"*; do
            [ -e "$a" ] || continue
            echo "fuzz: crashing input (base64) $(basename "$a"):" >&2
            base64 "$a" >&2
        done
        status=1
    else
        grep -E "stat::number_of_executed_units|stat::peak_rss_mb" "$work/$name/log" | tr '\n' ' '
        echo
    fi
done
echo "fuzz: $count harnesses run, status $status"
exit $status
