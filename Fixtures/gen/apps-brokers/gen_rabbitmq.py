"""stomp-rabbitmq and mqtt-rabbitmq: Debian's rabbitmq-server (3.10) with the rabbitmq_web_stomp
and rabbitmq_web_mqtt plugins, one broker run for both captures.

Broker: rabbitmq-server in the foreground in its own session, every path in a temp dir
(RABBITMQ_CONFIG_FILE, _ENABLED_PLUGINS_FILE, _MNESIA_BASE, _LOG_BASE, HOME for the Erlang
cookie), its ports in 20590-20599 (AMQP 20590, Erlang distribution 20592, its own epmd on
ERL_EPMD_PORT 20593 started and stopped here, STOMP/TCP 20594, MQTT/TCP 20595; nothing connects
to those), web_stomp on 127.0.0.1:20320 and web_mqtt on 127.0.0.1:20330 (path /ws both).
Stopped with SIGTERM to its process group (by the PID started here).

stomp-rabbitmq (server port 20320): a minimal STOMP 1.2 client written for this fixture (no
STOMP-over-WebSocket client library is packaged): python websockets 17 for the WebSocket layer,
subprotocols v12.stomp, v11.stomp, v10.stomp; it builds every STOMP frame itself, sends each in
its own text message and logs every frame it sends and every WebSocket message it receives
(RabbitMQ does not log STOMP frames).
  connection 1 (client port 20431): CONNECT (heart-beat 1000,1000) / CONNECTED; SUBSCRIBE
  ack:client-individual receipt / RECEIPT; SEND with content-length and receipt / MESSAGE +
  RECEIPT; ACK with receipt / RECEIPT; SEND of a body holding a NUL byte (content-length) /
  MESSAGE + RECEIPT; ACK; ~3.5 s idle with heart-beats ("\n" messages) both ways; UNSUBSCRIBE
  with receipt / RECEIPT; DISCONNECT with receipt: RabbitMQ closes the WebSocket (1000 "STOMP
  died") WITHOUT the RECEIPT (its "requests" entry has response null).
  connection 2 (client port 20432): CONNECT (heart-beat 0,0) / CONNECTED; SEND to an invalid
  destination with a receipt / ERROR (RabbitMQ keeps the connection); the client closes.

mqtt-rabbitmq (server port 20330): paho-mqtt 2.2, MQTTv311 (RabbitMQ 3.10 has no MQTT 5),
transport websockets, path /ws, client port 20441: CONNECT (keepalive 2, a will); SUBSCRIBE
[rmq/# QoS 1, rmq/zero QoS 0] / SUBACK; PUBLISH rmq/a QoS 1 and rmq/zero QoS 0 to itself
(PUBACK; delivered back, PUBACK from the client); idle > keepalive (PINGREQ/PINGRESP);
UNSUBSCRIBE / UNSUBACK; DISCONNECT.  RabbitMQ does not log MQTT packets: client->server
entries are paho's 'Sending' lines, server->client entries paho's 'Received' lines (the
receiving peer's log), checked against the capture.
"""
import asyncio
import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time

import paho.mqtt
import paho.mqtt.client as mqtt
import websockets
from websockets.asyncio.client import connect

import brokerfix as bf

STOMP_PORT, MQTT_PORT = 20320, 20330
AMQP_PORT, DIST_PORT, EPMD_PORT, STOMP_TCP, MQTT_TCP = 20590, 20592, 20593, 20594, 20595
C_STOMP1, C_STOMP2, C_MQTT = 20431, 20432, 20441


