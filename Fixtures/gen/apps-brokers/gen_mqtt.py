"""mqtt-v311 / mqtt-v5: Debian's mosquitto (websockets listener) and two paho-mqtt clients over
WebSocket (transport="websockets", path /mqtt, subprotocol mqtt).

usage: gen_mqtt.py v311|v5

Broker: mosquitto 2.0.11, `listener SPORT` + `protocol websockets`, allow_anonymous, log_type
all (its log is peer_logs.broker, every line; its stdout is line-buffered and each line is
timestamped when read, to merge both sides' logs in time order).

Clients (paho-mqtt 2.2, loop_start thread, on_log = every packet it queued / received):
1. "pub" (source port CPORT_PUB), keepalive 60: CONNECT; PUBLISH 'status/pub' retained QoS 1
   "online" (the broker keeps it and hands it to the subscriber at SUBSCRIBE).
2. "sub" (source port CPORT_SUB), keepalive 2 and a will (clients/sub/status, retained, QoS 1):
   CONNECT; SUBSCRIBE [sensors/# QoS 2, cmd/+/set QoS 1, status/pub QoS 0] -> SUBACK; the
   retained PUBLISH (r1).
3. pub: PUBLISH sensors/t1 QoS 0, sensors/t2 QoS 1 (PUBACK), sensors/t3 QoS 2
   (PUBREC/PUBREL/PUBCOMP), cmd/lamp/set QoS 1 with an EMPTY payload; the broker forwards each
   to sub at min(QoS, granted): sub answers PUBACK / PUBREC+PUBCOMP.
   v5 only: sensors/t2 carries user properties and a content type; a QoS 1 PUBLISH to
   'nobody/listens' gets PUBACK reason code 16 (no matching subscribers).
4. sub stays idle > keepalive: PINGREQ / PINGRESP.
5. sub UNSUBSCRIBE cmd/+/set -> UNSUBACK; DISCONNECT (both; v5 with reason code 0).
"""
import sys
import threading
import time

import paho.mqtt
import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

import brokerfix as bf

VARIANT = sys.argv[1] if len(sys.argv) > 1 else "v311"
V5 = VARIANT == "v5"
NAME = "mqtt-" + VARIANT
SPORT = 20301 if V5 else 20300
TCPPORT = SPORT + 50          # mosquitto's plain MQTT listener, unused (see brokerfix.Mosquitto)
CPORT_SUB = 20411 if V5 else 20401
CPORT_PUB = 20412 if V5 else 20402
PROTO = mqtt.MQTTv5 if V5 else mqtt.MQTTv311


class Client(mqtt.Client):
    """paho's Client, its TCP socket bound to the fixed source port with SO_REUSEADDR (paho's
    own bind_port path uses socket.create_connection without it, so a rerun within TIME_WAIT
    would fail).  Everything above the socket is paho's."""

    def _create_socket_connection(self):
        return bf.client_socket(self._wstrace_port, (self._host, self._port), timeout=self._connect_timeout)


class Peer:
    def __init__(self, cid, cport, keepalive, will=False):
        self.cid, self.cport, self.keepalive = cid, cport, keepalive
        self.log = bf.LineLog(cid)
        self.c = Client(mqtt.CallbackAPIVersion.VERSION2, client_id=cid, protocol=PROTO,
                        transport="websockets")
        self.c._wstrace_port = bf.check_port(cport)
        self.c.on_log = lambda cl, u, lvl, s: self.log.add(s)
        self.connected = threading.Event()
        self.subacks = []
        self.unsubacks = []
        self.msgs = []
        self.cv = threading.Condition()
        self.c.on_connect = self._on_connect
        self.c.on_subscribe = self._on_subscribe
        self.c.on_unsubscribe = self._on_unsubscribe
        self.c.on_message = self._on_message
        if will:
            props = None
            if V5:
                props = Properties(PacketTypes.WILLMESSAGE)
                props.WillDelayInterval = 0
            self.c.will_set("clients/%s/status" % cid, b"offline", qos=1, retain=True, properties=props)

    def _on_connect(self, c, u, flags, rc, props):
        self.log.add("callback on_connect reason_code=%s flags=%s properties=%s" % (rc, flags, props))
        self.connected.set()

    def _on_subscribe(self, c, u, mid, rcs, props):
        self.log.add("callback on_subscribe mid=%d reason_codes=%s" % (mid, [str(r) for r in rcs]))
        with self.cv:
            self.subacks.append((mid, [int(r.value) for r in rcs]))
            self.cv.notify_all()

    def _on_unsubscribe(self, c, u, mid, rcs, props):
        self.log.add("callback on_unsubscribe mid=%d reason_codes=%s" % (mid, [str(r) for r in rcs]))
        with self.cv:
            self.unsubacks.append(mid)
            self.cv.notify_all()

    def _on_message(self, c, u, msg):
        self.log.add("callback on_message topic=%s qos=%d retain=%d mid=%d payload_length=%d properties=%s"
                     % (msg.topic, msg.qos, msg.retain, msg.mid, len(msg.payload), msg.properties))
        with self.cv:
            self.msgs.append(msg)
            self.cv.notify_all()

    def wait(self, pred, timeout=10):
        with self.cv:
            assert self.cv.wait_for(pred, timeout), "%s: timed out" % self.cid

    def connect(self):
        props = None
        if V5:
            props = Properties(PacketTypes.CONNECT)
            props.SessionExpiryInterval = 0
            props.ReceiveMaximum = 20
        self.c.connect("127.0.0.1", SPORT, keepalive=self.keepalive, clean_start=True if V5 else mqtt.MQTT_CLEAN_START_FIRST_ONLY,
                       properties=props)
        self.c.loop_start()
        assert self.connected.wait(10), self.cid

    def publish(self, topic, payload, qos, retain=False, props=None):
        info = self.c.publish(topic, payload, qos=qos, retain=retain, properties=props)
        info.wait_for_publish(10)
        assert info.is_published(), (topic, qos)

    def disconnect(self):
        if V5:
            self.c.disconnect(reasoncode=mqtt.ReasonCode(PacketTypes.DISCONNECT, "Normal disconnection"))
        else:
            self.c.disconnect()
        self.c.loop_stop()


