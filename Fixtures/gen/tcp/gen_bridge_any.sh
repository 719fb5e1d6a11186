#!/usr/bin/env bash
# Makes Fixtures/tcp/tcp-captured-twice.pcap and Fixtures/logs/tcp-captured-twice.json:
# a REAL capture of the echo scenario (ws_server.py / ws_client.py) in which every
# packet appears twice, because the capture sees it on two interfaces.
#
# Topology (all private network namespaces created here, deleted on exit):
#
#   ns A (server 10.77.0.1, vA) ==veth== bA [ bridge br0 in ns BR ] bB ==veth== vB (client 10.77.0.2, ns B)
#
# `tcpdump -i any` runs in ns BR, the namespace that holds the bridge and both of
# its ports.  A frame A->B is seen on the ingress port bA ("In") and again on the
# egress port bB ("Out"); the bridge device br0 itself sees nothing of forwarded
# unicast traffic.  So each packet is captured exactly twice, the two copies are
# byte-identical at layer 3 (same IPv4 ID, same TCP checksum), differ only in the
# SLL2 header (interface index, packet type) and are microseconds apart.
# Link type: Linux cooked capture v2 (SLL2), the default of tcpdump 4.99 for -i any.
#
# veths: MTU 1500, tso/gso/gro/tx/rx checksum offload/sg off (as in generate.sh), so
# the segments are real 1448-byte segments with correct checksums.  br0: STP off,
# forward delay 0.  IPv6 disabled in all three namespaces.
#
# Run as root on Linux: sudo bash Fixtures/gen/tcp/gen_bridge_any.sh   (about 5 s)
# Needs iproute2, ethtool, tcpdump, tshark, python3 with websockets and
# websocket-client.  Every wait is bounded.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../../.." && pwd)"
OUT="$ROOT/Fixtures/tcp"
LOGS="$ROOT/Fixtures/logs"
NAME=tcp-captured-twice
PY="${PYTHON:-python3}"
PORT=20080
TAG="wsbr$$"
NS_A="${TAG}A"; NS_B="${TAG}B"; NS_BR="${TAG}BR"
WORK="$(mktemp -d /tmp/wsbridge.XXXXXX)"

[ "$(id -u)" = 0 ] || { echo "run as root" >&2; exit 1; }
mkdir -p "$OUT" "$LOGS"

