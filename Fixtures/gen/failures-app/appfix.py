"""Shared helpers for the application-level failure captures in Fixtures/failures/app-*.

Reuses ../websocket/wsfix.py (Capture, FixtureLog/ConnLog, hook_websockets, client_socket)
and ../peers/peerfix.py (frames_from_lines, wait_port).  Adds:

* AppCapture   - wsfix.Capture writing into Fixtures/failures/, with a 32 MiB kernel
                 buffer (-B 32768) and a failure if tcpdump dropped a packet.
* Child        - a peer in its own process (so it can be frozen with SIGSTOP or killed
                 with SIGKILL); its stdout lines are collected by a reader thread; it is
                 killed by the PID of the process group we started, also on failure.
* SentPrinter  - for a peer in a child process: a ConnLog stand-in that prints each frame
                 handed to websockets' Protocol.send_frame as a "SENT {json}" line (the
                 format peerfix.frames_from_lines reads), flushed at once (the process may
                 be killed with SIGKILL).
* hook_recv_times - records when a websockets peer *received* each frame (for the
                 keepalive capture: when the pongs arrived).
* tshark       - field extraction used by the generators (zero-window times) and verify.py.

Every port is in 19700-19899: servers 197x0..197x9, clients 198xx.
"""
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "websocket"))
sys.path.insert(0, os.path.join(HERE, "..", "peers"))

import wsfix  # noqa: E402
from wsfix import FixtureLog, ConnLog, client_socket, hook_websockets  # noqa: E402,F401
import peerfix  # noqa: E402
from peerfix import frames_from_lines, wait_port  # noqa: E402,F401

# SIGTERM (e.g. from timeout(1)) raises KeyboardInterrupt like SIGINT, so that the finally
# blocks and context managers that kill tcpdump and the child peers run.
signal.signal(signal.SIGTERM, signal.default_int_handler)

FIXTURES = wsfix.FIXTURES
OUT_DIR = os.path.join(FIXTURES, "failures")
LOG_DIR = wsfix.LOG_DIR


def check_port(p):
    assert 19700 <= p <= 19899, p
    return p


class AppCapture(peerfix.PeerCapture):
    """peerfix.PeerCapture (-B 32768, a drop check) into Fixtures/failures/."""

    def __init__(self, name, ports, iface="lo"):
        for p in ports:
            check_port(p)
        super().__init__(name, ports, iface)
        os.makedirs(OUT_DIR, exist_ok=True)
        self.path = os.path.join(OUT_DIR, name + ".pcap")
        self.name = name

    def kill(self):
        """On failure: stop tcpdump without waiting for teardowns."""
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

    def __exit__(self, exc_type, *exc):
        if exc_type is not None:
            self.kill()
            return False
        self.stop()
        return False


class Child:
    """python3 SCRIPT ARGS in its own session; stdout lines collected by a thread."""

    def __init__(self, argv):
        self.p = subprocess.Popen([sys.executable, "-u"] + argv, cwd=HERE, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True, start_new_session=True)
        self.lines = []
        self.cv = threading.Condition()
        self.t = threading.Thread(target=self._read, daemon=True)
        self.t.start()

    def _read(self):
        for line in self.p.stdout:
            with self.cv:
                self.lines.append(line.rstrip("\n"))
                self.cv.notify_all()
        with self.cv:
            self.cv.notify_all()

    def wait_line(self, prefix, timeout=10.0):
        """Block until a line starting with prefix was printed; returns it."""
        deadline = time.time() + timeout
        with self.cv:
            while True:
                for l in self.lines:
                    if l.startswith(prefix):
                        return l
                if self.p.poll() is not None and not self.t.is_alive():
                    raise RuntimeError("child exited before %r:\n%s" % (prefix, "\n".join(self.lines)))
                left = deadline - time.time()
                if left <= 0:
                    raise RuntimeError("no %r from child in %ss:\n%s" % (prefix, timeout, "\n".join(self.lines)))
                self.cv.wait(min(left, 0.2))

    def signal(self, sig):
        if self.p.poll() is None:
            os.killpg(self.p.pid, sig)

    def kill(self):
        """SIGKILL the process group (also works on a stopped process), then SIGCONT."""
        if self.p.poll() is None:
            try:
                os.killpg(self.p.pid, signal.SIGKILL)
                os.killpg(self.p.pid, signal.SIGCONT)
            except ProcessLookupError:
                pass
        self.p.wait()
        self.t.join(timeout=2)

    def wait(self, timeout):
        try:
            self.p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise RuntimeError("child did not finish in %ss:\n%s" % (timeout, "\n".join(self.lines)))
        self.t.join(timeout=2)
        return self.p.returncode


