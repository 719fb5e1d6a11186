"""Shared helpers for the application-protocol captures Fixtures/apps/mqtt-*.pcap and
Fixtures/apps/stomp-*.pcap (real brokers on lo: Debian's mosquitto and rabbitmq-server).

Reuses ../peers/peerfix.py (PeerCapture: tcpdump -i lo -U --immediate-mode -B 32768 with a
port filter, stopped once every connection's FIN/RST is in the file, failing if the kernel
dropped a packet; Proc: a process in its own session, killed by its process group's PID).

Adds:
* AppsCapture  - PeerCapture writing into Fixtures/apps/, ports checked to be in 20300-20599.
* LineLog      - timestamped log lines of one peer (paho's on_log, a hand-built client's own
                 log, mosquitto's stdout read line by line by a thread).
* Mosquitto    - mosquitto -c CONF in a temp dir (websockets listener + the plain TCP listener
                 mosquitto 2.0.11 needs to start at all), its stdout line-buffered (stdbuf -oL)
                 and timestamped, also written to a log file that is kept.
* RabbitMQ     - rabbitmq-server in the foreground with every path and port in a temp dir /
                 in 20590-20599 (its own epmd on ERL_EPMD_PORT, also started and stopped here).
* ws_frames / data_messages / mqtt_packets - tshark: per connection and side, the WebSocket
                 frames and data messages (unmasked payloads), and the MQTT packets in them.
* pair_requests - the "requests" list of a connection (request -> response by id and direction).

Ports: servers 20300-20399, clients 20400-20499, the brokers' internal ports 20590-20599.
"""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "websocket"))
sys.path.insert(0, os.path.join(HERE, "..", "peers"))

import wsfix  # noqa: E402
import peerfix  # noqa: E402
from peerfix import Proc, wait_port  # noqa: E402,F401

# SIGTERM/SIGINT (timeout(1)) -> KeyboardInterrupt so finally blocks stop brokers and tcpdump.
signal.signal(signal.SIGTERM, signal.default_int_handler)

FIXTURES = wsfix.FIXTURES
OUT_DIR = os.path.join(FIXTURES, "apps")
LOG_DIR = wsfix.LOG_DIR


def check_port(p):
    assert 20300 <= p <= 20599, p
    return p