def main():
    broker = bf.Mosquitto(SPORT, TCPPORT)
    pub = Peer("pub", CPORT_PUB, 60)
    sub = Peer("sub", CPORT_SUB, 2, will=True)
    try:
        with broker:
            with bf.AppsCapture(NAME, [SPORT]) as cap:
                pub.connect()
                pub.publish("status/pub", b"online", 1, retain=True)
                sub.connect()
                if V5:
                    topics = [("sensors/#", SubscribeOptions(qos=2)), ("cmd/+/set", SubscribeOptions(qos=1)),
                              ("status/pub", SubscribeOptions(qos=0, retainAsPublished=True))]
                else:
                    topics = [("sensors/#", 2), ("cmd/+/set", 1), ("status/pub", 0)]
                sub.c.subscribe(topics)
                sub.wait(lambda: sub.subacks and len(sub.msgs) >= 1)    # SUBACK + the retained message
                pub.publish("sensors/t1", b"21.5", 0)
                props = None
                if V5:
                    props = Properties(PacketTypes.PUBLISH)
                    props.UserProperty = [("unit", "C"), ("room", "lab")]
                    props.ContentType = "text/plain"
                pub.publish("sensors/t2", b"22.25", 1, props=props)
                pub.publish("sensors/t3", b"{\"t\":23.0,\"h\":41}", 2)
                pub.publish("cmd/lamp/set", b"", 1)
                if V5:
                    pub.publish("nobody/listens", b"ping?", 1)
                sub.wait(lambda: len(sub.msgs) >= 5)
                time.sleep(0.5)                                        # sub's PUBCOMP
                time.sleep(sub.keepalive + 1.2)                        # idle: PINGREQ/PINGRESP
                sub.c.unsubscribe("cmd/+/set")
                sub.wait(lambda: sub.unsubacks)
                sub.disconnect()
                pub.disconnect()
                time.sleep(0.3)
        broker_lines = broker.log.text()
        with open(broker.logfile) as f:
            file_lines = [l.rstrip("\n") for l in f]
    finally:
        broker.stop()
        broker.cleanup()
    assert [bf.strip_mosq_ts(l) for l in file_lines] == [bf.strip_mosq_ts(l) for l in broker_lines], \
        "mosquitto's stdout and log file differ"
    write(broker, [sub, pub], cap)


def connection(broker, peer):
    sent_c = bf.paho_sent(peer.log)
    sent_s = bf.mosquitto_sent(broker.log, peer.cid)
    # SUBACK / UNSUBACK: mosquitto logs them without the packet id; paho's on_subscribe /
    # on_unsubscribe callbacks (the client's log) give it, in order.
    subacks = iter(peer.subacks)
    unsubacks = iter(peer.unsubacks)
    cb_sub = iter([l for l in peer.log.text() if l.startswith("callback on_subscribe")])
    cb_unsub = iter([l for l in peer.log.text() if l.startswith("callback on_unsubscribe")])
    for _, e in sent_s:
        if e["type"] == "SUBACK":
            mid, rcs = next(subacks)
            e["id"], e["reason_codes"], e["id_source"] = mid, rcs, next(cb_sub)
        elif e["type"] == "UNSUBACK":
            e["id"], e["id_source"] = next(unsubacks), next(cb_unsub)
    for side, lst in (("client", sent_c), ("server", sent_s)):
        for k, (_, e) in enumerate(lst):
            e["ws_message_index"] = k
    # cross-check: what each side logged as received = what the other logged as sent
    recv_c = bf.paho_received(peer.log)
    rc = [x[2] for x in recv_c]
    rs = [x[2] for x in bf.mosquitto_received(broker.log, peer.cid)]
    assert rc == [e["type"] for _, e in sent_s], (peer.cid, rc, [e["type"] for _, e in sent_s])
    assert rs == [e["type"] for _, e in sent_c], (peer.cid, rs, [e["type"] for _, e in sent_c])
    # both sides merged on the client's clock: a client packet at its paho 'Sending' line, a
    # server packet at the paho 'Received' line for it (causal: paho logs receiving a PUBREL
    # before it queues the PUBCOMP)
    merged = [(t, 0, i, e) for i, (t, e) in enumerate(sent_c)]
    for i, ((_, e), (t, line, _)) in enumerate(zip(sent_s, recv_c)):
        e["received_source"] = line
        merged.append((t, 1, i, e))
    msgs = []
    for t, _, _, e in sorted(merged, key=lambda x: (x[0], x[1], x[2])):
        e["log_time"] = round(t, 6)
        msgs.append(e)
    return {"client_port": peer.cport, "server_port": SPORT, "subprotocol": "mqtt", "path": "/mqtt",
            "client_id": peer.cid, "mqtt_version": "5.0" if V5 else "3.1.1",
            "messages": msgs, "requests": bf.pair_requests(msgs)}


