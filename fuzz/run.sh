#!/bin/sh
# Runs every image-decoder fuzz harness for SECONDS each, on a scratch copy of its seed corpus
# (new inputs and crash files stay out of the tree). Exits non-zero if any harness fails.
# Usage: fuzz/run.sh BUILD_DIR SECONDS
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
for fmt in jpeg png webp gif bmp; do
    bin=$build/fuzz/fuzz_$fmt
    if [ ! -x "$bin" ]; then
        echo "fuzz: $bin not built (configure with CC=clang -DTD_FUZZ=ON)" >&2
        status=1
        continue
    fi
    mkdir -p "$work/$fmt/corpus" "$work/$fmt/artifacts"
    cp "$here/corpus/$fmt/"* "$work/$fmt/corpus/" 2>/dev/null || true
    echo "fuzz: $fmt for ${seconds}s"
    if ! "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=262144 \
        -print_final_stats=1 -artifact_prefix="$work/$fmt/artifacts/" "$work/$fmt/corpus" \
        >"$work/$fmt/log" 2>&1; then
        echo "fuzz: $fmt FAILED; last lines of its log:" >&2
        tail -n 40 "$work/$fmt/log" >&2
        for a in "$work/$fmt/artifacts/"*; do
            [ -e "$a" ] || continue
            echo "fuzz: crashing input (base64) $(basename "$a"):" >&2
            base64 "$a" >&2
        done
        status=1
    else
        grep -E "stat::number_of_executed_units|stat::peak_rss_mb" "$work/$fmt/log" | tr '\n' ' '
        echo
    fi
done
exit $status
