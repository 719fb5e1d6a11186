#!/usr/bin/env bash
# Regenerates the TCP-anomaly fixtures of wstrace:
#   Fixtures/tcp/*.pcap  and  Fixtures/logs/tcp-*.json
# Run as root on Linux.  Needs: iproute2, ethtool, tcpdump, tshark, python3 with
# websockets (server), websocket-client (client) and scapy (rewrites).
#
# Real captures are made between private network namespaces created here
# (server 10.77.0.1 in ns A, client 10.77.0.2 in ns B, port 20080); nothing
# leaves those namespaces.  Impairments (loss/reorder/duplicate) are applied by
# wsrelay.py, a userspace AF_PACKET relay in a middle namespace M, because the
# kernel this was made on has no sch_netem ("tc qdisc ... netem" -> "Specified
# qdisc kind is unknown").  All namespaces are deleted on exit.
#
# Idempotent: every output is rewritten from scratch.  netem-style randomness
# comes from a seeded PRNG, but timing is real, so packet counts can vary a
# little between runs; stats.md is rewritten with the tshark counts of this run.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../../.." && pwd)"
OUT="$ROOT/Fixtures/tcp"
LOGS="$ROOT/Fixtures/logs"
PY="${PYTHON:-python3}"
PORT=20080
TAG="wst$$"
NS_A="${TAG}A"; NS_B="${TAG}B"; NS_M="${TAG}M"
WORK="$(mktemp -d /tmp/wstcp.XXXXXX)"
mkdir -p "$OUT" "$LOGS"

[ "$(id -u)" = 0 ] || { echo "run as root" >&2; exit 1; }

declare -a BGPIDS=()