def write(broker, peers, cap):
    pcap = cap.path
    conns = [connection(broker, p) for p in peers]
    # each side's logged packets, in order, against the MQTT packets parsed from the capture
    # (one packet per WebSocket message is what the logs' ws_message_index assumes)
    problems, checks = bf.check_mqtt(pcap, conns, V5)
    assert not problems, problems
    for c in conns:
        c["tcp"] = bf.conn_complete(pcap, c["client_port"], SPORT)
    doc = {
        "fixture": NAME + ".pcap",
        "generator": "Fixtures/gen/apps-brokers/gen_mqtt.py " + VARIANT,
        "setup": {
            "broker": bf.version_of(["mosquitto", "-h"]) + " (Debian mosquitto %s, libwebsockets listener)"
            % bf.dpkg_version("mosquitto"),
            "client": "paho-mqtt %s (PyPI), transport=\"websockets\", protocol=%s, loop_start thread"
            % (paho.mqtt.__version__, "MQTTv5" if V5 else "MQTTv311"),
            "broker_config": broker.conf.splitlines(),
            "broker_config_note": "the second listener (plain MQTT on %d) is only there because mosquitto "
                                  "2.0.11 refuses to start with a websockets listener alone; nothing "
                                  "connects to it" % TCPPORT,
            "clients": {
                "pub": "source port %d, keepalive 60: retained QoS 1 PUBLISH status/pub; then sensors/t1 "
                       "QoS 0, sensors/t2 QoS 1, sensors/t3 QoS 2, cmd/lamp/set QoS 1 empty payload%s; "
                       "DISCONNECT" % (CPORT_PUB, "; sensors/t2 with UserProperty unit=C, room=lab and "
                                                  "ContentType text/plain; nobody/listens QoS 1 (PUBACK "
                                                  "reason code 16, no matching subscribers)" if V5 else ""),
                "sub": "source port %d, keepalive 2, will clients/sub/status (retained, QoS 1): SUBSCRIBE "
                       "sensors/# QoS 2, cmd/+/set QoS 1, status/pub QoS 0; receives the retained message "
                       "and the four publications; idle > keepalive (PINGREQ); UNSUBSCRIBE cmd/+/set; "
                       "DISCONNECT" % CPORT_SUB,
            },
            "how_logged": (
                "Client->server packets: paho's on_log 'Sending ...' lines (logged as paho queues a packet; "
                "its out-queue is FIFO). Server->client packets: mosquitto's 'Sending ... to CLIENTID' lines. "
                "SUBACK/UNSUBACK ids: mosquitto does not log them; taken from paho's on_subscribe / "
                "on_unsubscribe callback (id_source). Each side's 'Received ...' lines were checked to list "
                "the same packet types in the same order as the other side's 'Sending ...' lines. "
                "PUBLISH 'id' is null at QoS 0 (the logs print m0 or paho's internal counter there: "
                "broker_mid_field / paho_mid_field). 'messages' is both sides merged by log_time (paho: "
                "time.time() in on_log; mosquitto: when its line-buffered stdout line was read), so the "
                "interleaving of the two sides is approximate; per side the order is exact."),
            "ws_message_index": (
                "Counted per side in log order, one MQTT packet per WebSocket binary message. Checked "
                "on the capture (tshark's unmasked WebSocket payloads, data.data, parsed as an MQTT "
                "stream per side): the packets' type, id, topic, qos, retain, payload length and "
                "the message each sits in equal the log's, and the count of WebSocket data messages "
                "per side equals the count of logged packets (no packing, no splitting, no "
                "fragmentation seen). tshark 4.0 does not dissect MQTT inside these WebSocket "
                "messages itself."),
            "wire_check": checks,
        },
        "connections": conns,
        "peer_logs": {"broker": broker.log.text()},
    }
    for p in peers:
        doc["peer_logs"]["client_" + p.cid] = p.log.text()
    print(bf.write_log(NAME, doc))
    for c in conns:
        print("  %s %d->%d: client %d, server %d packets" % (c["client_id"], c["client_port"], SPORT,
              sum(e["from"] == "client" for e in c["messages"]), sum(e["from"] == "server" for e in c["messages"])))


if __name__ == "__main__":
    main()
