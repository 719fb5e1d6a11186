#!/usr/bin/env bash
# wstrace benchmark: generates realistic captures (once, deterministic) and measures in one run,
# alternating the tools, the median of RUNS runs (5 by default; each run's time is printed
# after the table rows, in an HTML comment) of:
#   floor    a bare libpcap pcap_next_ex loop (wsbench pcap-loop)
#   summary  wstrace read --summary                       (full dissection, summaries only)
#   ndjson   wstrace read --format ndjson --payloads none (every event)
#   tshark   tshark -Y websocket -T fields ...            (Debian's tshark)
#   summary1, ndjson1   the same on one thread (--threads 1): "vs 1 thread" is the engine's gain
#            (the default runs one flow worker per core, up to 16, from 16 MiB on; THREADS=N sets it)
# and prints MB/s, packets/s, peak RSS (/usr/bin/time) and the ratios, as a Markdown table.
# The deflate variant negotiates no context takeover (each message compressed afresh); the
# takeover variant keeps one compressor per direction, as browsers and most servers negotiate.
# The wss variants (tls13: TLS_AES_128_GCM_SHA256, tls12: TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256) are
# read with the generator's key log (tshark with -o tls.keylog_file), and --summary is also run
# on the same traffic in cleartext (the generator's twin): "wss vs cleartext".
# The churn variant is connection churn: the same size of plain traffic in connections of one to
# three exchanges (about ten times as many connections), where the cost of each connection's
# handshake, summary, diagnosis and teardown shows.
# It also checks that wstrace's frame, message and connection counts equal the generator's.
# Each measurement starts with the capture read once into the page cache (every tool alike).
# wstrace and the floor's wsbench are release builds with the Swift runtime inside
# (--static-swift-stdlib, scratch path .build-static: the binary scripts/many-cores.sh carries to
# a machine without Swift); STATIC=0 measures the default release build (.build) instead, which
# loads the runtime from a dozen shared libraries: about 7 ms more per run, 6 MiB more RSS.
#
# usage: scripts/bench.sh [SIZES_MIB (default "100 1024")] ; RUNS=5 DIR=/tmp/wstrace-bench TSHARK=1 STATIC=1
set -euo pipefail
cd "$(dirname "$0")/.."
[ -n "${EPOCHREALTIME:-}" ] || { echo "bench.sh needs bash 5 or later (EPOCHREALTIME)" >&2; exit 1; }
SIZES=${1:-"100 1024"}
RUNS=${RUNS:-5}
DIR=${DIR:-/tmp/wstrace-bench}
TSHARK=${TSHARK:-1}
mkdir -p "$DIR"
build=(-c release)
[ "${STATIC:-1}" = 1 ] && build+=(--static-swift-stdlib --scratch-path .build-static)
swift build "${build[@]}" --product wstrace >/dev/null
swift build "${build[@]}" --product wsbench >/dev/null
BIN=$(swift build "${build[@]}" --show-bin-path)