class SentPrinter:
    """ConnLog stand-in for a child process: prints "SENT {json}" per frame."""

    def __init__(self, cport, sport):
        self.cport, self.sport = cport, sport

    def frame(self, side, opcode, fin, payload, compressed=False):
        print("SENT " + json.dumps({"side": side, "cport": self.cport, "sport": self.sport,
                                    "opcode": opcode, "fin": bool(fin), "hex": bytes(payload).hex(),
                                    "compressed": bool(compressed), "t": time.time()}), flush=True)


class EventLog:
    """Frames sent by the peers of one capture, with the time of each send, from hooks in
    this process (hook) and from children's "SENT {json}" lines (add_lines).  write()
    replays them in time order into a wsfix.FixtureLog (so a connection's "sent" list is
    in the order the frames were handed to the libraries, both sides interleaved)."""

    def __init__(self, fixture):
        self.fixture = fixture
        self.events = []     # (t, cport, sport, side, opcode, fin, payload, compressed)
        self.order = []      # (cport, sport) in the order connections were declared
        self.extra = {}      # (cport, sport) -> extra fields for the ConnLog

    def declare(self, cport, sport, **extra):
        if (cport, sport) not in self.order:
            self.order.append((cport, sport))
        self.extra.setdefault((cport, sport), {}).update(extra)

    def add(self, t, cport, sport, side, opcode, fin, payload, compressed=False, extra=None):
        """extra: fields added to the entry of this frame in the log (hand-built frames:
        their bytes on the wire, RSV bits).  A frame with a reserved opcode gets an entry
        of its own with "opcode": "0xN" (ConnLog knows only the defined opcodes)."""
        self.declare(cport, sport)
        self.events.append((t, cport, sport, side, opcode, bool(fin), bytes(payload), bool(compressed),
                            extra))

    def sink(self, cport, sport):
        log = self

        class Sink:
            def frame(self, side, opcode, fin, payload, compressed=False):
                log.add(time.time(), cport, sport, side, opcode, fin, payload, compressed)
        return Sink()

    def hook(self, ws, cport, sport, side):
        hook_websockets(ws, self.sink(cport, sport), side)

    def add_lines(self, lines):
        for line in lines:
            if line.startswith("SENT "):
                f = json.loads(line[5:])
                self.add(f["t"], f["cport"], f["sport"], f["side"], f["opcode"], f["fin"],
                         bytes.fromhex(f["hex"]), f.get("compressed", False))

    def of(self, cport, sport, side=None, opcode=None):
        return [e for e in sorted(self.events, key=lambda e: e[0])
                if e[1] == cport and e[2] == sport and (side is None or e[3] == side)
                and (opcode is None or e[4] == opcode)]

    def fixture_log(self):
        log = FixtureLog(self.fixture)
        conns = {}
        for key in self.order:
            conns[key] = log.conn(key[0], key[1], **self.extra.get(key, {}))
        for t, cport, sport, side, op, fin, payload, comp, extra in sorted(self.events, key=lambda e: e[0]):
            c = conns[(cport, sport)]
            if op in wsfix.OPNAMES:
                c.frame(side, op, fin, payload, compressed=comp)
            else:
                c.record(side, "0x%x" % op, payload)
            if extra:
                c.sent[-1].update(extra)
        return log


def hook_recv_times(conn, sink):
    """Append (time.time(), opcode, payload_hex) for every frame the websockets
    connection's protocol parses (Protocol.recv_frame)."""
    proto = conn.protocol
    orig = proto.recv_frame

    def recv_frame(frame):
        sink.append((time.time(), int(frame.opcode), bytes(frame.data).hex()))
        return orig(frame)

    proto.recv_frame = recv_frame


def sent_times(lines):
    """{(cport, sport, side, opcode_int, hex): [t, ...]} from SENT lines (times of sends)."""
    out = {}
    for line in lines:
        if line.startswith("SENT "):
            f = json.loads(line[5:])
            out.setdefault((f["cport"], f["sport"], f["side"], f["opcode"], f["hex"]), []).append(f["t"])
    return out


def tshark_fields(path, display_filter, fields, two_pass=False):
    """Rows (lists of strings) of tshark -T fields for the packets matching the filter."""
    args = ["tshark", "-r", path]
    if two_pass:
        args.append("-2")
    if display_filter:
        args += ["-Y", display_filter]
    args += ["-T", "fields", "-E", "occurrence=a", "-E", "separator=\t"]
    for f in fields:
        args += ["-e", f]
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    return [l.split("\t") for l in out.splitlines()]


def zero_windows(path):
    """tcp.analysis.zero_window packets: [(epoch time, src port, dst port)]."""
    rows = tshark_fields(path, "tcp.analysis.zero_window", ["frame.time_epoch", "tcp.srcport", "tcp.dstport"])
    return [(float(t), int(s), int(d)) for t, s, d in rows]


def write_log(log, expected, **extra):
    """FixtureLog.write with the ground truth under "expected"."""
    log.write(expected=expected, **extra)
    return os.path.join(LOG_DIR, log.fixture + ".json")
