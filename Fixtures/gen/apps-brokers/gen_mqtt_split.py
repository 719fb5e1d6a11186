"""mqtt-split: Debian's mosquitto (websockets listener on 20302) and a minimal HAND-BUILT MQTT
3.1.1 client written for this fixture (python websockets 17 for the WebSocket layer,
subprotocol mqtt, path /mqtt; the MQTT packets are built byte by byte here) whose WebSocket
framing of MQTT is deliberately unusual:

 client WS message 0: CONNECT + SUBSCRIBE (split/# QoS 1)      -- TWO packets in ONE message
 client WS message 1: first 10 bytes of PUBLISH split/a QoS 1 (3000-byte payload)
 client WS message 2: the remaining bytes of that PUBLISH     -- ONE packet split over TWO
 (the broker answers PUBACK and delivers the 3000 bytes back; the client sends PUBACK)
 client WS message 3: PUBLISH split/b QoS 0 + PUBLISH split/c QoS 1 -- two packets, one message
 (PUBACK; both delivered back, the QoS 1 one acknowledged by the client)
 client WS message k: PUBLISH split/big QoS 0 with a 20000-byte payload, delivered back
 client WS message k+1: DISCONNECT

Every client message waits for what the broker owes before the next goes out, so the
client's PUBACKs have fixed places.  Client->server entries come from this client's own log
(what it put in each WebSocket message); server->client entries from mosquitto's log.
"""
import asyncio
import struct
import time

import websockets
from websockets.asyncio.client import connect

import brokerfix as bf

NAME = "mqtt-split"
SPORT, TCPPORT, CPORT = 20302, 20352, 20421
CID = "handmade"


def varint(n):
    out = bytearray()
    while True:
        b = n % 128
        n //= 128
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def utf8(s):
    b = s.encode()
    return struct.pack("!H", len(b)) + b


def packet(first, body):
    return bytes([first]) + varint(len(body)) + body


def connect_pkt(keepalive=60):
    return packet(0x10, utf8("MQTT") + bytes([4, 0x02]) + struct.pack("!H", keepalive) + utf8(CID))


def subscribe_pkt(mid, flt, qos):
    return packet(0x82, struct.pack("!H", mid) + utf8(flt) + bytes([qos]))


def publish_pkt(topic, payload, qos, mid=None):
    body = utf8(topic) + (struct.pack("!H", mid) if qos else b"") + payload
    return packet(0x30 | (qos << 1), body)


def puback_pkt(mid):
    return packet(0x40, struct.pack("!H", mid))


def parse_packets(buf):
    """Complete MQTT packets at the start of buf: ([(type, flags, body)], rest)."""
    out = []
    while len(buf) >= 2:
        length = bf.mqtt_varint(buf, 1)
        if length is None or len(buf) < length[1] + length[0]:
            return out, buf
        n, i = length
        out.append((buf[0] >> 4, buf[0] & 0x0F, buf[i:i + n]))
        buf = buf[i + n:]
    return out, buf


TYPES = bf.MQTT_TYPES


def describe(typ, flags, body):
    """An entry (like the log's) for a packet this client built or received."""
    if typ == 3:
        qos, retain, dup = (flags >> 1) & 3, bool(flags & 1), bool(flags & 8)
        tl = struct.unpack("!H", body[:2])[0]
        topic = body[2:2 + tl].decode()
        off = 2 + tl
        mid = None
        if qos:
            mid = struct.unpack("!H", body[off:off + 2])[0]
            off += 2
        return bf.mqtt_entry("client", "PUBLISH", mid, topic, qos, retain, dup, len(body) - off)
    e = bf.mqtt_entry("client", TYPES[typ])
    if typ in (4, 5, 6, 7, 8, 9, 10, 11):
        e["id"] = struct.unpack("!H", body[:2])[0]
    return e