# --------------------------------------------------------------------------- broker
class RabbitMQ:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="wstrace-rabbit-")
        for d in ("mnesia", "log", "home"):
            os.makedirs(os.path.join(self.dir, d))
        self.conf = ("listeners.tcp.default = 127.0.0.1:%d\n"
                     "loopback_users.guest = true\n"
                     "stomp.listeners.tcp.1 = 127.0.0.1:%d\n"
                     "mqtt.listeners.tcp.default = 127.0.0.1:%d\n"
                     "mqtt.allow_anonymous = true\n"
                     "web_stomp.tcp.ip = 127.0.0.1\n"
                     "web_stomp.tcp.port = %d\n"
                     "web_mqtt.tcp.ip = 127.0.0.1\n"
                     "web_mqtt.tcp.port = %d\n"
                     % (AMQP_PORT, STOMP_TCP, MQTT_TCP, STOMP_PORT, MQTT_PORT))
        self.conf_path = os.path.join(self.dir, "rabbitmq.conf")
        with open(self.conf_path, "w") as f:
            f.write(self.conf)
        self.plugins = "[rabbitmq_web_stomp,rabbitmq_web_mqtt]."
        self.plugins_path = os.path.join(self.dir, "enabled_plugins")
        with open(self.plugins_path, "w") as f:
            f.write(self.plugins + "\n")
        self.env = dict(os.environ,
                        HOME=os.path.join(self.dir, "home"),
                        RABBITMQ_CONFIG_FILE=self.conf_path,
                        RABBITMQ_ENABLED_PLUGINS_FILE=self.plugins_path,
                        RABBITMQ_MNESIA_BASE=os.path.join(self.dir, "mnesia"),
                        RABBITMQ_LOG_BASE=os.path.join(self.dir, "log"),
                        RABBITMQ_NODE_PORT=str(AMQP_PORT),
                        RABBITMQ_DIST_PORT=str(DIST_PORT),
                        ERL_EPMD_PORT=str(EPMD_PORT),
                        RABBITMQ_NODENAME="wstrace@localhost",
                        RABBITMQ_PID_FILE=os.path.join(self.dir, "rabbit.pid"),
                        RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}")
        self.env_shown = {k: v for k, v in self.env.items() if k.startswith(("RABBITMQ_", "ERL_")) or k == "HOME"}
        self.epmd = self.server = None

    def start(self):
        self.epmd = bf.Proc(["epmd", "-address", "127.0.0.1", "-port", str(EPMD_PORT)], env=self.env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        bf.wait_port(EPMD_PORT)
        out = open(os.path.join(self.dir, "server.out"), "w")
        self.server = bf.Proc(["/usr/lib/rabbitmq/bin/rabbitmq-server"], env=self.env, stdout=out,
                              stderr=subprocess.STDOUT)
        t0 = time.time()
        bf.wait_port(STOMP_PORT, timeout=90)
        bf.wait_port(MQTT_PORT, timeout=30)
        print("  rabbitmq up in %.1f s" % (time.time() - t0))
        return self

    def stop(self):
        if self.server is not None:
            self.server.stop(signal.SIGTERM, grace=30)
        if self.epmd is not None:
            self.epmd.stop(signal.SIGTERM)

    def log_lines(self):
        p = os.path.join(self.dir, "log", "wstrace@localhost.log")
        try:
            with open(p) as f:
                return [l.rstrip("\n") for l in f]
        except FileNotFoundError:
            return []

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)


# --------------------------------------------------------------------------- STOMP
def stomp_frame(command, headers, body=b""):
    h = "".join("%s:%s\n" % (k, v) for k, v in headers)
    return (command + "\n" + h + "\n").encode() + body + b"\x00"


def parse_stomp_message(data):
    """One WebSocket message (bytes) -> [item]: a frame {"command","headers","body_length",
    "trailing_eols"} or a heart-beat {"heartbeat": eol}. Follows STOMP 1.2: frames end with
    NUL (or after content-length bytes of body), any EOLs after a frame; a message of EOLs only
    is heart-beats."""
    items = []
    i = 0
    while i < len(data):
        if data[i:i + 1] == b"\n" or data[i:i + 2] == b"\r\n":
            n = 1 if data[i:i + 1] == b"\n" else 2
            if items and "command" in items[-1]:
                items[-1]["trailing_eols"] += 1
            else:
                items.append({"heartbeat": data[i:i + n].decode()})
            i += n
            continue
        end_head = data.index(b"\n\n", i)
        lines = data[i:end_head].decode("utf-8").split("\n")
        command, headers = lines[0].rstrip("\r"), {}
        for l in lines[1:]:
            k, _, v = l.rstrip("\r").partition(":")
            headers.setdefault(k, v)          # STOMP 1.2: the first occurrence wins
        b0 = end_head + 2
        if "content-length" in headers:
            b1 = b0 + int(headers["content-length"])
            assert data[b1:b1 + 1] == b"\x00"
        else:
            b1 = data.index(b"\x00", b0)
        items.append({"command": command, "headers": headers, "body_length": b1 - b0, "trailing_eols": 0,
                      "body": data[b0:b1]})
        i = b1 + 1
    return items


