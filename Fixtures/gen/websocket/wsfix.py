"""Shared helpers for the wstrace WebSocket capture fixtures.

* Capture      - runs tcpdump on lo with a mandatory port filter.
* FixtureLog   - records what each peer *sent* (hooked at the library's
                 frame-send function, i.e. the real send calls) and writes
                 Fixtures/logs/<fixture>.json.
* hook_*       - per-library wrappers (websockets, websocket-client, aiohttp,
                 tornado) that feed a ConnLog.

All ports used are in 19000-19999.  Clients bind explicit source ports
(SO_REUSEADDR) so the logs can name the client port deterministically.
"""
import asyncio
import hashlib
import json
import os
import signal
import socket
import struct
import subprocess
import time

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.abspath(os.path.join(HERE, "..", ".."))
OUT_DIR = os.path.join(FIXTURES, "websocket")
LOG_DIR = os.path.join(FIXTURES, "logs")

OPNAMES = {0x0: "continuation", 0x1: "text", 0x2: "binary", 0x8: "close", 0x9: "ping", 0xA: "pong"}


# --------------------------------------------------------------------------- capture
def wait_listening(proc, seconds=5):
    """Waits (at most `seconds`) for tcpdump `proc` to say "listening on" on stderr; returns
    what it printed (the callers' own checks decide what a silent tcpdump means)."""
    deadline = time.time() + seconds
    buf = b""
    os.set_blocking(proc.stderr.fileno(), False)
    while time.time() < deadline and b"listening on" not in buf:
        try:
            buf += proc.stderr.read() or b""
        except BlockingIOError:
            pass
        time.sleep(0.05)
    return buf


