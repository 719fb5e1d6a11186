#!/usr/bin/env bash
# Regenerate the application-protocol captures of real Python peers:
#   Fixtures/apps/socketio-*.pcap, graphql-*.pcap, jsonrpc-*.pcap, json-*.pcap
# and their logs Fixtures/logs/<same name>.json (what each peer logged as sent, per
# WebSocket message; see README.md).
#
# Run as root (tcpdump).  Idempotent: each capture and log is replaced; nothing else is
# touched.  All traffic is on lo, TCP ports 20000-20299; every tcpdump has a port filter.
# Needs (Debian 12): apt-get install -y tcpdump tshark python3 (tshark 4.0 used)
#   and PyPI: pip install "python-socketio[asyncio_client]" aiohttp "gql[websockets]" \
#             strawberry-graphql uvicorn websockets
#   (tested: python-socketio 5.18.1, python-engineio 4.15.1, aiohttp 3.14.5, gql 4.4.0,
#    strawberry-graphql 0.341.2, graphql-core 3.3.2, uvicorn 0.55.0, starlette 1.10.0,
#    websockets 17.4, Python 3.11.7)
# Reuses ../peers/peerfix.py and ../websocket/wsfix.py.
# Every generator runs under timeout(1) with SIGINT.  Total run time ~25 s.
set -euo pipefail
export PYTHONDONTWRITEBYTECODE=1   # no __pycache__ here or in ../websocket, ../peers
cd "$(dirname "$0")"
mkdir -p ../../apps ../../logs

if [ "$(id -u)" != 0 ]; then echo "run as root (tcpdump)" >&2; exit 1; fi
for t in tcpdump tshark python3 timeout; do
  command -v $t >/dev/null || { echo "missing $t" >&2; exit 1; }
done
python3 - <<'PY' || exit 1
import importlib, sys
need = {"socketio": "python-socketio", "engineio": "python-engineio", "aiohttp": "aiohttp",
        "gql": "gql", "gql.transport.websockets": "gql[websockets]", "strawberry": "strawberry-graphql",
        "uvicorn": "uvicorn", "websockets": "websockets"}
missing = []
for mod, pkg in need.items():
    try:
        importlib.import_module(mod)
    except ImportError:
        missing.append(pkg)
if missing:
    sys.exit("pip install " + " ".join(sorted(set(missing))))
PY

status=0
run() { echo "--- $*"; timeout -s INT -k 10 60 python3 "$@" || { echo "FAILED: $*" >&2; status=1; }; }

run gen_socketio.py websocket      # socketio-websocket
run gen_socketio.py polling        # socketio-polling-upgrade
run gen_graphql.py transport-ws    # graphql-transport-ws
run gen_graphql.py legacy          # graphql-ws-legacy
run gen_jsonrpc.py                 # jsonrpc-websockets
run gen_json.py                    # json-other

rm -rf __pycache__

echo
python3 verify.py || status=1
exit $status
