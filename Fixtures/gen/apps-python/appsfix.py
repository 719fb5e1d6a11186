"""Shared helpers for the application-protocol captures Fixtures/apps/{socketio,graphql,jsonrpc,json}-*.

Reuses ../peers/peerfix.py (PeerCapture: tcpdump -i lo -U --immediate-mode -B 32768 with a
port filter, stopped once every connection's FIN/RST is in the file, fails if tcpdump dropped
a packet) and ../websocket/wsfix.py (wait_listening, read_tcp_flags).  Adds:

* AppsCapture  - PeerCapture writing into Fixtures/apps/, ports 20000-20299.
* ListHandler  - a logging.Handler keeping "LEVEL:logger:message" lines (the peers' logs).
* FrameTap     - what each peer handed to its WebSocket library's send function, per
                 connection and side, in send order (aiohttp: WebSocketWriter.send_frame,
                 patched on the class; websockets: Protocol.send_frame per connection;
                 uvicorn/strawberry: the ASGI "websocket.send" events).  Used to number the
                 data messages of each side (ws_message_index) and to check that the
                 application log of each peer lists the same messages in the same order.
* write_log    - Fixtures/logs/<name>.json.
* versions     - installed versions of the libraries used.

Ports: servers 200x0, clients 201xx / 202xx (all in 20000-20299).
"""
import json
import logging
import os
import signal
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "websocket"))
sys.path.insert(0, os.path.join(HERE, "..", "peers"))

import wsfix  # noqa: E402
import peerfix  # noqa: E402

# SIGTERM (e.g. from timeout(1)) raises KeyboardInterrupt like SIGINT, so finally blocks run.
signal.signal(signal.SIGTERM, signal.default_int_handler)

FIXTURES = wsfix.FIXTURES
OUT_DIR = os.path.join(FIXTURES, "apps")
LOG_DIR = wsfix.LOG_DIR


def check_port(p):
    assert 20000 <= p <= 20299, p
    return p


class AppsCapture(peerfix.PeerCapture):
    """peerfix.PeerCapture (-B 32768, drop check) into Fixtures/apps/, ports 20000-20299."""

    def __init__(self, name, ports, iface="lo"):
        for p in ports:
            check_port(p)
        os.makedirs(OUT_DIR, exist_ok=True)
        self.path = os.path.join(OUT_DIR, name + ".pcap")
        self.ports = ports
        self.iface = iface
        self.proc = None
        self.name = name

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    async def __aexit__(self, exc_type, *exc):
        import asyncio
        if exc_type is not None:
            self.kill()
            return False
        await asyncio.to_thread(self.stop)
        return False


_SEQ = [0]


def next_seq():
    """A process-wide sequence number: the order in which peers in this process logged."""
    _SEQ[0] += 1
    return _SEQ[0]


class ListHandler(logging.Handler):
    def __init__(self, prefix=""):
        super().__init__(logging.DEBUG)
        self.lines = []
        self.records = []
        self.prefix = prefix

    def emit(self, record):
        msg = record.getMessage()
        self.lines.append("%s:%s:%s" % (record.levelname, record.name, msg))
        self.records.append((next_seq(), record.name, msg))


def logger(name, handler):
    lg = logging.getLogger(name)
    lg.handlers[:] = [handler]
    lg.setLevel(logging.DEBUG)
    lg.propagate = False
    return lg


