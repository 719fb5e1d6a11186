#!/usr/bin/env bash
# Regenerate the application-protocol captures Fixtures/apps/mqtt-*.pcap and
# Fixtures/apps/stomp-*.pcap and their logs Fixtures/logs/<same name>.json: real brokers on lo
# (Debian's mosquitto with a websockets listener, Debian's rabbitmq-server with
# rabbitmq_web_stomp and rabbitmq_web_mqtt) and paho-mqtt / minimal hand-built clients.
#
# Run as root (tcpdump).  Idempotent: the mqtt-* and stomp-* captures and logs are replaced;
# nothing else in Fixtures/apps/ is touched.
# Needs (Debian 12): DEBIAN_FRONTEND=noninteractive apt-get install -y tcpdump tshark python3 \
#     mosquitto rabbitmq-server coreutils
#   and from PyPI: pip install websockets paho-mqtt   (tested: websockets 17.4, paho-mqtt 2.2.0)
# The brokers run as our own instances with our own config in temp dirs (never the Debian
# services); if the packages auto-started theirs, stop them first
# (systemctl stop mosquitto rabbitmq-server, or service ... stop): this script refuses to run
# while anything listens on its ports.
# Ports: 20300-20302 mosquitto websockets, 20350-20352 mosquitto plain MQTT (unused, see
# brokerfix.Mosquitto), 20320 web_stomp, 20330 web_mqtt, 20590-20595 RabbitMQ's own ports and
# epmd, clients 20401-20441 (fixed source ports).  Every tcpdump has a port filter.
# Every generator runs under timeout(1) with SIGINT; their finally blocks stop the brokers and
# tcpdump by the PIDs they started.  Total run time ~90 s (RabbitMQ takes ~15-40 s to start).
set -euo pipefail
export PYTHONDONTWRITEBYTECODE=1
cd "$(dirname "$0")"
mkdir -p ../../apps ../../logs

if [ "$(id -u)" != 0 ]; then echo "run as root (tcpdump)" >&2; exit 1; fi
for t in tcpdump tshark python3 timeout stdbuf mosquitto epmd /usr/lib/rabbitmq/bin/rabbitmq-server; do
  command -v $t >/dev/null || { echo "missing $t" >&2; exit 1; }
done
python3 -c 'import websockets, paho.mqtt' || { echo "pip install websockets paho-mqtt" >&2; exit 1; }
busy=$(ss -Htln | awk '{print $4}' | grep -E ':(2030[0-2]|2035[0-2]|20320|20330|2059[0-5])$' || true)
if [ -n "$busy" ]; then echo "ports in use (stop the other brokers first): $busy" >&2; exit 1; fi

status=0
run() { echo "--- $*"; timeout -s INT -k 10 "$T" python3 "$@" || { echo "FAILED: $*" >&2; status=1; }; }

T=120 run gen_mqtt.py v311      # mqtt-v311
T=120 run gen_mqtt.py v5        # mqtt-v5
T=120 run gen_mqtt_split.py     # mqtt-split
T=120 run gen_rabbitmq.py       # stomp-rabbitmq, mqtt-rabbitmq

rm -rf __pycache__
echo
python3 verify.py || status=1
exit $status
