#!/usr/bin/env bash
# Cheap, stable regression check for performance: callgrind counts the instructions wstrace
# executes on a small deterministic generated capture (10 MiB, 40,246 packets, 1,000
# connections), which does not depend on how busy the machine is. Compare the figures before
# and after a change; the README's benchmark section records the last ones. Runs with
# --threads 1: the counts are the work of the analysis itself, not of handing it between
# threads (callgrind runs threads one at a time anyway).
#
# usage: scripts/smoke-bench.sh   (needs valgrind; builds release)
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product wstrace >/dev/null
swift build -c release --product wsbench >/dev/null
BIN=$(swift build -c release --show-bin-path)
# valgrind 3.19 cannot read the DWARF 5 that swift-crypto's C objects carry: count on a copy
# without debug information (the instructions are the same).
STRIPPED=${TMPDIR:-/tmp}/wstrace-smoke-bin
strip -o "$STRIPPED" "$BIN/wstrace"
strip -o "$STRIPPED-wsbench" "$BIN/wsbench"
CAPTURE=${TMPDIR:-/tmp}/wstrace-smoke-10.pcap
[ -s "$CAPTURE" ] && [ -s "$CAPTURE.counts.json" ] || "$BIN/wsbench" generate "$CAPTURE" 10 > "$CAPTURE.counts.json"
packets=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['packets'])" "$CAPTURE.counts.json")
count() {
    local out
    out=$(valgrind --tool=callgrind --callgrind-out-file=/dev/null "$STRIPPED" read "$CAPTURE" --threads 1 "$@" 2>&1 >/dev/null \
          | grep -o "Collected : [0-9]*" | grep -o "[0-9]*$")
    echo "| \`read $*\` | $out | $((out / packets)) |"
}
echo "| mode | instructions | per packet |"
echo "|---|---:|---:|"
count --summary
count --format ndjson --payloads none
count --no-color
# The parallel engine's reader alone (batches filled and routed by flow, nothing analysed): what
# one reader can feed, against what each packet's analysis costs a worker.
out=$(valgrind --tool=callgrind --callgrind-out-file=/dev/null "$STRIPPED-wsbench" reader "$CAPTURE" 16 2>&1 >/dev/null \
      | grep -o "Collected : [0-9]*" | grep -o "[0-9]*$")
echo "| \`wsbench reader\` (the engine's reader alone, 16 workers) | $out | $((out / packets)) |"