measure() {  # prints "seconds maxrss_kb" of a command, its output discarded
  # Wall clock around /usr/bin/time from bash's own microsecond clock (no process started for
  # it; time's %e has 10 ms steps, 5% of a 0.2 s run). /usr/bin/time itself is counted.
  # (Its digits only: the locale may spell the decimal point as a comma.)
  local start end
  start=${EPOCHREALTIME//[!0-9]/}
  /usr/bin/time -o "$DIR/time.txt" -f "%M" "$@" >/dev/null 2>/dev/null || true
  end=${EPOCHREALTIME//[!0-9]/}
  printf '%d.%06d %s\n' $(((end - start) / 1000000)) $(((end - start) % 1000000)) "$(tail -1 "$DIR/time.txt")"
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

THREADS=${THREADS:-}
threads=(); [ -n "$THREADS" ] && threads=(--threads "$THREADS")
echo "| capture | tool | median s | MB/s | packets/s | peak RSS MiB | time vs floor | vs tshark | vs 1 thread | wss vs cleartext |"
echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"
for size in $SIZES; do
  for variant in plain deflate takeover tls13 tls12 churn; do
    [ "$variant" != plain ] && [ "$size" != "${SIZES%% *}" ] && continue  # other variants at the first size only
    f="$DIR/ws-$size-$variant.pcap"
    flag=""; [ "$variant" != plain ] && flag="--$variant"
    [ "$variant" = takeover ] && flag="--deflate --takeover"
    [ "$variant" = churn ] && flag="--exchanges 1-3"
    keys=(); tkeys=(); twin=""
    if [ "$variant" = tls13 ] || [ "$variant" = tls12 ]; then
      keys=(--keylog "${f%.pcap}.keys"); tkeys=(-o "tls.keylog_file:${f%.pcap}.keys"); twin="${f%.pcap}-cleartext.pcap"
    fi
    if [ ! -s "$f" ]; then "$BIN/wsbench" generate "$f" "$size" $flag > "$f.counts.json"; fi
    bytes=$(stat -c %s "$f")
    packets=$(python3 -c "import json;print(json.load(open('$f.counts.json'))['packets'])")
    # Correctness at speed: counts from --summary and NDJSON equal the generator's.
    python3 - "$f" "$BIN/wstrace" "${keys[@]}" <<'PY'
import json, subprocess, sys
f, wstrace, keys = sys.argv[1], sys.argv[2], sys.argv[3:]
want = json.load(open(f + ".counts.json"))
summary = json.loads(subprocess.run([wstrace, "read", f, "--summary", "--format", "json"] + keys, capture_output=True, check=True).stdout)["capture"]
last = subprocess.run(f"'{wstrace}' read '{f}' {' '.join(keys)} --format ndjson --payloads none | tail -n 1", shell=True, capture_output=True, check=True).stdout
nd = json.loads(last)
for got, name in ((summary, "summary"), (nd, "ndjson")):
    for key, gkey in (("frames", "frames"), ("messages", "messages"), ("connections", "websocket_connections"), ("packets", "packets")):
        if want[key] != got[gkey]:
            sys.exit(f"{name}: {gkey} {got[gkey]} != generator {want[key]}")
print(f"<!-- counts ok: {want} -->")
PY
    declare -A T R
    tools="floor summary summary1 cleartext ndjson ndjson1 tshark"
    for tool in $tools; do T[$tool]=""; R[$tool]=""; done
    for run in $(seq "$RUNS"); do
      for tool in $tools; do
        # Every tool starts from the page cache: on a machine whose cache does not hold the
        # captures beside tshark's memory (2 GiB on the 1 GiB capture), the run after tshark's
        # read from disk, and the floor measured first paid for it.
        cat "$f" ${twin:+"$twin"} > /dev/null
        case $tool in
          floor) m=$(measure "$BIN/wsbench" pcap-loop "$f") ;;
          summary) m=$(measure "$BIN/wstrace" read "$f" "${keys[@]}" "${threads[@]}" --summary) ;;
          summary1) m=$(measure "$BIN/wstrace" read "$f" "${keys[@]}" --threads 1 --summary) ;;
          cleartext) [ -n "$twin" ] || continue
                  m=$(measure "$BIN/wstrace" read "$twin" "${threads[@]}" --summary) ;;
          ndjson) m=$(measure "$BIN/wstrace" read "$f" "${keys[@]}" "${threads[@]}" --format ndjson --payloads none) ;;
          ndjson1) m=$(measure "$BIN/wstrace" read "$f" "${keys[@]}" --threads 1 --format ndjson --payloads none) ;;
          tshark) [ "$TSHARK" = 1 ] || continue
                  m=$(measure tshark -r "$f" "${tkeys[@]}" -Y websocket -T fields -e frame.number -e websocket.opcode -e websocket.payload_length) ;;
        esac
        T[$tool]+="${m% *} "; R[$tool]+="${m#* } "
      done
    done
    floor=$(echo ${T[floor]} | tr ' ' '\n' | median)
    tshark_s=$( [ "$TSHARK" = 1 ] && echo ${T[tshark]} | tr ' ' '\n' | median || echo 0)
    clear_s=$( [ -n "$twin" ] && echo ${T[cleartext]} | tr ' ' '\n' | median || echo 0)
    one_s=$( [ -n "${T[summary1]}" ] && echo ${T[summary1]} | tr ' ' '\n' | median || echo 0)
    one_n=$( [ -n "${T[ndjson1]}" ] && echo ${T[ndjson1]} | tr ' ' '\n' | median || echo 0)
    for tool in $tools; do
      [ -z "${T[$tool]}" ] && continue
      s=$(echo ${T[$tool]} | tr ' ' '\n' | median)
      rss=$(echo ${R[$tool]} | tr ' ' '\n' | sort -n | tail -1)
      python3 -c "
s=$s; b=$bytes; p=$packets; floor=$floor; ts=$tshark_s; cs=$clear_s; o1=$one_s; n1=$one_n
vs = f'{s/floor:.2f}x' if floor>0 else '-'
nd = f'{ts/s:.1f}x faster' if '$tool' in ('ndjson','summary','ndjson1','summary1') and ts>0 else ''
one = {'summary': o1, 'ndjson': n1}.get('$tool', 0)
th = f'{s/one:.2f}x the time' if one>0 else ''
wc = f'{s/cs:.2f}x' if '$tool'=='summary' and cs>0 else ''
tool = {'cleartext': 'summary (cleartext twin)', 'summary1': 'summary --threads 1', 'ndjson1': 'ndjson --threads 1'}.get('$tool', '$tool')
print(f'| ws-$size-$variant ({b/1048576:.0f} MiB, {p} pkts) | {tool} | {s:.3f} | {b/1e6/max(s,1e-9):.0f} | {p/max(s,1e-9):,.0f} | {$rss/1024:.1f} | {vs} | {nd} | {th} | {wc} |')"
    done
    # Each run's time, in the order run: how far the median stands from the others.
    for tool in $tools; do
      [ -n "${T[$tool]}" ] && echo "<!-- ws-$size-$variant $tool runs (s): ${T[$tool]}-->"
    done
  done
done
