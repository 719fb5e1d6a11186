#!/usr/bin/env bash
# Regenerates every fixture owned by gen/basic (run as root, idempotent).
#   Fixtures/seed-walkthrough.pcap, Fixtures/linktypes/*, Fixtures/logs/<those>.json
# Real peers: PyPI websockets (server) + websocket-client (client) on loopback,
# TCP ports 18000-18999 only; every capture has a port filter.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
FX="$(cd "$HERE/../.." && pwd)"
LT="$FX/linktypes"
LOGS="$FX/logs"
mkdir -p "$LT" "$LOGS"
SESSION="python3 $HERE/session.py"

# capture OUT PORT "CAPTURE-CMD-PREFIX" "FILTER" [session args...]
capture() {
  local out=$1 port=$2 cmd=$3 filter=$4 rel name; shift 4
  rel="${out#"$FX"/}"; name="$(basename "${out%.*}")"
  rm -f "$out"
  if [[ $cmd == dumpcap* ]]; then
    $cmd -w "$out" -f "$filter" >/dev/null 2>&1 &
  else
    $cmd -w "$out" "$filter" >/dev/null 2>&1 &
  fi
  local pid=$!
  trap 'kill -INT '"$pid"' 2>/dev/null || true' EXIT   # never leave a capture running
  sleep 1   # dumpcap needs a bit longer than tcpdump to be ready
  $SESSION --port "$port" --fixture "$rel" --log "$LOGS/$name.json" "$@"
  sleep 0.5
  kill -INT "$pid"; wait "$pid" || true
  trap - EXIT
  chmod 644 "$out"
  echo "captured $rel: $(tshark -r "$out" 2>/dev/null | wc -l) packets"
}

TD="tcpdump -Z root -U --immediate-mode"

# The seed must end in a clean FIN / ACK / FIN / ACK; retry a couple of times if
# scheduling ever merges the middle ACK+FIN.
for attempt in 1 2 3; do
  capture "$FX/seed-walkthrough.pcap" 18000 "$TD -i lo" "tcp port 18000"
  if python3 "$HERE/verify.py" --seed "$FX/seed-walkthrough.pcap"; then break; fi
  [[ $attempt == 3 ]] && { echo "seed teardown check failed 3 times" >&2; exit 1; }
  sleep 1
done
capture "$LT/sll.pcap"                18001 "$TD -i any -y LINUX_SLL"             "tcp port 18001"
capture "$LT/sll2.pcap"               18002 "$TD -i any -y LINUX_SLL2"            "tcp port 18002"
capture "$LT/dumpcap.pcapng"          18003 "dumpcap -q -i lo"                    "tcp port 18003"
capture "$LT/ipv6.pcap"               18004 "$TD -i lo"                           "tcp port 18004" --host ::1
capture "$LT/snaplen96.pcap"          18005 "$TD -i lo -s 96"                     "tcp port 18005"
capture "$LT/nanosecond.pcap"         18006 "$TD -i lo --time-stamp-precision=nano" "tcp port 18006"
capture "$LT/mixed-nontcp.pcap"       18007 "$TD -i lo" "tcp port 18007 or icmp or udp port 18507" --udp-port 18507 --icmp

# One pcapng of two interfaces with different link types, as dumpcap writes it when asked for
# several (Wireshark's multi-interface capture): lo (EN10MB) with one session, any (LINUX_SLL)
# with another, run at the same time so that their packets interleave. The two peers' logs
# make one log.
two_interfaces() {
  local out="$LT/dumpcap-two-interfaces.pcapng" rel="linktypes/dumpcap-two-interfaces.pcapng"
  rm -f "$out"
  dumpcap -q -i lo -f "tcp port 18008" -i any -f "tcp port 18009" -w "$out" >/dev/null 2>&1 &
  local pid=$!
  trap 'kill -INT '"$pid"' 2>/dev/null || true' EXIT
  sleep 2
  $SESSION --port 18008 --fixture "$rel" --log "$LOGS/dumpcap-two-interfaces.a.json" &
  local a=$!
  $SESSION --port 18009 --fixture "$rel" --log "$LOGS/dumpcap-two-interfaces.b.json"
  wait "$a"
  sleep 0.5
  kill -INT "$pid"; wait "$pid" || true
  trap - EXIT
  chmod 644 "$out"
  python3 - "$LOGS/dumpcap-two-interfaces" "$rel" <<'PY'
import json, os, sys
base, rel = sys.argv[1], sys.argv[2]
parts = [json.load(open(f"{base}.{k}.json")) for k in "ab"]
json.dump({"fixture": rel, "connections": [c for p in parts for c in p["connections"]]},
          open(base + ".json", "w"), indent=2)
open(base + ".json", "a").write("\n")
for k in "ab":
    os.remove(f"{base}.{k}.json")
PY
  echo "captured $rel: $(tshark -r "$out" 2>/dev/null | wc -l) packets"
}
two_interfaces

# Rewritten variants + hand-made damaged files (no capturing).
python3 "$HERE/rewrite.py" "$FX"

python3 "$HERE/verify.py" "$FX"