def stomp_entry(side, item, idx, msg_len, source):
    if "heartbeat" in item:
        return {"from": side, "proto": "stomp", "type": "heartbeat", "id": None, "command": None,
                "headers": None, "body_length": None, "heartbeat_eol": item["heartbeat"],
                "ws_message_index": idx, "ws_message_length": msg_len, "source": source}
    h = item["headers"]
    if item["command"] in ("RECEIPT", "ERROR"):
        rid = h.get("receipt-id")
    elif side == "client":
        rid = h.get("receipt")
    else:
        rid = None
    e = {"from": side, "proto": "stomp", "type": item["command"], "id": rid, "command": item["command"],
         "headers": h, "body_length": item["body_length"], "ws_message_index": idx, "ws_message_length": msg_len,
         "source": source}
    if side == "server":
        e["trailing_eols"] = item["trailing_eols"]
    return e


class StompClient:
    def __init__(self, name, cport, log, events):
        self.name, self.cport, self.log, self.events = name, cport, log, events
        self.sent_idx = 0
        self.recv_idx = 0
        self.inbox = asyncio.Queue()
        self.hb_task = None

    def ev(self, t, e):
        e["log_time"] = round(t, 6)
        self.events.append(e)

    async def open(self):
        s = bf.client_socket(self.cport, ("127.0.0.1", STOMP_PORT))
        self.ws = await connect("ws://127.0.0.1:%d/ws" % STOMP_PORT, sock=s,
                                subprotocols=["v12.stomp", "v11.stomp", "v10.stomp"], compression=None,
                                ping_interval=None, close_timeout=3)
        self.log.add("[%s] websocket open from port %d, subprotocol=%s" % (self.name, self.cport, self.ws.subprotocol))
        self.reader = asyncio.create_task(self._read())

    async def _read(self):
        try:
            async for m in self.ws:
                t = time.time()
                data = m.encode() if isinstance(m, str) else m
                idx = self.recv_idx
                self.recv_idx += 1
                items = parse_stomp_message(data)
                line = "[%s] received ws message %d (%s, %d bytes): %s" % (
                    self.name, idx, "text" if isinstance(m, str) else "binary", len(data), json.dumps(m if isinstance(m, str) else data.hex()))
                self.log.add(line, t)
                for it in items:
                    self.ev(t, stomp_entry("server", it, idx, len(data), line))
                    if "command" in it:
                        await self.inbox.put(it)
        except websockets.ConnectionClosed:
            pass
        self.log.add("[%s] websocket closed: code=%s reason=%r" % (
            self.name, self.ws.close_code, self.ws.close_reason))

    async def send_raw(self, data, item):
        idx = self.sent_idx
        self.sent_idx += 1
        t = time.time()
        line = "[%s] sent ws message %d (text, %d bytes): %s" % (self.name, idx, len(data), json.dumps(data.decode()))
        self.log.add(line, t)
        self.ev(t, stomp_entry("client", item, idx, len(data), line))
        await self.ws.send(data.decode())

    async def send(self, command, headers, body=b""):
        data = stomp_frame(command, headers, body)
        await self.send_raw(data, {"command": command, "headers": dict(headers), "body_length": len(body),
                                   "trailing_eols": 0})

    async def expect(self, command, timeout=10):
        it = await asyncio.wait_for(self.inbox.get(), timeout)
        assert it["command"] == command, (it["command"], command, it)
        return it

    async def heartbeats(self, period):
        while True:
            await asyncio.sleep(period)
            await self.send_raw(b"\n", {"heartbeat": "\n"})

    async def close(self):
        if self.hb_task:
            self.hb_task.cancel()
        await self.ws.close()
        await self.reader


