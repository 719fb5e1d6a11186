"""Shared helpers for the real-peer fixtures in Fixtures/peers/.

Reuses the WebSocket generators' helpers (Fixtures/gen/websocket/wsfix.py):
Capture (tcpdump -i lo -U --immediate-mode with a port filter, stopped once every
connection's FIN/RST is in the file), FixtureLog/ConnLog (Fixtures/logs/<name>.json),
hook_websockets (logs at websockets' Protocol.send_frame) and client_socket.

Adds:
* PeerCapture      - Capture writing into Fixtures/peers/, with a larger kernel buffer
                     (-B) and a check that tcpdump dropped nothing.
* frames_from_lines - feeds the frame-level send records that the Node, Go and
                      browser helpers print ("SENT {json}") into ConnLogs.
* hook_websockets_recv - logs what a websockets peer *received* (for a peer that
                      cannot log its own sends, e.g. libwebsockets' test server).
* Proc             - a subprocess started in its own session, killed by its PID's
                      process group at the end.

All ports are in 19200-19499 (servers 192x0/192x1, clients 193x0/193x1, Firefox's
ephemeral range 19400-19499 inside its own network namespace).
"""
import json
import os
import re
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "websocket"))

import wsfix  # noqa: E402
from wsfix import FixtureLog, ConnLog, client_socket, hook_websockets, read_tcp_flags  # noqa: E402,F401

FIXTURES = wsfix.FIXTURES
OUT_DIR = os.path.join(FIXTURES, "peers")
LOG_DIR = wsfix.LOG_DIR
TMP = os.path.join(HERE, "tmp")
OPC = {"text": 1, "binary": 2, "continuation": 0, "close": 8, "ping": 9, "pong": 10}


