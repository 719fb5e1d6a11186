#!/usr/bin/env bash
# Peak memory of `wstrace read` on the hostile captures (issue 7), default options, text and JSON.
#
#   scripts/hostile-memory.sh [DIR]     # captures go to DIR (default /tmp/wstrace-hostile), never committed
#
# Builds wstrace in release (scratch path $SCRATCH, default .build-hostile), generates the six
# full-size cases of issue 7 plus one extra with scripts/hostile/gen.py (skipped when already there), runs each through
# `/usr/bin/time -v wstrace read FILE [--format json] > /dev/null` and prints a Markdown table
# of the peak RSS. Exit status 1 when a case goes over 128 MiB or wstrace exits non-zero.
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=${1:-/tmp/wstrace-hostile}
SCRATCH=${SCRATCH:-$PWD/.build-hostile}
LIMIT_KB=$((128 * 1024))
mkdir -p "$DIR"
swift build -c release --product wstrace --scratch-path "$SCRATCH" >/dev/null
W="$SCRATCH/release/wstrace"

CASES=(bomb ooo-flood conns header fragmented tinyframes conns-http)
declare -A WHAT=(
    [bomb]="deflate bomb: one message inflating to 256 MiB"
    [ooo-flood]="128 MiB out of order behind a missing first segment"
    [conns]="300,000 connections, SYN only"
    [header]="16 MiB header block, no CRLF CRLF"
    [fragmented]="256 MiB of one fragmented message"
    [tinyframes]="100,000 frames completed by one packet"
    [conns-http]="(extra) 300,000 connections, each a short HTTP exchange"
)
for c in "${CASES[@]}"; do
    [ -s "$DIR/$c.pcap" ] || python3 scripts/hostile/gen.py "$c" "$DIR/$c.pcap"
done

status=0
echo "| case | capture | text peak RSS | JSON peak RSS | time (text) |"
echo "|---|---:|---:|---:|---:|"
for c in "${CASES[@]}"; do
    row="| ${WHAT[$c]} | $(awk -v b="$(stat -c %s "$DIR/$c.pcap")" 'BEGIN { printf "%.1f MiB", b / 1048576 }')"
    for fmt in text json; do
        set +e
        /usr/bin/time -v "$W" read "$DIR/$c.pcap" --format "$fmt" >/dev/null 2>"$DIR/$c.$fmt.time"
        rc=$?
        set -e
        kb=$(grep "Maximum resident set size" "$DIR/$c.$fmt.time" | grep -o '[0-9]*$')
        wall=$(grep "Elapsed (wall clock)" "$DIR/$c.$fmt.time" | awk '{print $NF}')
        [ "$fmt" = text ] && twall=$wall
        mark=""
        if [ "$rc" -ne 0 ] || [ "$kb" -gt "$LIMIT_KB" ]; then status=1; mark=" ✗ (exit $rc)"; fi
        row="$row | $(awk -v k="$kb" 'BEGIN { printf "%.1f MiB", k / 1024 }')$mark"
    done
    echo "$row | $twall |"
done
exit $status
