#!/usr/bin/env bash
# Regenerate the WebSocket capture fixtures in Fixtures/websocket/ and the
# per-fixture send logs in Fixtures/logs/ws-*.json from real peers on loopback.
#
# Run as root (tcpdump, unshare).  Idempotent: every capture/log is replaced.
# Needs: tcpdump, python3 with websockets>=14 (tested 17.4), aiohttp (3.14),
# tornado (6.6), websocket-client (1.9), openssl; optional: chromium, tshark.
# All traffic uses TCP ports 19000-19999, every tcpdump has a port filter.
# Total run time ~40 s.
set -euo pipefail
cd "$(dirname "$0")"
HERE=$(pwd)
OUT=$(cd ../../websocket 2>/dev/null && pwd || (mkdir -p ../../websocket && cd ../../websocket && pwd))
mkdir -p ../../logs

if [ "$(id -u)" != 0 ]; then echo "run as root (tcpdump/unshare)" >&2; exit 1; fi
for t in tcpdump openssl python3; do
  command -v $t >/dev/null || { echo "missing $t" >&2; exit 1; }
done
python3 -c 'import websockets, aiohttp, tornado, websocket' || {
  echo "pip install websockets aiohttp tornado websocket-client" >&2; exit 1; }

run() { echo "--- $*"; python3 "$@"; }

run gen_sizes.py          # ws-sizes, ws-sizes-s2c, ws-large-deflate
run gen_fragmented.py     # ws-fragmented
run gen_deflate.py        # ws-deflate-{takeover,no-takeover,window-bits,fragmented}
run gen_close.py          # ws-close-server-1001, ws-close-client-4000, ws-rst-no-close, ws-rejected-upgrade
run gen_concurrent.py     # ws-concurrent
run gen_ipv6.py           # ws-ipv6
run gen_midstream.py      # ws-midstream, ws-midstream-deflate
run gen_wss.py            # ws-wss-and-plain (+ .keys TLS key log)

if command -v chromium >/dev/null; then
  # private netns: own lo, own ephemeral port range (19700-19799) for chromium
  echo "--- unshare -n gen_chromium.py"
  unshare -n python3 gen_chromium.py
else
  echo "chromium not installed: skipping ws-chromium.pcap" \
       "(DEBIAN_FRONTEND=noninteractive apt-get install -y chromium)" >&2
fi

rm -rf "$HERE/tmp" "$HERE/__pycache__"

# sanity: size budget; log <-> capture cross-check and packet counts via tshark
echo
status=0
for f in "$OUT"/ws-*.pcap; do
  if [ "$(stat -c %s "$f")" -ge 204800 ]; then echo "$(basename "$f") is over 200 KiB" >&2; status=1; fi
done
if command -v tshark >/dev/null; then
  python3 verify.py || status=1
  rm -rf "$HERE/__pycache__"
fi
# Logs over 100 KB are kept gzipped (the tests read them through gzip -dc), so that Fixtures/
# stays under 5 MiB; verify.py above read them before compression.
find "$HERE/../../logs" -name 'ws-*.json' -size +100k -exec gzip -9 -n -f {} \;
exit $status