async def run(log, recv_log):
    sent = []          # (t, [entries], ws message index)
    received = []      # (packet entry, ws message index of the broker's message)
    k = [0]
    buf = [b""]
    rk = [0]

    s = bf.client_socket(CPORT, ("127.0.0.1", SPORT))
    async with connect("ws://127.0.0.1:%d/mqtt" % SPORT, sock=s, subprotocols=["mqtt"], compression=None,
                       max_size=2 ** 20, ping_interval=None, close_timeout=2) as ws:
        log.add("websocket open, subprotocol=%s" % ws.subprotocol)
        assert ws.subprotocol == "mqtt"

        async def send(parts, note):
            """parts: [(packet bytes, entry or None)]: bytes are concatenated into ONE message."""
            data = b"".join(p for p, _ in parts)
            idx = k[0]
            k[0] += 1
            ents = [e for _, e in parts if e is not None]
            for e in ents:
                e["ws_message_index"] = idx
            line = "ws message %d (binary, %d bytes): %s" % (idx, len(data), note)
            log.add(line)
            for e in ents:
                e["source"] = line
            sent.append((time.time(), ents))
            await ws.send(data)

        async def expect(types):
            """Reads broker messages until the packet types in `types` (any order) have arrived."""
            got = []
            while len(got) < len(types):
                msg = await asyncio.wait_for(ws.recv(), 10)
                idx = rk[0]
                rk[0] += 1
                pk, buf[0] = parse_packets(buf[0] + msg)
                recv_log.add("received ws message %d (binary, %d bytes): %s%s" % (
                    idx, len(msg), ", ".join(TYPES[t] for t, _, _ in pk) or "(no complete packet)",
                    " + %d bytes of an incomplete packet" % len(buf[0]) if buf[0] else ""))
                for t, f, body in pk:
                    e = describe(t, f, body)
                    e["from"] = "server"
                    received.append((e, idx, time.time()))
                    got.append(e)
            assert sorted(e["type"] for e in got) == sorted(types), ([e["type"] for e in got], types)
            return got

        def ent(pkt):
            t, f, body = parse_packets(pkt)[0][0]
            return describe(t, f, body)

        # 1. CONNECT + SUBSCRIBE in one WebSocket message
        c, sb = connect_pkt(), subscribe_pkt(1, "split/#", 1)
        await send([(c, ent(c)), (sb, ent(sb))], "CONNECT (%d bytes) + SUBSCRIBE m1 split/# QoS 1 (%d bytes)"
                   % (len(c), len(sb)))
        await expect(["CONNACK", "SUBACK"])

        # 2. one PUBLISH split over two WebSocket messages
        p = publish_pkt("split/a", bytes((i * 7) & 0xFF for i in range(3000)), 1, 2)
        e = ent(p)
        await send([(p[:10], None)], "first 10 bytes of PUBLISH m2 split/a QoS 1 (%d bytes, 3000-byte "
                   "payload)" % len(p))
        await send([(p[10:], e)], "remaining %d bytes of PUBLISH m2 split/a (completes it)" % (len(p) - 10))
        e["split_across_ws_messages"] = [e["ws_message_index"] - 1, e["ws_message_index"]]
        got = [g for g in await expect(["PUBACK", "PUBLISH"]) if g["type"] == "PUBLISH"]
        a = puback_pkt(got[0]["id"])
        await send([(a, ent(a))], "PUBACK m%d" % got[0]["id"])

        # 3. two PUBLISHes in one WebSocket message
        p1, p2 = publish_pkt("split/b", b"first of two", 0), publish_pkt("split/c", b"second of two", 1, 3)
        await send([(p1, ent(p1)), (p2, ent(p2))], "PUBLISH split/b QoS 0 (%d bytes) + PUBLISH m3 split/c QoS 1 "
                   "(%d bytes)" % (len(p1), len(p2)))
        got = await expect(["PUBLISH", "PUBACK", "PUBLISH"])
        for g in got:
            if g["type"] == "PUBLISH" and g["qos"] == 1:
                a = puback_pkt(g["id"])
                await send([(a, ent(a))], "PUBACK m%d" % g["id"])

        # 4. a 20000-byte PUBLISH, delivered back
        big = publish_pkt("split/big", bytes(range(256)) * 78 + bytes(32), 0)
        await send([(big, ent(big))], "PUBLISH split/big QoS 0 (%d bytes, 20000-byte payload)" % len(big))
        await expect(["PUBLISH"])

        d = packet(0xE0, b"")
        await send([(d, ent(d))], "DISCONNECT")
        try:
            await asyncio.wait_for(ws.recv(), 3)
        except websockets.ConnectionClosed as ex:
            log.add("connection closed: %s" % ex)
    return sent, received


