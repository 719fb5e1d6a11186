#!/usr/bin/env bash
# Regenerate the application-level WebSocket failure captures Fixtures/failures/app-*.pcap
# and their logs Fixtures/logs/app-*.json (what each peer sent, plus an "expected" block:
# the ground truth of each connection's end, from the setup and the peers).
#
# Run as root (tcpdump).  Idempotent: every app-* capture and log is replaced; nothing
# else in Fixtures/failures/ is touched.
# Needs (Debian 12): DEBIAN_FRONTEND=noninteractive apt-get install -y tcpdump tshark python3
#   and PyPI websockets >= 14 (tested 17.4): pip install websockets
# Reuses ../websocket/wsfix.py and ../peers/peerfix.py.
# All traffic is on lo, TCP ports 19700-19899; every tcpdump has a port filter.
# Every generator runs under timeout(1) with SIGINT (its finally blocks kill tcpdump and the
# peer processes it started, by PID).  Total run time ~45 s.
set -euo pipefail
export PYTHONDONTWRITEBYTECODE=1   # no __pycache__ here or in ../websocket, ../peers
cd "$(dirname "$0")"
mkdir -p ../../failures ../../logs
OUT=$(cd ../../failures && pwd)

if [ "$(id -u)" != 0 ]; then echo "run as root (tcpdump)" >&2; exit 1; fi
for t in tcpdump tshark python3 timeout; do
  command -v $t >/dev/null || { echo "missing $t" >&2; exit 1; }
done
python3 -c 'import websockets' || { echo "pip install websockets" >&2; exit 1; }

status=0
run() { echo "--- $*"; timeout -s INT -k 10 60 python3 "$@" || { echo "FAILED: $*" >&2; status=1; }; }

run gen_keepalive.py        # app-keepalive-sigstop
run gen_server_killed.py    # app-server-killed
run gen_graceful.py         # app-graceful-1001
run gen_zero_window.py      # app-zero-window
run gen_max_size.py         # app-max-size-1009
run gen_periodic_pings.py   # app-periodic-pings
run gen_malformed.py        # app-invalid-utf8-1007, app-protocol-error-1002
run gen_client_reset.py     # app-client-reset

rm -rf __pycache__

# sanity: size budget; log <-> capture cross-check and the README's facts via tshark
echo
for f in "$OUT"/app-*.pcap; do
  if [ "$(stat -c %s "$f")" -ge 204800 ]; then echo "$(basename "$f") is over 200 KiB" >&2; status=1; fi
done
python3 verify.py || status=1
exit $status