declare -a BGPIDS=()
cleanup() {
  set +e
  for p in "${BGPIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null; done
  for ns in "$NS_A" "$NS_B" "$NS_BR"; do
    ip netns list | grep -qw "^$ns" && ip netns del "$ns"   # removes veths and br0 with it
  done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

wait_file_line() { # file pattern seconds
  local i
  for ((i = 0; i < $3 * 10; i++)); do
    grep -q "$2" "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "timeout waiting for '$2' in $1" >&2; return 1
}

ifsetup() { # ns if [addr]
  local ns=$1 ifc=$2 addr=${3:-}
  ip netns exec "$ns" ethtool -K "$ifc" tso off gso off gro off tx off rx off sg off >/dev/null
  ip -n "$ns" link set "$ifc" mtu 1500 up
  [ -n "$addr" ] && ip -n "$ns" addr add "$addr" dev "$ifc"
  return 0
}

# ---------------------------------------------------------------- namespaces + bridge
for ns in "$NS_A" "$NS_B" "$NS_BR"; do
  ip netns add "$ns"
  ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
  ip -n "$ns" link set lo up
done
ip -n "$NS_BR" link add br0 type bridge stp_state 0 forward_delay 0
ip link add vA netns "$NS_A" type veth peer name bA netns "$NS_BR"
ip link add vB netns "$NS_B" type veth peer name bB netns "$NS_BR"
ifsetup "$NS_BR" bA; ifsetup "$NS_BR" bB
ip -n "$NS_BR" link set bA master br0
ip -n "$NS_BR" link set bB master br0
ip netns exec "$NS_BR" ethtool -K br0 tso off gso off gro off tx off sg off >/dev/null 2>&1 || true
ip -n "$NS_BR" link set br0 mtu 1500 up
ifsetup "$NS_A" vA 10.77.0.1/24
ifsetup "$NS_B" vB 10.77.0.2/24
# bounded wait until both bridge ports are in forwarding state
fwd() { [ "$(bridge -n "$NS_BR" link show | grep -c 'state forwarding')" = 2 ]; }
for ((i = 0; i < 50; i++)); do fwd && break; sleep 0.1; done
fwd || { bridge -n "$NS_BR" link show >&2; echo "bridge ports not forwarding" >&2; exit 1; }

# ---------------------------------------------------------------- capture
# -s 4096 -B 65536: with -s 0 and the default 2 MB buffer, tcpdump's TPACKET_V3 ring
# on "any" (256 KiB blocks for snaplen 262144) dropped 26 of 128 packets in a burst
# on a busy host ("packets dropped by kernel"); 4096 still captures whole frames
# (1500 + 20 B SLL2 header).  A run that drops anything or fails check_twice.py is
# retried (3 tries); the outputs are written only after a run passes.
capture_once() { # dir
  local d=$1 td_pid srv_pid
  mkdir -p "$d"
  ip netns exec "$NS_BR" timeout 60 tcpdump -i any -s 4096 -B 65536 -U --immediate-mode -Z root \
    -w "$d/cap.pcap" "tcp port $PORT" 2>"$d/tcpdump.err" &
  td_pid=$!; BGPIDS+=("$td_pid")
  wait_file_line "$d/tcpdump.err" "listening on" 10
  sleep 0.5
  ip netns exec "$NS_A" timeout 45 "$PY" "$HERE/ws_server.py" --host 10.77.0.1 --port $PORT \
    --log "$d/server.jsonl" --timeout 40 >"$d/server.out" 2>&1 &
  srv_pid=$!; BGPIDS+=("$srv_pid")
  wait_file_line "$d/server.out" "server ready" 10
  ip netns exec "$NS_B" timeout 40 "$PY" "$HERE/ws_client.py" --scenario echo \
    --url "ws://10.77.0.1:$PORT/tcp" --log "$d/client.jsonl"
  wait "$srv_pid" || true
  sleep 0.5
  kill -INT "$td_pid"; wait "$td_pid" || true
  cat "$d/tcpdump.err" >&2
  "$PY" "$HERE/merge_log.py" --fixture "$NAME.pcap" --out "$d/log.json" \
    --note "REAL capture, echo scenario, peers in two namespaces joined by a Linux bridge (br0) in a third; tcpdump -i any in the bridge's namespace sees every packet on the ingress bridge port and again on the egress port, so the file holds each packet twice (SLL2 link type; the copies differ only in interface index and packet type). What the peers sent is listed once." \
    "$d/client.jsonl" "$d/server.jsonl"
  grep -q "^0 packets dropped by kernel" "$d/tcpdump.err" || { echo "tcpdump dropped packets" >&2; return 1; }
  "$PY" "$HERE/check_twice.py" --copies 2 "$d/cap.pcap" "$d/log.json"
}

ok=""
for try in 1 2 3; do
  echo "== $NAME: try $try"
  if capture_once "$WORK/try$try"; then ok="$WORK/try$try"; break; fi
done
[ -n "$ok" ] || { echo "no complete capture in 3 tries; outputs left unchanged" >&2; exit 1; }
cp "$ok/cap.pcap" "$OUT/$NAME.pcap"
cp "$ok/log.json" "$LOGS/tcp-${NAME#tcp-}.json"

# ---------------------------------------------------------------- report
f="$OUT/$NAME.pcap"
echo "== $f: $(stat -c %s "$f") bytes, $(tshark -r "$f" 2>/dev/null | wc -l) packets"
echo "packets per (sll.ifindex, sll.pkttype; 3 = other host i.e. In, 4 = outgoing):"
tshark -r "$f" -T fields -e sll.ifindex -e sll.pkttype 2>/dev/null | sort | uniq -c