class FrameTap:
    """{(cport, sport): {"client": [(opcode, bytes)], "server": [...]}} of data messages
    (text/binary; continuation frames joined) and counts of control frames."""

    def __init__(self):
        self.conns = {}
        self.order = []
        self._frag = {}

    def conn(self, cport, sport):
        key = (cport, sport)
        if key not in self.conns:
            self.conns[key] = {"client": [], "server": [], "control": {"client": [], "server": []}}
            self.order.append(key)
        return self.conns[key]

    def frame(self, cport, sport, side, opcode, fin, payload):
        c = self.conn(cport, sport)
        payload = bytes(payload)
        if opcode >= 8:
            c["control"][side].append((opcode, payload))
            return
        k = (cport, sport, side)
        if opcode != 0:
            self._frag[k] = [opcode, [payload]]
        else:
            self._frag[k][1].append(payload)
        if fin:
            op, parts = self._frag.pop(k)
            c[side].append((op, b"".join(parts)))

    def unsend(self, cport, sport, side, opcode, payload):
        """The library refused the frame recorded last (it raised: e.g. aiohttp's 'Cannot write
        to closing transport'): take it back out, keep it under "failed"."""
        c = self.conn(cport, sport)
        lst = c["control"][side] if opcode >= 8 else c[side]
        want = (int(opcode), bytes(payload))
        for i in range(len(lst) - 1, -1, -1):
            if lst[i] == want:
                del lst[i]
                break
        c.setdefault("failed", {"client": [], "server": []})[side].append(want)

    def data(self, cport, sport, side):
        return self.conns.get((cport, sport), {}).get(side, [])

    # ---- aiohttp (both sides of an in-process aiohttp server and client)
    def patch_aiohttp(self, server_ports):
        from aiohttp._websocket.writer import WebSocketWriter
        tap = self
        orig = WebSocketWriter.send_frame
        if getattr(WebSocketWriter, "_appsfix_orig", None) is not None:
            orig = WebSocketWriter._appsfix_orig
        WebSocketWriter._appsfix_orig = orig

        async def send_frame(self, message, opcode, compress=None):
            local = self.transport.get_extra_info("sockname")[1]
            peer = self.transport.get_extra_info("peername")[1]
            if local in server_ports:
                key = (peer, local, "server")
            else:
                key = (local, peer, "client")
            # recorded before the call (its order among sends), taken back if aiohttp refuses it
            tap.frame(key[0], key[1], key[2], int(opcode), True, message)
            try:
                return await orig(self, message, opcode, compress)
            except Exception:
                tap.unsend(key[0], key[1], key[2], int(opcode), message)
                raise
        WebSocketWriter.send_frame = send_frame

    # ---- websockets (asyncio API), per connection
    def hook_websockets(self, conn, side):
        proto = conn.protocol
        orig = proto.send_frame
        local = conn.local_address[1]
        remote = conn.remote_address[1]
        cport, sport = (local, remote) if side == "client" else (remote, local)
        self.conn(cport, sport)

        def send_frame(frame):
            self.frame(cport, sport, side, int(frame.opcode), frame.fin, frame.data)
            return orig(frame)
        proto.send_frame = send_frame


def versions(*dists):
    import importlib.metadata as md
    out = {"python": sys.version.split()[0]}
    for d in dists:
        try:
            out[d] = md.version(d)
        except md.PackageNotFoundError:
            out[d] = None
    return out


def write_log(name, setup, connections, peer_logs, **extra):
    os.makedirs(LOG_DIR, exist_ok=True)
    d = {"fixture": name + ".pcap", "generator": "Fixtures/gen/apps-python/" + os.path.basename(sys.argv[0]),
         "setup": setup}
    d.update(extra)
    d["connections"] = connections
    d["peer_logs"] = peer_logs
    path = os.path.join(LOG_DIR, name + ".json")
    with open(path, "w") as f:
        json.dump(d, f, indent=1, ensure_ascii=False,
                  default=lambda o: {"bytes_hex": bytes(o).hex()} if isinstance(o, (bytes, bytearray)) else repr(o))
        f.write("\n")
    return path


def assign_indexes(messages, tap, cport, sport, match=None):
    """Give each message the ws_message_index of the data message of its side that carried
    it, walking each side's FrameTap list in order.  `match(msg, opcode, payload)` says
    whether the message is that WebSocket message's content (default: msg["raw"] equals the
    text).  Raises if the peer's log and what it handed to the WebSocket library differ."""
    pos = {"client": 0, "server": 0}
    for m in messages:
        side = m["from"]
        frames = tap.data(cport, sport, side)
        i = pos[side]
        if i >= len(frames):
            raise RuntimeError("%s message not sent on the WebSocket: %r" % (side, m))
        op, payload = frames[i]
        ok = match(m, op, payload) if match else (op == 1 and payload.decode() == m["raw"])
        if not ok:
            raise RuntimeError("%s log/frame mismatch at ws message %d: log %r, frame %r" %
                               (side, i, m.get("raw"), payload[:200]))
        m["ws_message_index"] = i
        pos[side] += 1
    for side in ("client", "server"):
        n = len(tap.data(cport, sport, side))
        if pos[side] != n:
            raise RuntimeError("%s sent %d data messages, the log has %d (%r)" %
                               (side, n, pos[side], tap.data(cport, sport, side)[pos[side]:]))
    return messages