class Capture:
    """tcpdump -i lo -U --immediate-mode -w F 'tcp and (port a or port b)'."""

    def __init__(self, name, ports, iface="lo"):
        assert ports and all(19000 <= p <= 19999 for p in ports), ports
        self.path = os.path.join(OUT_DIR, name + ".pcap")
        self.ports = ports
        self.iface = iface
        self.proc = None

    def start(self):
        if os.path.exists(self.path):
            os.unlink(self.path)
        flt = "tcp and (" + " or ".join("port %d" % p for p in self.ports) + ")"
        self.proc = subprocess.Popen(
            ["tcpdump", "-i", self.iface, "-U", "--immediate-mode", "-s", "0", "-Z", "root", "-w", self.path, flt],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        wait_listening(self.proc)
        time.sleep(0.5)
        return self

    def teardown_state(self):
        """{(portA, portB): done} for every TCP connection in the file so far;
        done = FIN seen in both directions, or any RST."""
        conns = {}
        for sport, dport, flags in read_tcp_flags(self.path):
            key = tuple(sorted((sport, dport)))
            st = conns.setdefault(key, {"fin": set(), "rst": False})
            if flags & 0x04:
                st["rst"] = True
            if flags & 0x01:
                st["fin"].add(sport)
        return {k: (v["rst"] or len(v["fin"]) == 2) for k, v in conns.items()}

    def stop(self, wait_ports=None, timeout=8.0):
        """Stop tcpdump once every connection's teardown is in the file (tcpdump
        -U flushes per packet), or after timeout.  wait_ports: only wait for
        connections involving one of these ports (default: all)."""
        time.sleep(0.5)
        deadline = time.time() + timeout
        while True:
            st = self.teardown_state()
            pend = [k for k, done in st.items()
                    if not done and (wait_ports is None or set(k) & set(wait_ports))]
            if not pend:
                break
            if time.time() > deadline:
                print("  WARNING %s: no teardown seen for %s" % (os.path.basename(self.path), pend))
                break
            time.sleep(0.1)
        time.sleep(0.3)
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.set_blocking(self.proc.stderr.fileno(), True)
        stats = self.proc.stderr.read().decode(errors="replace")
        self.stats = " ".join(l.strip() for l in stats.splitlines() if "packets" in l)
        print("  [tcpdump %s] %s" % (os.path.basename(self.path), self.stats))

    async def __aenter__(self):
        await asyncio.to_thread(self.start)
        return self

    async def __aexit__(self, *exc):
        # in a thread: the event loop must keep running so peers can finish
        # their closing handshake / TCP teardown while we wait for it
        await asyncio.to_thread(self.stop)
        return False

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False


def read_tcp_flags(path):
    """Minimal pcap reader: yields (src_port, dst_port, tcp_flags) per packet.
    Handles DLT_EN10MB (tcpdump -i lo) with IPv4/IPv6."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return
    if len(data) < 24:
        return
    magic = data[:4]
    endian = "<" if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    off = 24
    while off + 16 <= len(data):
        incl = struct.unpack(endian + "I", data[off + 8:off + 12])[0]
        pkt = data[off + 16:off + 16 + incl]
        off += 16 + incl
        if len(pkt) < incl:
            break
        eth = struct.unpack("!H", pkt[12:14])[0]
        if eth == 0x0800:
            ihl = (pkt[14] & 0x0F) * 4
            if pkt[23] != 6:
                continue
            tcp = pkt[14 + ihl:]
        elif eth == 0x86DD:
            if pkt[20] != 6:
                continue
            tcp = pkt[54:]
        else:
            continue
        if len(tcp) < 14:
            continue
        sp, dp = struct.unpack("!HH", tcp[:4])
        yield sp, dp, tcp[13]


# --------------------------------------------------------------------------- logging
class ConnLog:
    def __init__(self, fixture_log, client_port, server_port, **extra):
        self.client_port = client_port
        self.server_port = server_port
        self.sent = []
        self.extra = extra
        self._frag = {}  # side -> [opcode, [chunks], compressed]

    def record(self, side, opcode, payload, compressed=False, fragments=None, slot=None):
        payload = bytes(payload)
        ent = {"from": side, "opcode": opcode, "payload_hex": payload.hex(),
               "compressed": bool(compressed), "close_code": None, "close_reason": None,
               "payload_len": len(payload),
               "payload_sha256": hashlib.sha256(payload).hexdigest()}
        if fragments is not None:
            ent["fragments"] = fragments
        if opcode == "close":
            if len(payload) >= 2:
                ent["close_code"] = struct.unpack("!H", payload[:2])[0]
                ent["close_reason"] = payload[2:].decode("utf-8")
        if slot is not None:
            slot.update(ent)   # keep the position of the first fragment
        else:
            self.sent.append(ent)

    def frame(self, side, opcode, fin, payload, compressed=False):
        """Frame-level hook; reassembles fragmented messages into one entry."""
        payload = bytes(payload)
        if opcode >= 0x8:
            self.record(side, OPNAMES[opcode], payload)
            return
        if opcode != 0x0:  # first frame of a message
            if fin:
                self.record(side, OPNAMES[opcode], payload, compressed)
            else:
                slot = {"from": side, "opcode": OPNAMES[opcode], "pending": True}
                self.sent.append(slot)
                self._frag[side] = [OPNAMES[opcode], [payload], compressed, slot]
            return
        st = self._frag[side]
        st[1].append(payload)
        if fin:
            del self._frag[side]
            del st[3]["pending"]
            self.record(side, st[0], b"".join(st[1]), st[2], fragments=len(st[1]), slot=st[3])

    def to_json(self):
        d = {"client_port": self.client_port, "server_port": self.server_port, "sent": self.sent}
        d.update(self.extra)
        return d


class FixtureLog:
    def __init__(self, fixture):
        self.fixture = fixture
        self.conns = []

    def conn(self, client_port, server_port, **extra):
        c = ConnLog(self, client_port, server_port, **extra)
        self.conns.append(c)
        return c

    def find(self, client_port, server_port):
        for c in self.conns:
            if c.client_port == client_port and c.server_port == server_port:
                return c
        return self.conn(client_port, server_port)

    def write(self, **extra):
        path = os.path.join(LOG_DIR, self.fixture + ".json")
        d = {"fixture": self.fixture + ".pcap"}
        d.update(extra)
        d["connections"] = [c.to_json() for c in self.conns]
        with open(path, "w") as f:
            json.dump(d, f, indent=1, ensure_ascii=False)
            f.write("\n")


# --------------------------------------------------------------------------- sockets
def client_socket(port, host="127.0.0.1", dst=None, family=socket.AF_INET, blocking=True):
    """TCP socket bound to an explicit source port; connected to dst if given."""
    assert 19000 <= port <= 19999
    s = socket.socket(family, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, port))
    if dst is not None:
        s.connect(dst)
    s.setblocking(blocking)
    return s


# --------------------------------------------------------------------------- hooks
def _ws_deflate_active(proto):
    return any(type(e).__name__ == "PerMessageDeflate" for e in proto.extensions)


def hook_websockets(conn, connlog, side):
    """websockets (asyncio API): wrap the sans-I/O Protocol.send_frame.

    Every frame the library emits (data, auto-pong, close replies) goes through
    it; frame.data is the uncompressed payload (compression happens later in
    frame.serialize)."""
    proto = conn.protocol
    orig = proto.send_frame

    def send_frame(frame):
        op = int(frame.opcode)
        connlog.frame(side, op, frame.fin, frame.data,
                      compressed=(op < 8 and _ws_deflate_active(proto)))
        return orig(frame)

    proto.send_frame = send_frame


def hook_websocket_client(ws, connlog, side="client"):
    """websocket-client: wrap WebSocket.send_frame(ABNF) (used by send, ping,
    auto-pong and close). No permessage-deflate support in this library."""
    orig = ws.send_frame

    def send_frame(frame):
        connlog.frame(side, frame.opcode, bool(frame.fin), frame.data
                      if isinstance(frame.data, bytes) else frame.data.encode("utf-8"))
        return orig(frame)

    ws.send_frame = send_frame


def hook_aiohttp(ws, connlog, side):
    """aiohttp (server WebSocketResponse or ClientWebSocketResponse): wrap the
    WebSocketWriter.send_frame coroutine (compression happens inside it)."""
    writer = ws._writer
    orig = writer.send_frame

    async def send_frame(message, opcode, compress=None):
        op = int(opcode)
        connlog.frame(side, op, True, message,
                      compressed=(op < 8 and bool(compress or writer.compress)))
        return await orig(message, opcode, compress)

    writer.send_frame = send_frame


def hook_tornado(handler_or_conn, connlog, side):
    """tornado: wrap write_message (uncompressed payload) and _write_frame
    (control frames incl. auto-pong and close)."""
    proto = handler_or_conn.ws_connection if hasattr(handler_or_conn, "ws_connection") \
        else handler_or_conn.protocol
    orig_wf = proto._write_frame
    orig_wm = proto.write_message
    pending = []

    def write_message(message, binary=False):
        data = message.encode("utf-8") if isinstance(message, str) else bytes(message)
        pending.append(data)
        try:
            return orig_wm(message, binary)
        finally:
            pending.clear()

    def _write_frame(fin, opcode, data, flags=0):
        if opcode < 8 and pending:
            connlog.frame(side, opcode, fin, pending[0], compressed=bool(flags & 0x40))
        else:
            connlog.frame(side, opcode, fin, data, compressed=bool(flags & 0x40))
        return orig_wf(fin, opcode, data, flags)

    proto.write_message = write_message
    proto._write_frame = _write_frame


def run(coro):
    return asyncio.run(coro)