async def stomp_session(log, events):
    q = "/queue/wstrace"
    c = StompClient("conn1", C_STOMP1, log, events)
    await c.open()
    assert c.ws.subprotocol == "v12.stomp", c.ws.subprotocol
    await c.send("CONNECT", [("accept-version", "1.0,1.1,1.2"), ("host", "/"), ("login", "guest"),
                             ("passcode", "guest"), ("heart-beat", "1000,1000")])
    con = await c.expect("CONNECTED")
    _, cy = (int(x) for x in con["headers"].get("heart-beat", "0,0").split(","))
    # the client sends heart-beats every max(1000, server's cy) ms
    period = max(1000, cy) / 1000.0 if cy else None
    if period:
        c.hb_task = asyncio.create_task(c.heartbeats(period))
    await c.send("SUBSCRIBE", [("id", "sub-0"), ("destination", q), ("ack", "client-individual"),
                               ("receipt", "rcpt-subscribe")])
    await c.expect("RECEIPT")
    body = "hello over STOMP".encode()
    await c.send("SEND", [("destination", q), ("content-type", "text/plain"), ("content-length", str(len(body))),
                          ("receipt", "rcpt-send-1")], body)
    m1 = None
    for _ in range(2):
        it = await asyncio.wait_for(c.inbox.get(), 10)
        if it["command"] == "MESSAGE":
            m1 = it
        else:
            assert it["command"] == "RECEIPT", it
    await c.send("ACK", [("id", m1["headers"]["ack"]), ("receipt", "rcpt-ack-1")])
    await c.expect("RECEIPT")
    body2 = b"nul\x00inside"
    await c.send("SEND", [("destination", q), ("content-type", "application/octet-stream"),
                          ("content-length", str(len(body2))), ("receipt", "rcpt-send-2")], body2)
    m2 = None
    for _ in range(2):
        it = await asyncio.wait_for(c.inbox.get(), 10)
        if it["command"] == "MESSAGE":
            m2 = it
        else:
            assert it["command"] == "RECEIPT", it
    assert m2["body"] == body2, m2
    await c.send("ACK", [("id", m2["headers"]["ack"])])
    await asyncio.sleep(3.5)                          # heart-beats both ways
    await c.send("UNSUBSCRIBE", [("id", "sub-0"), ("receipt", "rcpt-unsubscribe")])
    await c.expect("RECEIPT")
    if c.hb_task:
        c.hb_task.cancel()
        c.hb_task = None
    await c.send("DISCONNECT", [("receipt", "rcpt-disconnect")])
    # RabbitMQ 3.10 web-stomp answers a DISCONNECT (with receipt) by closing the WebSocket
    # (1000 "STOMP died") without a RECEIPT; take whichever comes
    try:
        await asyncio.wait_for(asyncio.shield(c.reader), 5)
    except asyncio.TimeoutError:
        pass
    if not c.inbox.empty():
        log.add("[conn1] after DISCONNECT: %s" % (await c.inbox.get())["command"])
    await c.close()

    d = StompClient("conn2", C_STOMP2, log, events)
    await d.open()
    await d.send("CONNECT", [("accept-version", "1.2"), ("host", "/"), ("login", "guest"), ("passcode", "guest"),
                             ("heart-beat", "0,0")])
    await d.expect("CONNECTED")
    await d.send("SEND", [("destination", "/bogus/place"), ("content-type", "text/plain"), ("content-length", "3"),
                          ("receipt", "rcpt-bad-destination")], b"bad")
    await d.expect("ERROR")
    try:
        await asyncio.wait_for(asyncio.shield(d.reader), 1.5)   # does the broker close after ERROR?
        log.add("[conn2] the broker closed the connection after ERROR")
    except asyncio.TimeoutError:
        log.add("[conn2] connection still open 1.5 s after ERROR; the client closes it")
    await d.close()
    return {"conn1": c, "conn2": d}


