#!/usr/bin/env bash
# Builds the libFuzzer targets and runs each for N executions or S seconds (whichever first).
#
#   Fuzz/run.sh [capture|streams|tls|app ...]      # default: all four, one after the other
#   RUNS=100000 Fuzz/run.sh streams             # stop after 100,000 executions
#   SECONDS_PER_TARGET=1800 Fuzz/run.sh streams # stop after 30 minutes (default 60 s)
#
# The fuzzer runs under `nice -n 15`. New inputs go to $WORK/<target>/ (default
# /tmp/wstrace-fuzz), the committed seeds in Fuzz/corpus/<target>/ are read, not grown;
# `MERGE=1` folds new coverage back into the committed corpus (minimized). Crashes, hangs (>10 s)
# and memory blow-ups (>1 GiB RSS) are written to Fuzz/artifacts/<target>-*; keep each one as a
# regression in Tests/FuzzRegressions/ once it is fixed. Exit status: non-zero if a target failed.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
SCRATCH=${SCRATCH:-$ROOT/.build-fuzz}
WORK=${WORK:-/tmp/wstrace-fuzz}
RUNS=${RUNS:--1}
CONFIG=${CONFIG:-release}  # release: -O with the sanitizers, ~10x the executions of debug
SECONDS_PER_TARGET=${SECONDS_PER_TARGET:-60}
TARGETS=("$@")
mkdir -p "$ROOT/Fuzz/artifacts" "$WORK"
[ ${#TARGETS[@]} -eq 0 ] && TARGETS=(streams tls capture app)

# Retried: a source edited during the build (other work in the tree) fails it once.
for attempt in 1 2 3; do
    if nice -n 15 swift build --package-path Fuzz -c "$CONFIG" --scratch-path "$SCRATCH" \
        -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library >"$WORK-build.log" 2>&1; then break; fi
    grep -E "error:" "$WORK-build.log" | head -5
    [ $attempt = 3 ] && { echo "build failed, see $WORK-build.log" >&2; exit 1; }
done
status=0
for t in "${TARGETS[@]}"; do
    case $t in
        capture) bin=FuzzCapture; maxlen=65536 ;;
        streams) bin=FuzzStreams; maxlen=32768 ;;
        tls) bin=FuzzTLS; maxlen=32768 ;;
        app) bin=FuzzApp; maxlen=16384 ;;
        *) echo "unknown target $t (capture|streams|tls|app)" >&2; exit 2 ;;
    esac
    mkdir -p "$WORK/$t"
    echo "== $t: $bin, runs=$RUNS, max_total_time=${SECONDS_PER_TARGET}s, log $WORK/$t.log"
    start=$(date +%s)
    set +e
    SWIFT_BACKTRACE=enable=no ASAN_OPTIONS=detect_leaks=0:allocator_may_return_null=1 nice -n 15 "$SCRATCH/$CONFIG/$bin" \
        -runs="$RUNS" -max_total_time="$SECONDS_PER_TARGET" -max_len=$maxlen -timeout=10 \
        -rss_limit_mb=1024 -malloc_limit_mb=1024 -print_final_stats=1 \
        -artifact_prefix="$ROOT/Fuzz/artifacts/$t-" "$WORK/$t" "$ROOT/Fuzz/corpus/$t" >"$WORK/$t.log" 2>&1
    rc=$?
    set -e
    end=$(date +%s)
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$WORK/$t.log" | grep -o '[0-9]*$' || echo "?")
    echo "== $t: exit $rc, $execs executions in $((end - start)) s"
    grep -E "^(==[0-9]+==ERROR|SUMMARY|artifact_prefix|Test unit written)" "$WORK/$t.log" || true
    [ $rc -ne 0 ] && status=1
    if [ "${MERGE:-0}" = 1 ]; then
        "$SCRATCH/$CONFIG/$bin" -merge=1 -max_len=$maxlen "$ROOT/Fuzz/corpus/$t" "$WORK/$t" >/dev/null 2>&1 || true
    fi
done
exit $status