def client_socket(port, dst, timeout=None):
    """A client's TCP socket from 127.0.0.1:port (this generator's range; SO_REUSEADDR, so a
    rerun within TIME_WAIT can bind it again), connected to dst. Non-blocking unless a timeout
    is given (paho's own sockets keep theirs)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", check_port(port)))
    if timeout is not None:
        s.settimeout(timeout)
    s.connect(dst)
    if timeout is None:
        s.setblocking(False)
    return s


def mqtt_varint(buf, i):
    """MQTT's variable byte integer at buf[i:] (at most 4 bytes): (value, index after it), or
    None when buf ends first or the integer runs past 4 bytes."""
    mult, n = 1, 0
    for j in range(i, min(len(buf), i + 4)):
        b = buf[j]
        n += (b & 0x7F) * mult
        mult *= 128
        if not b & 0x80:
            return n, j + 1
    return None


def pcap_path(name):
    return os.path.join(OUT_DIR, name + ".pcap")


class AppsCapture(peerfix.PeerCapture):
    """peerfix.PeerCapture (-B 32768, drop check) into Fixtures/apps/."""

    def __init__(self, name, ports, iface="lo"):
        # wsfix.Capture.__init__ insists on 19000-19999; set its fields ourselves.
        self.ports = [check_port(p) for p in ports]
        self.iface = iface
        self.proc = None
        os.makedirs(OUT_DIR, exist_ok=True)
        self.path = pcap_path(name)
        self.name = name

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def __exit__(self, exc_type, *exc):
        if exc_type is not None:
            self.kill()
            return False
        self.stop()
        return False


class LineLog:
    """[(time, line)] of one peer, thread-safe."""

    def __init__(self, name):
        self.name = name
        self.lines = []
        self.lock = threading.Lock()

    def add(self, line, t=None):
        with self.lock:
            self.lines.append((time.time() if t is None else t, line))

    def text(self):
        with self.lock:
            return [l for _, l in self.lines]

    def items(self):
        with self.lock:
            return list(self.lines)


def version_of(argv, pattern=None):
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=20)
        s = (out.stdout + out.stderr).strip().splitlines()
        if pattern:
            s = [l for l in s if re.search(pattern, l)]
        return s[0].strip() if s else None
    except Exception as e:  # noqa: BLE001
        return "unknown (%s)" % e


def dpkg_version(pkg):
    return version_of(["dpkg-query", "-W", "-f", "${Version}", pkg])


# --------------------------------------------------------------------------- mosquitto
class Mosquitto:
    """mosquitto with `listener WSPORT` + `protocol websockets` (all addresses: with an address,
    mosquitto 2.0.11 hands it to libwebsockets as an interface name and fails), plus
    `listener TCPPORT 127.0.0.1` (mosquitto 2.0.11 exits with 'Unable to start any listening
    sockets' when its only listener is a websockets one).  Nothing connects to TCPPORT."""

    def __init__(self, ws_port, tcp_port, extra_conf=""):
        self.ws_port = check_port(ws_port)
        self.tcp_port = check_port(tcp_port)
        self.dir = tempfile.mkdtemp(prefix="wstrace-mosq-")
        os.chmod(self.dir, 0o777)          # mosquitto drops root to user mosquitto
        self.logfile = os.path.join(self.dir, "mosquitto.log")
        self.conf = ("per_listener_settings false\n"
                     "allow_anonymous true\n"
                     "persistence false\n"
                     "log_type all\n"
                     "log_dest stdout\n"
                     "log_dest file %s\n"
                     "websockets_log_level 0\n"
                     "listener %d\n"
                     "protocol websockets\n"
                     "listener %d 127.0.0.1\n"
                     "protocol mqtt\n" % (self.logfile, self.ws_port, self.tcp_port)) + extra_conf
        self.conf_path = os.path.join(self.dir, "mosquitto.conf")
        with open(self.conf_path, "w") as f:
            f.write(self.conf)
        self.log = LineLog("broker")
        self.proc = None

    def start(self):
        self.proc = Proc(["stdbuf", "-oL", "mosquitto", "-c", self.conf_path], stderr=subprocess.STDOUT)
        self.t = threading.Thread(target=self._read, daemon=True)
        self.t.start()
        wait_port(self.ws_port)
        return self

    def _read(self):
        for line in self.proc.p.stdout:
            self.log.add(line.rstrip("\n"))

    def stop(self):
        if self.proc is not None:
            self.proc.stop(signal.SIGTERM)
            self.t.join(timeout=3)

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False


# mosquitto log lines (2.0.11), after the "1234567890: " timestamp
MOSQ_RE = [
    (re.compile(r"^Sending PUBLISH to (\S+) \(d(\d), q(\d), r(\d), m(\d+), '(.*)', \.\.\. \((\d+) bytes\)\)$"),
     "PUBLISH"),
    (re.compile(r"^Sending (CONNACK) to (\S+) \((\d+), (\d+)\)$"), None),
    (re.compile(r"^Sending (PUBACK|PUBREC) to (\S+) \(m(\d+), rc(\d+)\)$"), None),
    (re.compile(r"^Sending (PUBREL|PUBCOMP) to (\S+) \(m(\d+)\)$"), None),
    (re.compile(r"^Sending (SUBACK|UNSUBACK|PINGRESP) to (\S+)$"), None),
    (re.compile(r"^Sending (DISCONNECT) to (\S+)(.*)$"), None),
]


def strip_mosq_ts(line):
    m = re.match(r"^\d+: (.*)$", line)
    return m.group(1) if m else line


def mqtt_entry(frm, typ, mid=None, topic=None, qos=None, retain=None, dup=None, plen=None, **extra):
    e = {"from": frm, "proto": "mqtt", "type": typ, "id": mid}
    if typ == "PUBLISH":
        e.update({"topic": topic, "qos": qos, "retain": retain, "dup": dup, "payload_length": plen})
    else:
        e.update({"topic": None, "qos": None, "retain": None, "dup": None, "payload_length": None})
    e.update(extra)
    return e


def mosquitto_sent(broker_log, client_id):
    """[(t, entry)] for every packet mosquitto logged as sent to client_id, in log order."""
    out = []
    for t, raw in broker_log.items():
        line = strip_mosq_ts(raw)
        for rx, kind in MOSQ_RE:
            m = rx.match(line)
            if not m:
                continue
            if kind == "PUBLISH":
                cid, d, q, r, mid, topic, n = m.groups()
                if cid != client_id:
                    break
                e = mqtt_entry("server", "PUBLISH", int(mid) if int(q) else None, topic, int(q), bool(int(r)),
                               bool(int(d)), int(n))
                e["broker_mid_field"] = int(mid)
            else:
                typ, cid = m.group(1), m.group(2)
                if cid != client_id:
                    break
                g = m.groups()[2:]
                e = mqtt_entry("server", typ)
                if typ == "CONNACK":
                    e["session_present"] = int(g[0])
                    e["reason_code"] = int(g[1])
                elif typ in ("PUBACK", "PUBREC"):
                    e["id"] = int(g[0])
                    e["reason_code"] = int(g[1])
                elif typ in ("PUBREL", "PUBCOMP"):
                    e["id"] = int(g[0])
            e["source"] = raw
            out.append((t, e))
            break
    return out


def mosquitto_received(broker_log, client_id):
    """Lines in which mosquitto logged a packet it received from client_id (cross-check)
    (mosquitto logs a CONNECT as "New client connected from ADDR:PORT as CLIENTID (...)".)"""
    rx = re.compile(r"^Received (\w+) from %s\b" % re.escape(client_id))
    rc = re.compile(r"^New client connected from \S+ as %s \(" % re.escape(client_id))
    out = []
    for t, raw in broker_log.items():
        line = strip_mosq_ts(raw)
        m = rx.match(line)
        if m:
            out.append((t, raw, m.group(1)))
        elif rc.match(line):
            out.append((t, raw, "CONNECT"))
    return out


# paho-mqtt 2.2 on_log lines ("Sending ..." is logged when the packet is queued; paho's
# out-queue is FIFO and each packet goes out in its own WebSocket message)
PAHO_SEND = [
    (re.compile(r"^Sending PUBLISH \(d(\d), q(\d), r(\d), m(\d+)\), '(.*)'(?:, properties=.*?)?"
                r"(?:, \.\.\. \((\d+) bytes\)| \(NULL payload\))$"), "PUBLISH"),
    (re.compile(r"^Sending (CONNECT) \((.*)\) client_id=(.*)$"), None),
    (re.compile(r"^Sending (SUBSCRIBE|UNSUBSCRIBE) \(d(\d), m(\d+)\) (.*)$"), None),
    (re.compile(r"^Sending (PUBACK|PUBREC|PUBREL|PUBCOMP) \(Mid: (\d+)\)$"), None),
    (re.compile(r"^Sending (PINGREQ|PINGRESP)$"), None),
    (re.compile(r"^Sending (DISCONNECT)(.*)$"), None),
]


def paho_topic(s):
    m = re.match(r"^b'(.*)'$", s)
    return m.group(1) if m else s


def paho_sent(client_log):
    out = []
    for t, line in client_log.items():
        for rx, kind in PAHO_SEND:
            m = rx.match(line)
            if not m:
                continue
            if kind == "PUBLISH":
                d, q, r, mid, topic, n = m.groups()
                e = mqtt_entry("client", "PUBLISH", int(mid) if int(q) else None, paho_topic(topic), int(q),
                               bool(int(r)), bool(int(d)), int(n) if n is not None else 0)
                e["paho_mid_field"] = int(mid)
            else:
                typ = m.group(1)
                e = mqtt_entry("client", typ)
                if typ in ("SUBSCRIBE", "UNSUBSCRIBE"):
                    e["id"] = int(m.group(3))
                elif typ in ("PUBACK", "PUBREC", "PUBREL", "PUBCOMP"):
                    e["id"] = int(m.group(2))
            e["source"] = line
            out.append((t, e))
            break
    return out


def paho_received(client_log):
    rx = re.compile(r"^Received (\w+)")
    return [(t, l, rx.match(l).group(1)) for t, l in client_log.items() if rx.match(l)]


# --------------------------------------------------------------------------- pairing
PAIRS_MQTT = {"PUBLISH": None, "PUBREL": "PUBCOMP", "SUBSCRIBE": "SUBACK", "UNSUBSCRIBE": "UNSUBACK"}


def pair_requests(messages):
    """MQTT: PUBLISH(q1)->PUBACK, PUBLISH(q2)->PUBREC, PUBREL->PUBCOMP, SUBSCRIBE->SUBACK,
    UNSUBSCRIBE->UNSUBACK, matched by packet id, the response from the other side, the first
    unmatched one after the request.  STOMP: a client frame with a receipt header -> the
    RECEIPT (or ERROR) whose receipt-id equals it."""
    def brief(m):
        return {"type": m["type"], "id": m["id"], "from": m["from"], "ws_message_index": m["ws_message_index"]}
    used = set()
    reqs = []
    for i, m in enumerate(messages):
        if m["proto"] == "mqtt":
            if m["type"] == "PUBLISH":
                want = {1: "PUBACK", 2: "PUBREC"}.get(m["qos"])
            else:
                want = PAIRS_MQTT.get(m["type"])
            if want is None or m["id"] is None:
                continue
        else:
            if m["from"] != "client" or m["id"] is None:
                continue
            want = ("RECEIPT", "ERROR")
        for j in range(i + 1, len(messages)):
            r = messages[j]
            if j in used or r["from"] == m["from"] or r["id"] != m["id"]:
                continue
            if r["type"] != want and r["type"] not in (want if isinstance(want, tuple) else ()):
                continue
            used.add(j)
            reqs.append({"request": brief(m), "response": brief(r)})
            break
        else:
            reqs.append({"request": brief(m), "response": None})
    return reqs


def index_per_side(messages):
    """Sets ws_message_index = the count of earlier entries from the same side (one packet
    per WebSocket message) unless the entry already has one."""
    n = {"client": 0, "server": 0}
    for m in messages:
        if m.get("ws_message_index") is None:
            m["ws_message_index"] = n[m["from"]]
            n[m["from"]] += 1
        else:
            n[m["from"]] = m["ws_message_index"] + 1


# --------------------------------------------------------------------------- tshark
def tshark_rows(pcap, display_filter, fields, extra=()):
    args = ["tshark", "-r", pcap] + list(extra)
    if display_filter:
        args += ["-Y", display_filter]
    args += ["-T", "fields", "-E", "occurrence=a", "-E", "separator=\t", "-E", "aggregator=,"]
    for f in fields:
        args += ["-e", f]
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    return [l.split("\t") for l in out.splitlines()]


def ws_frames(pcap, server_port):
    """{(client_port, side): [frame]} for every WebSocket frame tshark dissects, in capture
    order; frame = {"opcode", "fin", "length", "data" (bytes, unmasked: binary frames),
    "text" (str as tshark prints websocket.payload.text: text frames, up to a NUL)}.
    (tshark 4.0 does not hand binary WebSocket payloads with subprotocol mqtt to its MQTT
    dissector, so MQTT is parsed from data.data by mqtt_packets below.)"""
    res = {}
    rows = tshark_rows(pcap, "websocket", ["tcp.srcport", "tcp.dstport", "websocket.opcode", "websocket.fin",
                                           "websocket.payload_length", "websocket.payload_length_ext_16",
                                           "websocket.payload_length_ext_64", "data.data",
                                           "websocket.payload.text"],
                       extra=["-E", "aggregator=\x01"])
    for sp, dp, ops, fins, lens, l16, l64, data, text in rows:
        sp, dp = int(sp), int(dp)
        side = "server" if sp == server_port else "client"
        cport = dp if side == "server" else sp
        sep = "\x01"
        l16 = iter(l16.split(sep) if l16 else [])
        l64 = iter(l64.split(sep) if l64 else [])
        data = iter(data.split(sep) if data else [])
        text = iter(text.split(sep) if text else [])
        for op, fin, ln in zip(ops.split(sep), fins.split(sep), lens.split(sep)):
            op, ln = int(op, 0), int(ln)
            if ln == 126:
                ln = int(next(l16))
            elif ln == 127:
                ln = int(next(l64))
            f = {"opcode": op, "fin": fin in ("1", "True"), "length": ln, "data": None, "text": None}
            if op == 2 and ln:
                f["data"] = bytes.fromhex(next(data))
            elif op == 1 and ln:
                f["text"] = next(text, None)
            res.setdefault((cport, side), []).append(f)
    return res


def data_messages(frames):
    """WebSocket data messages of one side: [{"opcode", "frames", "length", "data"}] (frames
    of a fragmented message joined; data None for text)."""
    out = []
    for f in frames:
        if f["opcode"] in (1, 2):
            out.append({"opcode": f["opcode"], "frames": 1, "length": f["length"],
                        "data": f["data"] if f["opcode"] == 2 else None, "text": f["text"], "done": f["fin"]})
        elif f["opcode"] == 0 and out:
            m = out[-1]
            m["frames"] += 1
            m["length"] += f["length"]
            if m["data"] is not None:
                m["data"] += f["data"] or b""
            m["done"] = f["fin"]
    return out


def mqtt_packets(messages):
    """MQTT packets parsed from one side's binary WebSocket messages (a stream: packets may
    be packed in one message or split across several): [{"type", "id", "topic", "qos",
    "retain", "dup", "payload_length", "ws_message_index" (the message completing it),
    "ws_message_first" (the one it starts in)}]."""
    import struct as _st
    out = []
    buf = b""
    start = None
    for k, m in enumerate(messages):
        if m["data"] is None:
            continue
        if not buf:
            start = k
        buf += m["data"]
        while len(buf) >= 2:
            length = mqtt_varint(buf, 1)
            if length is None or len(buf) < length[1] + length[0]:
                break
            n, i = length
            typ, flags, body = buf[0] >> 4, buf[0] & 0x0F, buf[i:i + n]
            e = {"type": MQTT_TYPES[typ], "id": None, "topic": None, "qos": None, "retain": None, "dup": None,
                 "payload_length": None, "ws_message_index": k, "ws_message_first": start}
            if typ == 3:
                qos = (flags >> 1) & 3
                tl = _st.unpack("!H", body[:2])[0]
                off = 2 + tl
                e.update(topic=body[2:off].decode("utf-8", "replace"), qos=qos, retain=bool(flags & 1),
                         dup=bool(flags & 8))
                if qos:
                    e["id"] = _st.unpack("!H", body[off:off + 2])[0]
                    off += 2
                e["payload_length"] = len(body) - off   # v5: properties come first (see mqtt5_payload_length)
                e["_body_after_id"] = body[off:]
            elif typ in (4, 5, 6, 7, 8, 9, 10, 11):
                e["id"] = _st.unpack("!H", body[:2])[0]
            out.append(e)
            buf = buf[i + n:]
            start = k
    return out


def mqtt5_fix_payload_lengths(pkts):
    """MQTT 5 PUBLISH: strip the properties (a varint length first) from payload_length."""
    for e in pkts:
        b = e.pop("_body_after_id", None)
        if b is None:
            continue
        properties = mqtt_varint(b, 0)
        assert properties is not None, "MQTT 5 PUBLISH without its properties length"
        n, i = properties
        e["payload_length"] = len(b) - i - n
        e["properties_length"] = n
    return pkts


def drop_bodies(pkts):
    for e in pkts:
        e.pop("_body_after_id", None)
    return pkts


MQTT_TYPES = {1: "CONNECT", 2: "CONNACK", 3: "PUBLISH", 4: "PUBACK", 5: "PUBREC", 6: "PUBREL", 7: "PUBCOMP",
              8: "SUBSCRIBE", 9: "SUBACK", 10: "UNSUBSCRIBE", 11: "UNSUBACK", 12: "PINGREQ", 13: "PINGRESP",
              14: "DISCONNECT", 15: "AUTH"}


def conn_complete(pcap, cport, sport):
    """SYN from the client, FIN from both sides, in the capture."""
    rows = tshark_rows(pcap, "tcp.port == %d and tcp.port == %d" % (cport, sport),
                       ["tcp.srcport", "tcp.flags.syn", "tcp.flags.ack", "tcp.flags.fin", "tcp.flags.reset"])
    syn = any(int(r[0]) == cport and r[1] in ("1", "True") and r[2] in ("0", "False") for r in rows)
    fins = {int(r[0]) for r in rows if r[3] in ("1", "True")}
    rst = any(r[4] in ("1", "True") for r in rows)
    return {"syn": syn, "fin_from": sorted(fins), "rst": rst, "complete": syn and (fins == {cport, sport} or rst)}


def write_log(name, doc):
    os.makedirs(LOG_DIR, exist_ok=True)
    path = os.path.join(LOG_DIR, name + ".json")
    with open(path, "w") as f:
        json.dump(doc, f, indent=1, ensure_ascii=False)
        f.write("\n")
    return path


MQTT_KEYS = ("type", "id", "topic", "qos", "retain", "payload_length", "ws_message_index")


def check_mqtt(pcap, conns, v5=False):
    """Compares each logged connection's MQTT entries, per side and in order, with the MQTT
    packets parsed from the capture (tshark's unmasked WebSocket payloads): type, id, topic,
    qos, retain, payload_length and ws_message_index must agree, and the count of WebSocket
    data messages per side must be max(ws_message_index)+1.  Returns (problems, facts)."""
    problems, facts = [], {}
    sport = conns[0]["server_port"]
    frames = ws_frames(pcap, sport)
    for c in conns:
        for side in ("client", "server"):
            msgs = data_messages(frames.get((c["client_port"], side), []))
            pk = mqtt_packets(msgs)
            pk = mqtt5_fix_payload_lengths(pk) if v5 else drop_bodies(pk)
            logged = [m for m in c["messages"] if m["from"] == side]
            key = "%d:%s" % (c["client_port"], side)
            facts[key] = {"ws_data_messages": len(msgs), "mqtt_packets": len(pk),
                          "messages_with_several_packets": sum(1 for k in range(len(msgs))
                                                               if sum(p["ws_message_index"] == k and p["ws_message_first"] == k for p in pk) > 1),
                          "packets_split_across_messages": sum(1 for p in pk if p["ws_message_first"] != p["ws_message_index"]),
                          "fragmented_messages": sum(1 for m in msgs if m["frames"] > 1)}
            if len(pk) != len(logged):
                problems.append("%s: %d packets on the wire, %d logged" % (key, len(pk), len(logged)))
            for i, (w, l) in enumerate(zip(pk, logged)):
                for kk in MQTT_KEYS:
                    lv, wv = l.get(kk), w.get(kk)
                    if kk == "retain" and l["type"] != "PUBLISH":
                        continue
                    if lv != wv:
                        problems.append("%s packet %d (%s): %s logged %r, wire %r" % (key, i, l["type"], kk, lv, wv))
            want = (max(m["ws_message_index"] for m in logged) + 1) if logged else 0
            if len(msgs) != want:
                problems.append("%s: %d WebSocket data messages on the wire, the log implies %d" % (key, len(msgs), want))
        t = conn_complete(pcap, c["client_port"], sport)
        if not t["complete"]:
            problems.append("%d: TCP connection not complete in the capture: %s" % (c["client_port"], t))
    return problems, facts
