#!/usr/bin/env bash
# Regenerate the real-peer captures in Fixtures/peers/ and their send logs in
# Fixtures/logs/<fixture>.json: other WebSocket implementations (Node ws, Go gorilla,
# libwebsockets, Firefox) and reverse proxies (nginx, haproxy) on loopback.
#
# Run as root (tcpdump, unshare).  Idempotent: every capture/log is replaced.
# Needs: tcpdump, tshark, python3 with websockets>=14 (tested 17.4), and the Debian packages
#   DEBIAN_FRONTEND=noninteractive apt-get install -y node-ws golang-go \
#     golang-github-gorilla-websocket-dev libwebsockets-test-server firefox-esr nginx haproxy
# A generator whose peer is missing is skipped with a message (its old capture stays).
# All traffic is on lo, TCP ports 19200-19499; every tcpdump has a port filter.
# Reuses ../websocket/wsfix.py (Capture, FixtureLog, websockets send hook).
# Total run time ~25 s.
set -euo pipefail
export PYTHONDONTWRITEBYTECODE=1  # no __pycache__ here or in ../websocket
cd "$(dirname "$0")"
HERE=$(pwd)
mkdir -p ../../peers ../../logs
OUT=$(cd ../../peers && pwd)

if [ "$(id -u)" != 0 ]; then echo "run as root (tcpdump/unshare)" >&2; exit 1; fi
for t in tcpdump tshark python3; do
  command -v $t >/dev/null || { echo "missing $t" >&2; exit 1; }
done
python3 -c 'import websockets' || { echo "pip install websockets" >&2; exit 1; }

status=0
have() { command -v "$1" >/dev/null || { echo "$1 not installed: skipping $2 (apt-get install -y $3)" >&2; return 1; }; }
run() { echo "--- $*"; timeout 180 "$@" || { echo "FAILED: $*" >&2; status=1; }; }

if have node ws-node-ws.pcap node-ws && [ -d /usr/share/nodejs/ws ]; then
  run python3 gen_node_ws.py            # ws-node-ws
fi
if have go ws-gorilla.pcap "golang-go golang-github-gorilla-websocket-dev" \
   && [ -d /usr/share/gocode/src/github.com/gorilla/websocket ]; then
  run python3 gen_gorilla.py            # ws-gorilla
fi
if have libwebsockets-test-server ws-libwebsockets.pcap libwebsockets-test-server; then
  run python3 gen_lws.py                # ws-libwebsockets, ws-libwebsockets-closeme
fi
if have firefox-esr ws-firefox.pcap firefox-esr; then
  # private netns: own lo, own ephemeral port range (19400-19499) for Firefox
  run unshare -n python3 gen_firefox.py # ws-firefox
fi
if have nginx ws-nginx-proxy.pcap nginx && have haproxy ws-haproxy-proxy.pcap haproxy; then
  run python3 gen_proxies.py            # ws-nginx-proxy, ws-haproxy-proxy
fi

rm -rf "$HERE/tmp"

# sanity: size budget; log <-> capture cross-check and packet counts via tshark
echo
for f in "$OUT"/*.pcap; do
  if [ "$(stat -c %s "$f")" -ge 204800 ]; then echo "$(basename "$f") is over 200 KiB" >&2; status=1; fi
done
python3 verify.py || status=1
exit $status
