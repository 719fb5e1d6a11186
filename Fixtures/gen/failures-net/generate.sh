#!/usr/bin/env bash
# Regenerate the network failure-mode captures Fixtures/failures/net-*.pcap and their logs
# Fixtures/logs/net-*.json (what each peer sent, plus an "expected" object: the ground truth of
# each connection's end, from the setup and the peers, not from any analyzer).
#
# Run as root (network namespaces, nftables, tcpdump).  Idempotent: every capture and log is
# replaced.  Needs:
#   DEBIAN_FRONTEND=noninteractive apt-get install -y tcpdump tshark iproute2 ethtool nftables \
#     nginx haproxy python3
#   pip install websockets   (tested with 17.4)
# Reuses ../websocket/wsfix.py and ../peers/peerfix.py.
#
# Everything runs in private network namespaces created here (names start with wsfn<PID>);
# they and every process started in them are deleted on exit, also on failure.  Ports are in
# 19500-19699; every tcpdump has a port filter (plus ICMP to/from the capturing host).
# Total run time ~50 s.
set -euo pipefail
export PYTHONDONTWRITEBYTECODE=1  # no __pycache__ here or in ../websocket, ../peers
cd "$(dirname "$0")"
HERE=$(pwd)

if [ "$(id -u)" != 0 ]; then echo "run as root (network namespaces, nftables, tcpdump)" >&2; exit 1; fi
for t in tcpdump tshark python3 ip ethtool nft; do
  command -v $t >/dev/null || { echo "missing $t (apt-get install -y tcpdump tshark iproute2 ethtool nftables)" >&2; exit 1; }
done
python3 -c 'import websockets' || { echo "pip install websockets" >&2; exit 1; }

export WSFN_TAG="wsfn$$"
cleanup() {
  set +e
  local ns pid
  for ns in $(ip netns list | awk '{print $1}' | grep "^$WSFN_TAG"); do
    for pid in $(ip netns pids "$ns"); do kill -9 "$pid" 2>/dev/null; done
    ip netns del "$ns"
  done
  rm -rf "$HERE/tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p ../../failures ../../logs
status=0
have() { command -v "$1" >/dev/null || { echo "$1 not installed: skipping $2 (apt-get install -y $1)" >&2; return 1; }; }
run() { echo "--- $*"; timeout 90 "$@" || { echo "FAILED: $*" >&2; status=1; }; }

if have nginx net-nginx-idle.pcap; then run python3 gen_proxy_idle.py net-nginx-idle; fi
if have haproxy net-haproxy-idle.pcap; then run python3 gen_proxy_idle.py net-haproxy-idle; fi
run python3 gen_vanish.py     # net-peer-unreachable, net-link-down-server-side
run python3 gen_syn.py        # net-syn-unanswered, net-syn-refused

echo
python3 verify.py || status=1
exit $status