cleanup() {
  set +e
  for p in "${BGPIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null; done
  for ns in "$NS_A" "$NS_B" "$NS_M"; do
    ip netns list | grep -qw "^$ns" && ip netns del "$ns"
  done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ONLY="name1 name2 ... rewrite stats" restricts the run (debugging aid)
want() { [ -z "${ONLY:-}" ] || [[ " $ONLY " == *" $1 "* ]]; }

ifsetup() { # ns if addr
  local ns=$1 ifc=$2 addr=${3:-}
  ip netns exec "$ns" ethtool -K "$ifc" tso off gso off gro off tx off rx off sg off >/dev/null
  ip -n "$ns" link set "$ifc" mtu 1500 up
  [ -n "$addr" ] && ip -n "$ns" addr add "$addr" dev "$ifc"
  return 0
}

ns_up() { # mode: direct | relay
  local mode=$1 ns
  for ns in "$NS_A" "$NS_B"; do
    ip netns add "$ns"
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
    # TFO: 1 client, 2 server, 4 client w/o cookie, 0x200 server w/o cookie, 0x400 all listeners
    ip netns exec "$ns" sysctl -qw net.ipv4.tcp_fastopen=0x607
    ip -n "$ns" link set lo up
  done
  if [ "$mode" = direct ]; then
    ip link add vA netns "$NS_A" type veth peer name vB netns "$NS_B"
  else
    ip netns add "$NS_M"
    ip netns exec "$NS_M" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
    ip link add vA netns "$NS_A" type veth peer name mA netns "$NS_M"
    ip link add vB netns "$NS_B" type veth peer name mB netns "$NS_M"
    ifsetup "$NS_M" mA; ifsetup "$NS_M" mB
  fi
  ifsetup "$NS_A" vA 10.77.0.1/24
  ifsetup "$NS_B" vB 10.77.0.2/24
}

ns_down() {
  local ns
  for ns in "$NS_A" "$NS_B" "$NS_M"; do
    ip netns list | grep -qw "^$ns" && ip netns del "$ns"
  done
  return 0
}

wait_file_line() { # file pattern seconds
  local i
  for ((i = 0; i < $3 * 10; i++)); do
    grep -q "$2" "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "timeout waiting for '$2' in $1" >&2; return 1
}

# capture NAME MODE SCENARIO [relay args...]
capture() {
  local name=$1 mode=$2 scenario=$3; shift 3
  want "$name" || return 0
  local d="$WORK/$name"; mkdir -p "$d"
  echo "== $name ($mode, $scenario${*:+, relay: $*})"
  ns_up "$mode"
  local relay_pid=""
  if [ "$mode" = relay ]; then
    ip netns exec "$NS_M" "$PY" "$HERE/wsrelay.py" --if-a mA --if-b mB --duration 60 \
      --stats "$d/relay.json" "$@" 2>"$d/relay.err" &
    relay_pid=$!; BGPIDS+=("$relay_pid")
    wait_file_line "$d/relay.err" "relay ready" 10
  fi
  ip netns exec "$NS_B" tcpdump -i vB -s 0 -U --immediate-mode -Z root -w "$d/cap.pcap" \
    "tcp port $PORT" 2>"$d/tcpdump.err" &
  local td_pid=$!; BGPIDS+=("$td_pid")
  wait_file_line "$d/tcpdump.err" "listening on" 10
  sleep 0.5
  ip netns exec "$NS_A" timeout 45 "$PY" "$HERE/ws_server.py" --host 10.77.0.1 --port $PORT \
    --log "$d/server.jsonl" --timeout 40 >"$d/server.out" 2>&1 &
  local srv_pid=$!; BGPIDS+=("$srv_pid")
  wait_file_line "$d/server.out" "server ready" 10
  ip netns exec "$NS_B" timeout 40 "$PY" "$HERE/ws_client.py" --scenario "$scenario" \
    --url "ws://10.77.0.1:$PORT/tcp" --log "$d/client.jsonl"
  wait "$srv_pid" || true
  sleep 0.5
  kill -INT "$td_pid"; wait "$td_pid" || true
  if [ -n "$relay_pid" ]; then kill -TERM "$relay_pid"; wait "$relay_pid" || true; cat "$d/relay.err"; fi
  ns_down
  cp "$d/cap.pcap" "$OUT/$name.pcap"
  "$PY" "$HERE/merge_log.py" --fixture "$name.pcap" --out "$(logname "$name")" \
    "$d/client.jsonl" "$d/server.jsonl"
}

# log file of a fixture: tcp-<name without a leading "tcp-">.json
logname() { echo "$LOGS/tcp-${1#tcp-}.json"; }

# count FILE FILTER
count() { tshark -r "$1" -Y "$2" 2>/dev/null | wc -l | tr -d ' '; }

# capture_checked NAME "FILTER>=MIN;FILTER>=MIN..." MODE SCENARIO relay-args
# Retries with other PRNG seeds (bounded) until every tshark filter matches at
# least MIN packets.
capture_checked() {
  local name=$1 checks=$2; shift 2
  want "$name" || return 0
  local mode=$1 scenario=$2; shift 2
  local seed ok chk f min n
  for seed in 1 2 3 4 5 6; do
    capture "$name" "$mode" "$scenario" --seed "$seed" "$@"
    ok=1
    IFS=';' read -ra chk <<<"$checks"
    for c in "${chk[@]}"; do
      f=${c%>=*}; min=${c##*>=}
      n=$(count "$OUT/$name.pcap" "$f")
      echo "   $name seed=$seed: $n packets match '$f' (want >= $min)"
      [ "$n" -ge "$min" ] || ok=0
    done
    [ $ok = 1 ] && return 0
  done
  echo "WARNING: $name: checks '$checks' not all met after 6 seeds; keeping last run" >&2
}

# ---------------------------------------------------------------- real captures
capture netem-clean direct echo
capture tcp-small-base direct small
capture tcp-syn-data direct tfo
capture tcp-zero-window-keepalive direct slowreader
capture_checked netem-loss \
  'tcp.analysis.retransmission || tcp.analysis.fast_retransmission>=2;tcp.analysis.duplicate_ack>=1;tcp.analysis.lost_segment>=1' \
  relay echo --impair a2b --loss 0.10
capture_checked netem-reorder 'tcp.analysis.out_of_order>=2' \
  relay echo --impair a2b --delay 10 --reorder 0.25 --reorder-corr 0.5
capture_checked netem-duplicate 'tcp.analysis.retransmission || tcp.analysis.spurious_retransmission>=2' \
  relay echo --impair a2b --duplicate 0.10

# ---------------------------------------------------------------- rewrites
want rewrite && "$PY" "$HERE/rewrite.py" --clean "$OUT/netem-clean.pcap" --small "$OUT/tcp-small-base.pcap" \
  --clean-log "$(logname netem-clean)" --small-log "$(logname tcp-small-base)" \
  --out "$OUT" --logs "$LOGS"

# ---------------------------------------------------------------- captured twice (-i any on a bridge)
want bridge && bash "$HERE/gen_bridge_any.sh"

# ---------------------------------------------------------------- checks + stats
"$PY" "$HERE/verify.py" "$ROOT"
bash "$HERE/stats.sh" "$OUT" >"$HERE/stats.md"
cat "$HERE/stats.md"
du -ch "$OUT"/*.pcap "$LOGS"/tcp-*.json | tail -1