def stomp_capture(rabbit):
    name = "stomp-rabbitmq"
    log = bf.LineLog("client")
    events = []
    with bf.AppsCapture(name, [STOMP_PORT]) as cap:
        try:
            conns = asyncio.run(stomp_session(log, events))
        except BaseException:
            print("\n".join(log.text()))
            raise
    pcap = cap.path
    frames = bf.ws_frames(pcap, STOMP_PORT)
    out = []
    facts = {}
    for key, cport in (("conn1", C_STOMP1), ("conn2", C_STOMP2)):
        msgs = [e for e in events if ("[%s]" % key) in e["source"]]
        for side in ("client", "server"):
            mine = [e for e in msgs if e["from"] == side]
            n_log = (max(e["ws_message_index"] for e in mine) + 1) if mine else 0
            wire = bf.data_messages(frames.get((cport, side), []))
            assert len(wire) == n_log, (key, side, len(wire), n_log)
            by_idx = {e["ws_message_index"]: e["ws_message_length"] for e in mine}
            for k, w in enumerate(wire):
                assert w["opcode"] == 1 and w["frames"] == 1, (key, side, k, w)
                assert w["length"] == by_idx[k], (key, side, k, w["length"], by_idx[k])
                first = [e for e in mine if e["ws_message_index"] == k][0]
                if first["type"] != "heartbeat":
                    assert (w["text"] or "").startswith(first["command"]), (w["text"], first["command"])
            facts["%d:%s" % (cport, side)] = {
                "ws_data_messages": len(wire), "stomp_frames": sum(e["type"] != "heartbeat" for e in mine),
                "heartbeats": sum(e["type"] == "heartbeat" for e in mine),
                "messages_with_several_frames": sum(1 for k in range(n_log) if sum(
                    e["ws_message_index"] == k and e["type"] != "heartbeat" for e in mine) > 1),
                "frames_followed_by_eol_in_same_message": sum(1 for e in mine if e.get("trailing_eols"))}
        tcp = bf.conn_complete(pcap, cport, STOMP_PORT)
        assert tcp["complete"], tcp
        out.append({"client_port": cport, "server_port": STOMP_PORT, "subprotocol": conns[key].ws.subprotocol,
                    "path": "/ws", "messages": msgs, "requests": bf.pair_requests(msgs), "tcp": tcp,
                    "ws_close": {"code": conns[key].ws.close_code, "reason": conns[key].ws.close_reason}})
    doc = {
        "fixture": name + ".pcap",
        "generator": "Fixtures/gen/apps-brokers/gen_rabbitmq.py",
        "setup": {
            "broker": "rabbitmq-server %s (Debian), Erlang/OTP %s, plugins %s" % (
                bf.dpkg_version("rabbitmq-server"), bf.dpkg_version("erlang-base"), rabbit.plugins),
            "broker_config": rabbit.conf.splitlines(),
            "broker_env": rabbit.env_shown,
            "client": ("HAND-BUILT: a minimal STOMP 1.2 client written for this fixture on python websockets "
                       "%s (WebSocket layer: the library; STOMP frames: built and parsed by this script). "
                       "Subprotocols offered v12.stomp, v11.stomp, v10.stomp. One STOMP frame per WebSocket "
                       "text message; heart-beats as a lone \"\\n\" text message every max(1000 ms, the "
                       "server's wanted interval)." % websockets.__version__),
            "connections": {
                "conn1": "client port %d: CONNECT heart-beat 1000,1000; SUBSCRIBE /queue/wstrace "
                         "ack:client-individual receipt; SEND (content-length, receipt); ACK (receipt); SEND "
                         "of a 10-byte body with a NUL inside (content-length, receipt); ACK; 3.5 s idle; "
                         "UNSUBSCRIBE (receipt); DISCONNECT (receipt): RabbitMQ sends no RECEIPT but closes the "
                         "WebSocket itself (Close 1000 'STOMP died')" % C_STOMP1,
                "conn2": "client port %d: CONNECT heart-beat 0,0; SEND to /bogus/place with a receipt -> ERROR "
                         "(receipt-id); the client closes" % C_STOMP2},
            "how_logged": ("Every entry comes from the client's own log (peer_logs.client): what it sent, and "
                           "every WebSocket message it received parsed as STOMP (RabbitMQ does not log STOMP "
                           "frames). 'id': the receipt header on a client frame, receipt-id on RECEIPT and "
                           "ERROR, else null. RabbitMQ copies the SEND's receipt header into the MESSAGE it "
                           "delivers (headers.receipt on MESSAGE; not a request, id null). log_time: when the "
                           "client sent / received the message."),
            "ws_message_index": ("Exact both ways: the client counts the messages it sends and receives. "
                                 "Checked with tshark: per connection and side, the count of WebSocket data "
                                 "messages, each one's length (ws_message_length) and that its text starts "
                                 "with the logged command."),
            "observed": ("RabbitMQ web-stomp sends each STOMP frame in its own text message followed by one "
                         "\"\\n\" (EOL after the NUL, same message: trailing_eols 1 on the frame entry, not a "
                         "heart-beat); heart-beats are messages holding only \"\\n\". No message held two frames; "
                         "no frame was split or fragmented."),
            "wire_check": facts,
        },
        "connections": out,
        "peer_logs": {"client": log.text(), "broker": rabbit.log_lines()},
        "peer_logs_note": "broker: RabbitMQ's own log file (startup and errors; it does not log STOMP frames)",
    }
    for c in out:
        for e in c["messages"]:
            e["headers"] = e["headers"] if e["headers"] is None else dict(e["headers"])
    print(bf.write_log(name, doc))
    for c in out:
        print("  %d->%d %s: client %d entries, server %d entries" % (c["client_port"], STOMP_PORT, c["subprotocol"],
              sum(e["from"] == "client" for e in c["messages"]), sum(e["from"] == "server" for e in c["messages"])))
    return facts


