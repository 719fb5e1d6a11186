#!/usr/bin/env python3
"""Hostile capture generator for wstrace (issue 7).

HAND-BUILT BYTES: every capture written here is synthetic. The Ethernet/IPv4/TCP headers,
the HTTP Upgrade, the WebSocket frames and the deflate streams are assembled byte by byte by
this script (python's zlib only compresses the bomb), not recorded from real peers. That is the
point: real peers do not send 2^63-byte lengths, 16 MiB header blocks or 300,000 dangling SYNs.
TCP checksums are left zero (wstrace does not check them).

    python3 scripts/hostile/gen.py CASE OUT.pcap [--scale N]
    python3 scripts/hostile/gen.py all DIR [--small]

Cases (sizes are the full ones; --small / a smaller --scale make test-sized versions):
  len64        a server frame declaring 2^63-1 bytes, a client frame with the MSB set, and a
               frame longer than the rest of the capture
  fragmented   one binary message never finished: 256 MiB of continuation frames (FIN=0)
  ooo-flood    128 MiB from the server behind a missing first segment (never retransmitted)
  conns        300,000 connections that send a SYN and nothing else
  conns-http   300,000 connections with a handshake and a short HTTP request/response each
  header       a 16 MiB HTTP request header block without CRLF CRLF
  tinyframes   100,000 empty frames completed by ONE packet: 3 segments held out of order,
               then the first one fills the hole (an IPv4 packet holds at most 32,757 frames)
  bomb         permessage-deflate: one message inflating to 256 MiB of zeros
  garbage      valid frames with garbage bytes between them
  escapes      ESC, other control bytes and invalid UTF-8 in payloads, the path and header values
"""
import base64, hashlib, os, struct, sys, zlib

CLIENT = (bytes([10, 0, 0, 1]), 40000)
SERVER = (bytes([10, 0, 0, 2]), 80)
GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
KEY = b"dGhlIHNhbXBsZSBub25jZQ=="


class Pcap:
    def __init__(self, path):
        self.f = open(path, "wb")
        self.f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
        self.t = 1_700_000_000 * 1_000_000

    def packet(self, src, dst, seq, ack, flags, payload=b"", dt=1):
        self.t += dt
        tcp = struct.pack(">HHIIBBHHH", src[1], dst[1], seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, 5 << 4, flags, 65535, 0, 0)
        total = 20 + len(tcp) + len(payload)
        ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, total, 0, 0x4000, 64, 6, 0, src[0], dst[0])
        eth = b"\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01\x08\x00"
        frame = eth + ip + tcp
        self.f.write(struct.pack("<IIII", self.t // 1_000_000, self.t % 1_000_000, len(frame) + len(payload),
                                 len(frame) + len(payload)))
        self.f.write(frame)
        self.f.write(payload)

    def close(self):
        self.f.close()


SYN, ACK, PSH, FIN, RST = 0x02, 0x10, 0x08, 0x01, 0x04