class PeerCapture(wsfix.Capture):
    """wsfix.Capture into Fixtures/peers/, with a 32 MiB kernel buffer (-B 32768).

    With --immediate-mode libpcap uses a TPACKET_V2 ring of fixed-size slots, each big
    enough for the largest packet on lo (MTU 65536), and on lo every packet is seen twice
    (outgoing and incoming): the default 2 MiB buffer then holds only a dozen or so
    packets.  Without -B, a burst (Go writes a dozen frames in microseconds) while
    tcpdump waited for a busy CPU was dropped ("32 packets dropped by kernel").
    stop() fails if the kernel still dropped any packet."""

    def __init__(self, name, ports, iface="lo"):
        super().__init__(name, ports, iface)
        os.makedirs(OUT_DIR, exist_ok=True)
        self.path = os.path.join(OUT_DIR, name + ".pcap")

    def start(self):
        """As wsfix.Capture.start, plus -B 32768."""
        if os.path.exists(self.path):
            os.unlink(self.path)
        flt = "tcp and (" + " or ".join("port %d" % p for p in self.ports) + ")"
        self.proc = subprocess.Popen(
            ["tcpdump", "-i", self.iface, "-U", "--immediate-mode", "-B", "32768", "-s", "0", "-Z", "root",
             "-w", self.path, flt],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        wsfix.wait_listening(self.proc)
        time.sleep(0.5)
        return self

    def stop(self, *a, **kw):
        super().stop(*a, **kw)
        m = re.search(r"(\d+) packets dropped by kernel", self.stats)
        if m is None or int(m.group(1)) != 0:
            raise RuntimeError("%s: tcpdump dropped packets: %s" % (os.path.basename(self.path), self.stats))


def frames_from_lines(log, lines, extra=None):
    """lines: stdout lines of a helper. Each 'SENT {...}' line is one frame a peer
    handed to its library's send path: {"side", "cport", "sport", "opcode" (int),
    "fin", "hex", "compressed"}.  Returns the other lines."""
    rest = []
    for line in lines:
        if not line.startswith("SENT "):
            rest.append(line)
            continue
        f = json.loads(line[5:])
        c = log.find(f["cport"], f["sport"])
        if extra and not c.extra:
            c.extra.update(extra)
        c.frame(f["side"], f["opcode"], bool(f["fin"]), bytes.fromhex(f["hex"]),
                compressed=bool(f.get("compressed")))
    return rest


def _patch_deflate_decode():
    """Let PerMessageDeflate.decode remember the raw RSV1 of the last data frame it saw."""
    from websockets.extensions.permessage_deflate import PerMessageDeflate
    if getattr(PerMessageDeflate, "_peerfix_patched", False):
        return
    orig = PerMessageDeflate.decode

    def decode(self, frame, *a, **kw):
        if frame.opcode in (1, 2):
            self._peerfix_rsv1 = bool(frame.rsv1)
        return orig(self, frame, *a, **kw)
    PerMessageDeflate.decode = decode
    PerMessageDeflate._peerfix_patched = True


def hook_websockets_recv(proto, connlog, side):
    """Log every frame a websockets Protocol *receives* as sent by the other side
    (`side`): for a peer that cannot log its own sends.  Wraps Protocol.recv_frame
    (frames after the extensions decoded them: payload inflated; RSV1 as it was on
    the wire, remembered by the patched PerMessageDeflate.decode).  websockets stops
    parsing after a close frame (discard()); frames the peer sent after its close are
    parsed here with websockets' own Frame.parse and logged with "after_close": true.
    Install before the handshake completes (see logging_client_connection)."""
    from websockets.frames import Frame
    _patch_deflate_decode()
    orig_recv = proto.recv_frame
    orig_discard = proto.discard

    def rsv1():
        return any(getattr(e, "_peerfix_rsv1", False) for e in proto.extensions)

    def recv_frame(frame):
        op = int(frame.opcode)
        connlog.frame(side, op, frame.fin, frame.data, compressed=(op in (0, 1, 2) and rsv1()))
        return orig_recv(frame)

    def discard():
        try:
            while not (yield from proto.reader.at_eof()):
                frame = yield from Frame.parse(proto.reader.read_exact, mask=proto.side.name == "SERVER",
                                               max_size=None, extensions=proto.extensions)
                op = int(frame.opcode)
                connlog.frame(side, op, frame.fin, frame.data, compressed=(op in (0, 1, 2) and rsv1()))
                (connlog.sent[-1] if connlog.sent else {})["after_close"] = True
        except Exception as e:  # a partial frame at EOF
            connlog.extra.setdefault("after_close_parse_error", repr(e))
        yield from orig_discard()

    proto.recv_frame = recv_frame
    proto.discard = discard


def logging_client_connection(connlog, recv_side=None, send_side="client"):
    """A websockets ClientConnection class (for connect(create_connection=...)) whose
    protocol is hooked from the start: its sends logged as `send_side`, and, if
    recv_side is given, what it receives logged as sent by `recv_side`."""
    from websockets.asyncio.client import ClientConnection

    class Logged(ClientConnection):
        def __init__(self, protocol, *a, **kw):
            super().__init__(protocol, *a, **kw)
            hook_websockets(self, connlog, send_side)
            if recv_side:
                hook_websockets_recv(protocol, connlog, recv_side)
    return Logged


class Proc:
    """A helper process in its own session; stop() kills its process group by the
    PID we started (never by name)."""

    def __init__(self, argv, cwd=None, env=None, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=None):
        self.argv = argv
        self.p = subprocess.Popen(argv, cwd=cwd, env=env, stdout=stdout, stderr=stderr, stdin=stdin,
                                  start_new_session=True, text=True)

    def wait(self, timeout):
        try:
            out, err = self.p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            out, err = self.p.communicate()
            raise RuntimeError("%s did not finish in %ss\n%s\n%s" % (self.argv[0], timeout, out, err))
        return out or "", err or ""

    def stop(self, sig=signal.SIGTERM, grace=5.0):
        if self.p.poll() is not None:
            return
        try:
            os.killpg(self.p.pid, sig)
        except ProcessLookupError:
            return
        deadline = time.time() + grace
        while time.time() < deadline and self.p.poll() is None:
            time.sleep(0.05)
        if self.p.poll() is None:
            try:
                os.killpg(self.p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.p.wait()


def wait_port(port, timeout=10.0):
    """Wait until something listens on TCP port (any address; reads /proc/net/tcp and
    tcp6, so no connection is made and nothing extra lands in a capture)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        for table in ("/proc/net/tcp", "/proc/net/tcp6"):
            with open(table) as f:
                for line in f.readlines()[1:]:
                    cols = line.split()
                    if cols[3] == "0A" and cols[1].endswith(":%04X" % port):
                        return True
        time.sleep(0.05)
    raise RuntimeError("nothing listens on port %d" % port)
