#!/usr/bin/env bash
# Regenerate the real-peer wss (WebSocket over TLS) captures in Fixtures/tls/ (this folder's
# names only: wss-node-ws, wss-node-ws-tls12, wss-chromium, wss-keyupdate, wss-hrr), their
# NSS key logs (NAME.keys, written by the peers themselves) and the send logs in
# Fixtures/logs/NAME.json.
#
# Run as root (tcpdump, unshare).  Idempotent: every capture/key log/log is replaced.
# Needs: tcpdump, tshark, openssl, python3 with websockets>=14 (tested 17.4), node with Debian's
#   node-ws (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y node-ws),
#   chromium (optional: wss-chromium is skipped without it).
# All traffic is on lo, TCP ports 19500-19599; every tcpdump has a port filter; every
# peer has a timeout.  Reuses ../websocket/wsfix.py and ../peers/peerfix.py.
# Total run time ~25 s.
set -euo pipefail
export PYTHONDONTWRITEBYTECODE=1  # no __pycache__ here or in ../websocket, ../peers
cd "$(dirname "$0")"
HERE=$(pwd)
mkdir -p ../../tls ../../logs

if [ "$(id -u)" != 0 ]; then echo "run as root (tcpdump/unshare)" >&2; exit 1; fi
for t in tcpdump tshark openssl python3 node; do
  command -v $t >/dev/null || { echo "missing $t" >&2; exit 1; }
done
python3 -c 'import websockets' || { echo "pip install websockets" >&2; exit 1; }
[ -d /usr/share/nodejs/ws ] || { echo "apt-get install -y node-ws" >&2; exit 1; }

status=0
run() { echo "--- $*"; timeout 120 "$@" || { echo "FAILED: $*" >&2; status=1; }; }

run python3 gen_node_ws.py               # wss-node-ws, wss-node-ws-tls12
run python3 gen_keyupdate.py             # wss-keyupdate
run python3 gen_hrr.py                   # wss-hrr
if command -v chromium >/dev/null; then
  # private netns: own lo, own ephemeral port range (19570-19579) for Chromium
  run unshare -n python3 gen_chromium.py # wss-chromium
else
  echo "chromium not installed: skipping wss-chromium (apt-get install -y chromium)" >&2
fi

rm -rf "$HERE/tmp"
echo
python3 verify.py || status=1
exit $status