class Conn:
    """One TCP connection with a tracked sequence space per side."""

    def __init__(self, pcap, client=CLIENT, server=SERVER):
        self.p, self.c, self.s = pcap, client, server
        self.cseq, self.sseq = 1000, 5000

    def handshake(self):
        self.p.packet(self.c, self.s, self.cseq, 0, SYN)
        self.p.packet(self.s, self.c, self.sseq, self.cseq + 1, SYN | ACK)
        self.cseq += 1; self.sseq += 1
        self.p.packet(self.c, self.s, self.cseq, self.sseq, ACK)

    def send(self, from_client, data, mss=65000, skip=False):
        """Sends data in segments; skip=True advances the sequence without writing (a lost segment)."""
        for i in range(0, len(data), mss):
            part = data[i:i + mss]
            if from_client:
                if not skip: self.p.packet(self.c, self.s, self.cseq, self.sseq, ACK | PSH, part)
                self.cseq += len(part)
            else:
                if not skip: self.p.packet(self.s, self.c, self.sseq, self.cseq, ACK | PSH, part)
                self.sseq += len(part)

    def upgrade(self, extensions=None, path=b"/chat", extra=b""):
        req = (b"GET " + path + b" HTTP/1.1\r\nHost: 10.0.0.2\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               b"Sec-WebSocket-Key: " + KEY + b"\r\nSec-WebSocket-Version: 13\r\n" + extra)
        if extensions: req += b"Sec-WebSocket-Extensions: " + extensions + b"\r\n"
        self.send(True, req + b"\r\n")
        accept = base64.b64encode(hashlib.sha1(KEY + GUID).digest())
        resp = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n"
        if extensions: resp += b"Sec-WebSocket-Extensions: permessage-deflate\r\n"
        self.send(False, resp + b"\r\n")

    def close(self):
        self.send(True, frame(0x8, struct.pack(">H", 1000), mask=True))
        self.send(False, frame(0x8, struct.pack(">H", 1000)))
        self.p.packet(self.s, self.c, self.sseq, self.cseq, FIN | ACK)
        self.p.packet(self.c, self.s, self.cseq, self.sseq + 1, FIN | ACK)
        self.p.packet(self.s, self.c, self.sseq + 1, self.cseq + 1, ACK)


def header(opcode, length, fin=True, rsv1=False, mask=False):
    b0 = (0x80 if fin else 0) | (0x40 if rsv1 else 0) | opcode
    m = 0x80 if mask else 0
    if length < 126: h = struct.pack(">BB", b0, m | length)
    elif length < 65536: h = struct.pack(">BBH", b0, m | 126, length)
    else: h = struct.pack(">BBQ", b0, m | 127, length)
    return h + (b"\x00\x00\x00\x00" if mask else b"")  # zero mask key: payload stays as is


def frame(opcode, payload, fin=True, rsv1=False, mask=False):
    return header(opcode, len(payload), fin, rsv1, mask) + payload


def case_len64(path, scale):
    p = Pcap(path); c = Conn(p); c.handshake(); c.upgrade()
    c.send(False, frame(0x1, b"before"))
    c.send(False, b"\x82\x7f" + struct.pack(">Q", (1 << 63) - 1) + b"\x00" * 64)   # 2^63-1 bytes declared
    c.send(True, b"\x82\xff" + struct.pack(">Q", 1 << 63 | 5) + b"\x00" * 8)       # MSB set (RFC 6455: must be 0)
    c2 = Conn(p, client=(CLIENT[0], 40001)); c2.handshake(); c2.upgrade()
    c2.send(False, header(0x2, 1_000_000) + b"\x00" * 100)                           # longer than the capture
    p.close()


def case_fragmented(path, scale):
    total = (256 << 20) // scale
    p = Pcap(path); c = Conn(p); c.handshake(); c.upgrade()
    chunk = 64000 - 10
    c.send(False, frame(0x2, b"\x00" * chunk, fin=False))
    sent, body = chunk, frame(0x0, b"\x00" * chunk, fin=False)
    while sent < total:
        c.send(False, body); sent += chunk
    p.close()


def case_ooo_flood(path, scale):
    total = (128 << 20) // scale
    p = Pcap(path); c = Conn(p); c.handshake(); c.upgrade()
    c.send(False, frame(0x1, b"first segment, never captured"), skip=True)
    seg = b"\x82\x7e\xfd\xe0" + b"\x00" * 0xfde0  # binary frames of 65,000 bytes
    sent = 0
    while sent < total:
        c.send(False, seg); sent += len(seg)
    p.close()


def case_conns(path, scale):
    n = 300_000 // scale
    p = Pcap(path)
    for i in range(n):
        src = (bytes([10, 1 + (i >> 16) % 200, (i >> 8) & 255, i & 255]), 1024 + i % 60000)
        p.packet(src, SERVER, 77, 0, SYN)
    p.close()


def case_conns_http(path, scale):
    n = 300_000 // scale
    p = Pcap(path)
    for i in range(n):
        src = (bytes([10, 1 + (i >> 16) % 200, (i >> 8) & 255, i & 255]), 1024 + i % 60000)
        c = Conn(p, client=src); c.handshake()
        c.send(True, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        c.send(False, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
    p.close()


def case_header(path, scale):
    total = (16 << 20) // scale
    p = Pcap(path); c = Conn(p); c.handshake()
    c.send(True, b"GET /big HTTP/1.1\r\nHost: 10.0.0.2\r\nUpgrade: websocket\r\n")
    line = b"X-Pad: " + b"a" * 1000 + b"\r\n"
    c.send(True, line * (total // len(line)))
    p.close()


def case_tinyframes(path, scale):
    n = 100_000 // scale
    p = Pcap(path); c = Conn(p); c.handshake(); c.upgrade()
    per = 32_500
    data = b"\x81\x00" * n  # empty text frames, server to client
    segs = [data[i:i + 2 * per] for i in range(0, len(data), 2 * per)]
    base = c.sseq
    offs = [sum(len(s) for s in segs[:k]) for k in range(len(segs))]
    for k in range(len(segs) - 1, 0, -1):      # later segments first: held out of order
        p.packet(c.s, c.c, base + offs[k], c.cseq, ACK | PSH, segs[k])
    p.packet(c.s, c.c, base, c.cseq, ACK | PSH, segs[0])  # fills the hole: every frame completes here
    c.sseq = base + len(data)
    c.close()
    p.close()


def case_bomb(path, scale):
    total = (256 << 20) // scale
    z = zlib.compressobj(9, zlib.DEFLATED, -15)
    zero = b"\x00" * (1 << 20)
    comp = b"".join(z.compress(zero) for _ in range(total >> 20)) + z.flush(zlib.Z_SYNC_FLUSH)
    assert comp.endswith(b"\x00\x00\xff\xff")
    comp = comp[:-4]
    p = Pcap(path); c = Conn(p); c.handshake(); c.upgrade(extensions=b"permessage-deflate")
    c.send(False, frame(0x2, comp, rsv1=True))
    c.send(False, frame(0x1, zlib.compressobj(9, zlib.DEFLATED, -15).compress(b"after") + b"", rsv1=False) if False else frame(0x1, b"after"))
    c.close()
    p.close()


def case_garbage(path, scale):
    p = Pcap(path); c = Conn(p); c.handshake(); c.upgrade()
    c.send(False, frame(0x1, b"one") + b"\xde\xad\xbe\xef garbage \x00\x01\x02" + frame(0x1, b"two"))
    c.send(False, b"\xff" * 40)
    c.send(False, frame(0x1, b"three"))
    c.close()
    p.close()


def case_escapes(path, scale):
    p = Pcap(path); c = Conn(p); c.handshake()
    c.upgrade(path=b"/x\x1b[2J\x07", extra=b"User-Agent: evil\x1b]0;owned\x07\x1b[31m\r\nSec-WebSocket-Protocol: p\x1b[1m\r\n")
    c.send(False, frame(0x1, b"red \x1b[31mALERT\x1b[0m bell\x07 cr\r back\x08 nul\x00 del\x7f csi\xc2\x9b end"))
    c.send(False, frame(0x1, b"bad utf8 \xff\xfe\xc3\x28 \xed\xa0\x80 end"))
    c.send(False, frame(0x2, b"\x1b[31m binary \x1b"))
    c.send(True, frame(0x8, struct.pack(">H", 1000) + b"reason \x1b[31m\xff", mask=True))
    c.send(False, frame(0x8, struct.pack(">H", 1000)))
    p.close()


CASES = {
    "len64": case_len64, "fragmented": case_fragmented, "ooo-flood": case_ooo_flood, "conns": case_conns,
    "conns-http": case_conns_http,
    "header": case_header, "tinyframes": case_tinyframes, "bomb": case_bomb, "garbage": case_garbage,
    "escapes": case_escapes,
}
# --small: test-sized versions, still over the caps the tests pass on the command line.
SMALL = {"fragmented": 256, "ooo-flood": 64, "conns": 300, "conns-http": 3000, "header": 64, "tinyframes": 10, "bomb": 64}


def main(argv):
    if len(argv) < 3:
        print(__doc__); return 2
    name, out = argv[1], argv[2]
    scale = int(argv[argv.index("--scale") + 1]) if "--scale" in argv else 1
    if name == "all":
        os.makedirs(out, exist_ok=True)
        for n, f in CASES.items():
            f(os.path.join(out, n + ".pcap"), SMALL.get(n, 1) if "--small" in argv else scale)
        return 0
    CASES[name](out, scale)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
