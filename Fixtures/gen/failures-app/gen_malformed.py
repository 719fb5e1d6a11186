"""app-invalid-utf8-1007 and app-protocol-error-1002: a websockets server failing the
connection on a malformed frame from a raw-socket client.

THE CLIENT FRAMES ARE HAND-BUILT (a raw socket in this process writes the HTTP upgrade and
every frame itself, masked with a random key): they are the malformed case.  The server is
websockets 17 serve() (no keepalive), echoing text; a websockets server failing a
connection sends its Close and half-closes at once.  The client reads the server's frames,
answers the server's Close with a hand-built Close carrying the same code (as RFC 6455
§5.5.1 asks), reads to EOF and closes.

app-invalid-utf8-1007 (:19760, client :19860): text "hello" (echoed), then a text frame
  whose payload is not UTF-8 (b"caf\\xc3\\x28 au lait": 0xC3 followed by 0x28) -> the server
  fails with Close 1007.
app-protocol-error-1002 (:19765), two connections one after the other:
  client :19865: text "hello" (echoed), then a text frame with RSV2 set (first byte 0xA1)
                 and no extension negotiated -> Close 1002 "reserved bits must be 0";
  client :19866: text "hello" (echoed), then a frame with the reserved data opcode 0x3
                 -> Close 1002 "invalid opcode".
"""
import asyncio
import base64
import os
import socket
import struct
import sys
import time

from appfix import AppCapture, EventLog, check_port, tshark_fields, write_log
from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosedError


def frame_bytes(first_byte, payload):
    """A masked client frame: first_byte = FIN|RSV1..3|opcode."""
    key = os.urandom(4)
    n = len(payload)
    assert n < 126
    masked = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    return bytes([first_byte, 0x80 | n]) + key + masked


class RawClient:
    def __init__(self, ev, cport, sport):
        self.ev, self.cport, self.sport = ev, check_port(cport), sport
        self.s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.s.bind(("127.0.0.1", self.cport))
        self.s.settimeout(5)
        self.buf = b""
        self.frames_sent = 0

    def handshake(self):
        self.s.connect(("127.0.0.1", self.sport))
        key = base64.b64encode(os.urandom(16)).decode()
        self.s.sendall(("GET /echo HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
                        "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n"
                        "User-Agent: raw-socket-hand-built-frames\r\n\r\n" % (self.sport, key)).encode())
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        assert head.startswith(b"HTTP/1.1 101"), head

    def _fill(self):
        chunk = self.s.recv(65536)
        if not chunk:
            raise EOFError
        self.buf += chunk

    def send(self, first_byte, payload, what):
        """Send one hand-built frame and log it (opcode = low nibble, FIN = top bit)."""
        wire = frame_bytes(first_byte, payload)
        self.frames_sent += 1
        extra = {"hand_built": True, "wire_hex": wire.hex(), "rsv": (first_byte >> 4) & 0x7,
                 "client_frame_number": self.frames_sent, "what": what}
        self.ev.add(time.time(), self.cport, self.sport, "client", first_byte & 0x0F,
                    bool(first_byte & 0x80), payload, extra=extra)
        self.s.sendall(wire)

    def read_frame(self):
        """(opcode, payload) of the next server frame (unmasked, length < 2**16 here)."""
        while len(self.buf) < 2:
            self._fill()
        b0, b1 = self.buf[0], self.buf[1]
        n, off = b1 & 0x7F, 2
        if n == 126:
            while len(self.buf) < 4:
                self._fill()
            n, off = struct.unpack("!H", self.buf[2:4])[0], 4
        while len(self.buf) < off + n:
            self._fill()
        payload = self.buf[off:off + n]
        self.buf = self.buf[off + n:]
        return b0 & 0x0F, payload

    def finish(self):
        """Read up to the server's Close, echo its code, read to EOF, close."""
        for _ in range(10):
            op, payload = self.read_frame()
            if op == 0x8:
                code = struct.unpack("!H", payload[:2])[0]
                self.send(0x88, payload[:2], "Close echoing the server's code")
                try:
                    while True:
                        self._fill()
                except EOFError:
                    pass
                self.s.close()
                return code, payload[2:].decode()
        raise RuntimeError("no Close from the server")


