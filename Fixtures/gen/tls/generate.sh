#!/usr/bin/env bash
# Regenerate the wss (WebSocket over TLS) decryption fixtures in Fixtures/tls/
# (NAME.pcap + NAME.keys NSS key logs written by the peers) and their send logs
# Fixtures/logs/NAME.json, from real peers on loopback, then the derived failure
# inputs, then the tshark cross-check (verify.py).
#
# Run as root (tcpdump).  Idempotent: replaces only this generator's files
# (other generators also write into Fixtures/tls/ and are left alone).
# Needs: tcpdump, tshark + editcap (Wireshark 4.0), openssl, python3 (3.11)
# with websockets (tested 17.4).  Ports: 19400-19499 only, every tcpdump has a
# port filter.  Run time ~1.5 min.
set -euo pipefail
cd "$(dirname "$0")"
HERE=$(pwd)
mkdir -p ../../tls ../../logs
OUT=$(cd ../../tls && pwd)
LOGS=$(cd ../../logs && pwd)

if [ "$(id -u)" != 0 ]; then echo "run as root (tcpdump)" >&2; exit 1; fi
for t in tcpdump tshark editcap openssl python3; do
  command -v $t >/dev/null || { echo "missing $t" >&2; exit 1; }
done
python3 -c 'import websockets' || { echo "pip install websockets" >&2; exit 1; }

NAMES=$(python3 -c 'import tlsfix; print(" ".join(tlsfix.FIXTURES))')

rm -rf "$HERE/tmp"
for n in $NAMES; do
  rm -f "$OUT/$n".pcap "$OUT/$n".keys "$OUT/$n".full.keys "$OUT/$n".first-only.keys \
        "$LOGS/$n".json "$LOGS/$n".json.gz
done
rm -f "$OUT"/wss-tls13-aes128gcm.{wrong.keys,badline.keys,pcapng} "$OUT"/wss-tls13-midstream.pcap

for n in $NAMES; do
  echo "--- gen_tls.py $n"
  ok=0
  for attempt in 1 2 3; do   # a retry only if tcpdump missed a segment (exit 3)
    rc=0; timeout 120 python3 gen_tls.py "$n" || rc=$?
    if [ $rc = 0 ]; then ok=1; break; fi
    [ $rc = 3 ] || break
  done
  [ $ok = 1 ] || { echo "gen_tls.py $n failed" >&2; exit 1; }
done
for n in wss-tls13-alert wss-tls12-alert; do echo "--- gen_tls_alert.py $n"; rm -f "$OUT/$n".pcap "$OUT/$n".keys "$LOGS/$n".json; timeout 120 python3 gen_tls_alert.py "$n" || { echo "gen_tls_alert.py $n failed" >&2; exit 1; }; done
echo "--- make_derived.py"
python3 make_derived.py

echo
status=0
python3 verify.py || status=1

# Logs over 100 KB are kept gzipped, as in gen/websocket (verify.py reads either)
find "$LOGS" -maxdepth 1 -name 'wss-tls*.json' -size +100k -exec gzip -9 -n -f {} \;
rm -rf "$HERE/tmp" "$HERE/__pycache__"
exit $status