# --------------------------------------------------------------------------- MQTT
class PahoClient(mqtt.Client):
    """paho's Client with its TCP socket bound to a fixed source port (SO_REUSEADDR)."""

    def _create_socket_connection(self):
        return bf.client_socket(self._wstrace_port, (self._host, self._port), timeout=self._connect_timeout)


def mqtt_capture(rabbit):
    name = "mqtt-rabbitmq"
    log = bf.LineLog("client")
    broker_from = len(rabbit.log_lines())
    cv = threading.Condition()
    state = {"connected": False, "subacks": [], "unsubacks": [], "msgs": []}
    c = PahoClient(mqtt.CallbackAPIVersion.VERSION2, client_id="rmq-client", protocol=mqtt.MQTTv311,
                   transport="websockets")
    c._wstrace_port = bf.check_port(C_MQTT)
    c.ws_set_options(path="/ws")
    c.on_log = lambda cl, u, lvl, s: log.add(s)

    def upd(k, v, line):
        log.add(line)
        with cv:
            if isinstance(state[k], list):
                state[k].append(v)
            else:
                state[k] = v
            cv.notify_all()
    c.on_connect = lambda cl, u, f, rc, p: upd("connected", True, "callback on_connect reason_code=%s" % rc)
    c.on_subscribe = lambda cl, u, mid, rcs, p: upd("subacks", (mid, [int(r.value) for r in rcs]),
                                                    "callback on_subscribe mid=%d reason_codes=%s" % (mid, [str(r) for r in rcs]))
    c.on_unsubscribe = lambda cl, u, mid, rcs, p: upd("unsubacks", mid, "callback on_unsubscribe mid=%d" % mid)
    c.on_message = lambda cl, u, m: upd("msgs", m, "callback on_message topic=%s qos=%d retain=%d mid=%d payload_length=%d"
                                        % (m.topic, m.qos, m.retain, m.mid, len(m.payload)))
    c.will_set("rmq/clients/rmq-client", b"gone", qos=1, retain=False)

    def wait(pred):
        with cv:
            assert cv.wait_for(pred, 10), state

    with bf.AppsCapture(name, [MQTT_PORT]) as cap:
        c.connect("127.0.0.1", MQTT_PORT, keepalive=2)
        c.loop_start()
        wait(lambda: state["connected"])
        c.subscribe([("rmq/#", 1), ("rmq/zero", 0)])
        wait(lambda: state["subacks"])
        i1 = c.publish("rmq/a", b"via rabbit", qos=1)
        i1.wait_for_publish(10)
        i0 = c.publish("rmq/zero", b"q0", qos=0)
        i0.wait_for_publish(10)
        wait(lambda: len(state["msgs"]) >= 2)     # rmq/a, rmq/zero (matches two filters: maybe twice)
        time.sleep(0.5)
        time.sleep(3.2)                            # idle > keepalive: PINGREQ
        c.unsubscribe("rmq/#")
        wait(lambda: state["unsubacks"])
        c.disconnect()
        c.loop_stop()
        time.sleep(0.3)
    pcap = cap.path
    sent_c = bf.paho_sent(log)
    # server->client from paho's 'Received' lines (RabbitMQ logs no packets)
    recv = bf.paho_received(log)
    wire_pk = {}
    frames = bf.ws_frames(pcap, MQTT_PORT)
    for side in ("client", "server"):
        wire_pk[side] = bf.drop_bodies(bf.mqtt_packets(bf.data_messages(frames.get((C_MQTT, side), []))))
    sent_s = []
    rx_pub = __import__("re").compile(r"^Received PUBLISH \(d(\d), q(\d), r(\d), m(\d+)\), '(.*)', \.\.\.  \((\d+) bytes\)$")
    rx_mid = __import__("re").compile(r"^Received (\w+) \(Mid: (\d+)\)")
    subacks = iter(state["subacks"])
    cb_sub = iter([l for l in log.text() if l.startswith("callback on_subscribe")])
    for t, line, typ in recv:
        if typ == "PUBLISH":
            d, q, r, mid, topic, n = rx_pub.match(line).groups()
            e = bf.mqtt_entry("server", "PUBLISH", int(mid) if int(q) else None, topic, int(q), bool(int(r)),
                              bool(int(d)), int(n))
        else:
            e = bf.mqtt_entry("server", typ)
            m = rx_mid.match(line)
            if m:
                e["id"] = int(m.group(2))
            if typ == "SUBACK":
                mid, rcs = next(subacks)
                e["id"], e["reason_codes"], e["id_source"] = mid, rcs, next(cb_sub)
        e["source"] = line
        sent_s.append((t, e))
    for lst in (sent_c, sent_s):
        for k, (_, e) in enumerate(lst):
            e["ws_message_index"] = k
    msgs = []
    for t, _, e in sorted([(t, 0, e) for t, e in sent_c] + [(t, 1, e) for t, e in sent_s], key=lambda x: (x[0], x[1])):
        e["log_time"] = round(t, 6)
        msgs.append(e)
    conn = {"client_port": C_MQTT, "server_port": MQTT_PORT, "subprotocol": "mqtt", "path": "/ws",
            "client_id": "rmq-client", "mqtt_version": "3.1.1", "messages": msgs, "requests": bf.pair_requests(msgs)}
    problems, facts = bf.check_mqtt(pcap, [conn])
    assert not problems, problems
    conn["tcp"] = bf.conn_complete(pcap, C_MQTT, MQTT_PORT)
    hs = bf.tshark_rows(pcap, "http.response", ["http.response.line"])
    doc = {
        "fixture": name + ".pcap",
        "generator": "Fixtures/gen/apps-brokers/gen_rabbitmq.py",
        "setup": {
            "broker": "rabbitmq-server %s (Debian), plugin rabbitmq_web_mqtt" % bf.dpkg_version("rabbitmq-server"),
            "broker_config": rabbit.conf.splitlines(),
            "client": "paho-mqtt %s (PyPI), transport=\"websockets\", path /ws, protocol=MQTTv311, source port %d"
                      % (paho.mqtt.__version__, C_MQTT),
            "what": ("CONNECT keepalive 2 with a will; SUBSCRIBE rmq/# QoS 1 + rmq/zero QoS 0; PUBLISH rmq/a "
                     "QoS 1 and rmq/zero QoS 0 to itself (rmq/zero matches both filters; "
                     "see the log for how often RabbitMQ delivered it); idle > keepalive (PINGREQ); UNSUBSCRIBE rmq/#; DISCONNECT"),
            "how_logged": ("RabbitMQ does not log MQTT packets: client->server entries are paho's on_log "
                           "'Sending' lines, server->client entries paho's on_log 'Received' lines (the receiving "
                           "peer's log; SUBACK id from paho's on_subscribe callback). Both checked against the "
                           "MQTT packets parsed from the capture (type, id, topic, qos, retain, payload length, "
                           "WebSocket message index)."),
            "ws_message_index": "per side in log order, one MQTT packet per WebSocket binary message (checked on the capture)",
            "server_handshake": hs,
            "wire_check": facts,
        },
        "connections": [conn],
        "peer_logs": {"client": log.text(), "broker": rabbit.log_lines()[broker_from:]},
    }
    print(bf.write_log(name, doc))
    print("  %d->%d: client %d, server %d packets" % (C_MQTT, MQTT_PORT, len(sent_c), len(sent_s)))


def main():
    rabbit = RabbitMQ()
    try:
        rabbit.start()
        stomp_capture(rabbit)
        mqtt_capture(rabbit)
    finally:
        rabbit.stop()
        rabbit.cleanup()


if __name__ == "__main__":
    main()
