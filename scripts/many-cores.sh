#!/usr/bin/env bash
# Issue 16's many-core measurement as one prepared script, for a machine without a Swift
# toolchain (shared/NOTES.md, "Many cores"). Two steps:
#
#   here:   scripts/many-cores.sh bundle
#           builds wstrace and wsbench with --static-swift-stdlib (scratch path .build-static),
#           strips them and puts them, with every shared library `ldd` lists and the loader, in
#           .build-static/bundle, and that folder in .build-static/bundle.tgz (about 20 MiB).
#           Carry the .tgz (ignored by git).
#   there:  scripts/many-cores.sh run [SIZE_MIB (default 4096)] [BUNDLE (default .build-static/bundle,
#           else .build-static/bundle.tgz unpacked into $WORK)]
#           generates the benchmark's kind of capture (deterministic) in $WORK (/tmp/wstrace-many),
#           then times, alternating, the median of RUNS (3) runs of: the libpcap floor, the
#           engine's reader alone (one thread, and the chunked reading: the other threads copy
#           chunks ahead), `--summary` on THREADS ("1 2 4 8 16") threads and NDJSON
#           (`--payloads none`) on 2 and on the most threads; prints a Markdown table with peak
#           RSS and the issue's three ratios. Needs bash, awk, tar, gzip and coreutils only: the
#           timing and peak RSS come from `wsbench time` (as /usr/bin/time's %e and %M; the RSS
#           is never below wsbench's own, about 14 MiB), and every binary runs through the
#           bundled loader, so the host's own libraries do not matter. On this project's device
#           (issue 16): run(command: "scripts/many-cores.sh run | tee $OUT/many-cores.md",
#           carry: [".build-static/bundle.tgz"]); about 4 minutes after the machine starts.
#
# Locally, `scripts/many-cores.sh run 100` checks the script itself (2 cores say nothing of 16).
set -euo pipefail
cd "$(dirname "$0")/.."

bundle() {
    local flags=(-c release --static-swift-stdlib --scratch-path .build-static)
    swift build "${flags[@]}" --product wstrace
    swift build "${flags[@]}" --product wsbench
    local bin out=.build-static/bundle
    bin=$(swift build "${flags[@]}" --show-bin-path)
    rm -rf "$out"
    mkdir -p "$out"
    for b in wstrace wsbench; do
        cp "$bin/$b" "$out/"
        strip "$out/$b"
    done
    # Every library either binary loads (libpcap, libz, libisal, libstdc++, libc, ...) and the loader.
    for b in wstrace wsbench; do
        ldd "$out/$b" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\/.*ld-linux/ { print $1 }'
    done | sort -u | while read -r lib; do cp -L "$lib" "$out/"; done
    [ -f "$out/ld-linux-x86-64.so.2" ] || { echo "many-cores: no ld-linux-x86-64.so.2 in $out" >&2; exit 1; }
    # The bundle must run without the build's libraries: try it through its own loader.
    "$out/ld-linux-x86-64.so.2" --library-path "$out" "$out/wstrace" --version >/dev/null
    tar czf .build-static/bundle.tgz -C .build-static bundle
    du -sh "$out" .build-static/bundle.tgz
}