def main():
    broker = bf.Mosquitto(SPORT, TCPPORT)
    log = bf.LineLog("client")
    recv_log = bf.LineLog("client_received")
    try:
        with broker:
            with bf.AppsCapture(NAME, [SPORT]) as cap:
                sent, received = asyncio.run(run(log, recv_log))
                time.sleep(0.3)
    finally:
        broker.stop()
        broker.cleanup()
    # server side from mosquitto's log, checked against what the client parsed
    srv = bf.mosquitto_sent(broker.log, CID)
    assert [e["type"] for _, e in srv] == [e["type"] for e, _, _ in received], \
        ([e["type"] for _, e in srv], [e["type"] for e, _, _ in received])
    subacks = iter([e for e, _, _ in received if e["type"] == "SUBACK"])
    recv_times = [t for _, _, t in received]
    for (t, e), (r, idx, _) in zip(srv, received):
        e["ws_message_index"] = idx
        if e["type"] == "SUBACK":
            e["id"] = next(subacks)["id"]
            e["id_source"] = "the client's parse of the SUBACK it received (mosquitto logs no id for SUBACK)"
        for key in ("id", "topic", "qos", "payload_length"):
            assert e[key] == r[key] or (e["type"] == "PUBLISH" and key == "id" and e["qos"] == 0), (e, r)
    cl = [(t, e) for t, ents in sent for e in ents]
    # broker received = client's sent packets
    rs = [x[2] for x in bf.mosquitto_received(broker.log, CID)]
    assert rs == [e["type"] for _, e in cl], (rs, [e["type"] for _, e in cl])
    # merged on the client's clock: server packets at the time the client received them
    srv_t = [(rt, e) for (_, e), rt in zip(srv, recv_times)]
    msgs = []
    for t, e in sorted(cl + srv_t, key=lambda x: x[0]):
        e["log_time"] = round(t, 6)
        msgs.append(e)
    pcap = cap.path
    n_client = max(e["ws_message_index"] for _, e in cl) + 1
    n_server = max(e["ws_message_index"] for _, e in srv) + 1
    tcp = bf.conn_complete(pcap, CPORT, SPORT)
    assert tcp["complete"], tcp
    conn = {"client_port": CPORT, "server_port": SPORT, "subprotocol": "mqtt", "path": "/mqtt",
            "client_id": CID, "mqtt_version": "3.1.1", "hand_built_client": True,
            "ws_data_messages": {"client": n_client, "server": n_server},
            "messages": msgs, "requests": bf.pair_requests(msgs), "tcp": tcp}
    problems, facts = bf.check_mqtt(pcap, [conn])
    assert not problems, problems
    doc = {
        "fixture": NAME + ".pcap",
        "generator": "Fixtures/gen/apps-brokers/gen_mqtt_split.py",
        "setup": {
            "broker": bf.version_of(["mosquitto", "-h"]) + " (Debian mosquitto %s)" % bf.dpkg_version("mosquitto"),
            "broker_config": broker.conf.splitlines(),
            "client": ("HAND-BUILT: a minimal MQTT 3.1.1 client written for this fixture on python websockets %s "
                       "(the WebSocket layer is the library's; the MQTT bytes and how they are cut into "
                       "WebSocket messages are this script's). It packs two MQTT packets into one WebSocket "
                       "message twice (CONNECT+SUBSCRIBE, PUBLISH+PUBLISH) and splits one PUBLISH (3000-byte "
                       "payload) over two messages (10 bytes, then the rest)." % websockets.__version__),
            "how_logged": ("client->server: the client's own log of what it put in each WebSocket message "
                           "(peer_logs.client), checked against mosquitto's 'Received ...' lines; "
                           "server->client: mosquitto's 'Sending ... to handmade' lines, checked against what "
                           "the client parsed from each message it received (peer_logs.client_received), which "
                           "also gives each server packet's ws_message_index and the SUBACK id."),
            "ws_message_index": ("client: exact (the client counts what it sends); an entry's index is the "
                                 "message that carried it or, for the split PUBLISH, the one that completed it "
                                 "(split_across_ws_messages lists both). server: from the client's receive "
                                 "count. tshark's count of WebSocket data messages per side equals both."),
            "wire_check": facts,
            "packing_seen": "client: 2 messages with 2 MQTT packets each, 1 packet split over 2 messages; "
                            "server: one packet per WebSocket message",
        },
        "connections": [conn],
        "peer_logs": {"broker": broker.log.text(), "client": log.text(), "client_received": recv_log.text()},
    }
    print(bf.write_log(NAME, doc))
    print("  %d->%d: client %d packets in %d WS messages, server %d packets in %d WS messages"
          % (CPORT, SPORT, len(cl), n_client, len(srv), n_server))


if __name__ == "__main__":
    main()