def run_case(name, sport, cases):
    """cases: [(cport, first_byte, payload, what)]"""
    ev = EventLog(name)
    results = {}

    async def handler(ws):
        cport = ws.remote_address[1]
        ev.hook(ws, cport, sport, "server")
        try:
            async for m in ws:
                await ws.send("echo: " + m)
        except ConnectionClosedError as e:
            results.setdefault(cport, {})["server_exception"] = repr(e)
        r = results.setdefault(cport, {})
        r["server_close_sent"] = int(ws.protocol.close_sent.code)
        r["server_close_reason"] = ws.protocol.close_sent.reason

    def clients():
        for cport, fb, payload, what in cases:
            c = RawClient(ev, cport, sport)
            ev.declare(cport, sport, client="raw socket, hand-built frames (the malformed case)")
            c.handshake()
            c.send(0x81, b"hello", "valid text frame")
            op, echo = c.read_frame()
            assert op == 1 and echo == b"echo: hello", (op, echo)
            c.send(fb, payload, what)
            code, reason = c.finish()
            results.setdefault(cport, {})["client_got_close"] = code
            time.sleep(0.2)

    async def main():
        async with serve(handler, "127.0.0.1", sport, compression=None, ping_interval=None,
                         close_timeout=1):
            async with AppCapture(name, [sport]):
                await asyncio.wait_for(asyncio.to_thread(clients), 20)
                await asyncio.sleep(0.2)
    asyncio.run(main())
    return ev, results


def invalid_utf8():
    name, sport, cport = "app-invalid-utf8-1007", 19760, 19860
    bad = b"caf\xc3\x28 au lait"
    ev, res = run_case(name, sport, [(cport, 0x81, bad, "text frame with invalid UTF-8 (0xC3 0x28)")])
    r = res[cport]
    assert r["server_close_sent"] == 1007, r
    log = ev.fixture_log()
    pcap = AppCapture(name, [sport]).path
    print(name, r, tshark_fields(pcap, "websocket.opcode == 8", ["frame.number", "tcp.srcport",
                                                                 "websocket.payload.close.status_code"]))
    expected = {
        "per_connection": [{
            "client_port": cport, "server_port": sport, "cause": "error_close", "by": "server",
            "close_code": 1007, "close_reason": r["server_close_reason"],
            "client_replied_close": r["client_got_close"],
            "offending": {"from": "client", "client_frame_number": 2, "opcode": "text",
                          "payload_hex": bad.hex(), "problem": "invalid UTF-8 in a text frame"},
        }],
        "pattern": None,
        "why": ("The client's 2nd frame, a hand-built text frame, carried bytes that are not UTF-8 "
                "(0xC3 0x28); websockets failed the connection with Close 1007 \"%s\" and closed TCP; "
                "the client echoed 1007." % r["server_close_reason"]),
    }
    write_log(log, expected, setup={"server": "websockets 17 serve()",
                                    "client": "raw socket in the generator, hand-built masked frames",
                                    "results": {str(k): v for k, v in res.items()}})


def protocol_error():
    name, sport = "app-protocol-error-1002", 19765
    cases = [(19865, 0xA1, b"reserved bit", "text frame with RSV2 set, no extension negotiated"),
             (19866, 0x83, b"opcode three", "frame with the reserved data opcode 0x3")]
    ev, res = run_case(name, sport, cases)
    for cport, *_ in cases:
        assert res[cport]["server_close_sent"] == 1002, res
    log = ev.fixture_log()
    pcap = AppCapture(name, [sport]).path
    print(name, res, tshark_fields(pcap, "websocket.opcode == 8", ["frame.number", "tcp.srcport",
                                                                   "websocket.payload.close.status_code"]))
    per = []
    for cport, fb, payload, what in cases:
        r = res[cport]
        off = {"from": "client", "client_frame_number": 2, "first_byte": "0x%02x" % fb,
               "payload_hex": payload.hex(), "problem": what}
        if fb & 0x70:
            off.update({"opcode": "text", "rsv": (fb >> 4) & 7})
        else:
            off.update({"opcode": "0x%x" % (fb & 0x0F)})
        per.append({"client_port": cport, "server_port": sport, "cause": "error_close", "by": "server",
                    "close_code": 1002, "close_reason": r["server_close_reason"],
                    "client_replied_close": r["client_got_close"], "offending": off})
    expected = {
        "per_connection": per,
        "pattern": None,
        "why": ("Each client's 2nd frame was hand-built to break RFC 6455: RSV2 set without an extension "
                "(connection 1), the reserved opcode 0x3 (connection 2). websockets failed each "
                "connection with Close 1002 (\"%s\", \"%s\") and closed TCP; the client echoed 1002."
                % (res[19865]["server_close_reason"], res[19866]["server_close_reason"])),
    }
    write_log(log, expected, setup={"server": "websockets 17 serve()",
                                    "client": "raw socket in the generator, hand-built masked frames",
                                    "results": {str(k): v for k, v in res.items()}})


if __name__ == "__main__":
    fns = {"utf8": invalid_utf8, "proto": protocol_error}
    for w in sys.argv[1:] or list(fns):
        fns[w]()