run() {
    local size=${1:-4096}
    local runs=${RUNS:-3} threads=${THREADS:-"1 2 4 8 16"} work=${WORK:-/tmp/wstrace-many}
    mkdir -p "$work"
    local dir=${2:-.build-static/bundle}
    if [ ! -d "$dir" ] && [ -z "${2:-}" ] && [ -f .build-static/bundle.tgz ]; then
        tar xzf .build-static/bundle.tgz -C "$work"
        dir=$work/bundle
    fi
    dir=$(cd "$dir" && pwd)
    local loader=("$dir/ld-linux-x86-64.so.2" --library-path "$dir")
    local f="$work/ws-$size-plain.pcap"
    if [ ! -s "$f" ]; then
        "${loader[@]}" "$dir/wsbench" generate "$f" "$size" > "$f.counts.json"
    fi
    local most=${threads##* }
    declare -A commands
    local order=(floor reader readerchunks)
    commands[floor]="$dir/wsbench pcap-loop $f"
    commands[reader]="$dir/wsbench reader $f $most"
    # The chunked reading as --summary does it on many workers (512 KiB chunks): the others
    # copy ahead, one thread sequences.
    commands[readerchunks]="$dir/wsbench reader $f $most $((most > 1 ? most - 1 : 1)) 512"
    for n in $threads; do
        order+=("summary$n")
        commands[summary$n]="$dir/wstrace read $f --summary --threads $n"
    done
    for n in 2 "$most"; do
        [ -n "${commands[ndjson$n]:-}" ] && continue
        order+=("ndjson$n")
        commands[ndjson$n]="$dir/wstrace read $f --format ndjson --payloads none --threads $n"
    done
    echo "<!-- $(nproc) cores, $(uname -m), $(stat -c %s "$f") bytes: $(cat "$f.counts.json") -->"
    declare -A seconds rss
    for _ in $(seq "$runs"); do
        for key in "${order[@]}"; do
            cat "$f" > /dev/null  # every run starts from the page cache
            # shellcheck disable=SC2086
            read -r s m code < <("${loader[@]}" "$dir/wsbench" time "${loader[@]}" ${commands[$key]})
            [ "$code" = 0 ] || echo "<!-- $key exited $code -->"
            seconds[$key]+="$s "
            rss[$key]+="$m "
        done
    done
    # What the sequencing thread of the chunked reading spent (the reading's serial part), and
    # how many chunks it walked again.
    # shellcheck disable=SC2086
    echo "<!-- chunked reader: $("${loader[@]}" ${commands[readerchunks]}) -->"
    median() { tr ' ' '\n' | grep . | sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
    declare -A med peak
    for key in "${order[@]}"; do
        med[$key]=$(echo "${seconds[$key]}" | median)
        peak[$key]=$(echo "${rss[$key]}" | tr ' ' '\n' | grep . | sort -g | tail -1)
    done
    echo "| run | median s | peak RSS MiB | time vs floor | vs 1 thread |"
    echo "|---|---:|---:|---:|---:|"
    for key in "${order[@]}"; do
        local one=${med[summary1]:-0}
        [[ $key == ndjson* ]] && one=${med[ndjson2]:-0}
        [[ $key == summary1 || $key == ndjson2 ]] && one=0  # the baseline itself
        awk -v k="$key" -v s="${med[$key]}" -v m="${peak[$key]}" -v fl="${med[floor]}" -v one="$one" -v kind="${key%%[0-9]*}" 'BEGIN {
            vs = (kind == "summary" && one > 0 && s > 0) ? sprintf("%.2fx faster", one / s) : (kind == "ndjson" && one > 0 && s > 0) ? sprintf("%.2fx faster than 2", one / s) : ""
            printf "| %s | %.2f | %.1f | %.2fx | %s |\n", k, s, m / 1024, s / fl, vs }'
    done
    awk -v s="${med[summary$most]}" -v fl="${med[floor]}" -v one="${med[summary1]:-0}" -v n2="${med[ndjson2]}" -v nm="${med[ndjson$most]}" -v most="$most" 'BEGIN {
        printf "\nIssue 16 on %s threads: --summary %.2f s against the floor'\''s %.2f s (%s); %.2fx faster than 1 thread (target 8x: %s); NDJSON %.2fx faster than on 2 threads (target 4x: %s)\n",
            most, s, fl, (s < fl) ? "faster: met" : "slower: not met", one / s, (one / s >= 8) ? "met" : "not met", n2 / nm, (n2 / nm >= 4) ? "met" : "not met" }'
}

case ${1:-} in
    bundle) bundle ;;
    run) shift; run "$@" ;;
    *) echo "usage: scripts/many-cores.sh bundle | run [SIZE_MIB] [BUNDLE]" >&2; exit 64 ;;
esac
