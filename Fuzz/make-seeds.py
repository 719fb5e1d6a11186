#!/usr/bin/env python3
"""Builds the fuzz seed corpora from Fixtures (run from the repository root: python3 Fuzz/make-seeds.py).

corpus/capture/: small classic-pcap fixtures, copied as they are (target a reads pcap bytes).
corpus/tls/: the first connection of each wss fixture in the same chunk format (FuzzTLS, flags 0:
no key), and RFC 8448's section 3 trace (Tests/WSTLSTests/Vectors.swift) with its keys (flags 1),
with a key log that grows (3), and with gaps allowed (5).
corpus/streams/: the first TCP connection of each WebSocket fixture, reassembled naively
(in-order segments only) and re-encoded in FuzzStreams' chunk format: byte 0 = flags, then
control byte c (bit 0 side, c >> 2 length code) + data per chunk.
"""
import glob, os, shutil, struct, hashlib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CAP = os.path.join(ROOT, "Fuzz", "corpus", "capture")
STR = os.path.join(ROOT, "Fuzz", "corpus", "streams")
TLS = os.path.join(ROOT, "Fuzz", "corpus", "tls")


def records(data):
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"): e = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"): e = ">"
    else: return None, []
    link = struct.unpack(e + "I", data[20:24])[0] & 0x0FFFFFFF
    out, off = [], 24
    while off + 16 <= len(data):
        _, _, incl, _ = struct.unpack(e + "IIII", data[off:off + 16])
        off += 16
        if off + incl > len(data): break
        out.append(data[off:off + incl]); off += incl
    return link, out


def ip_tcp(link, pkt):
    """(src, dst, sport, dport, seq, flags, payload) or None."""
    if link == 1:
        et, off = struct.unpack(">H", pkt[12:14])[0], 14
        while et in (0x8100, 0x88A8):
            et, off = struct.unpack(">H", pkt[off + 2:off + 4])[0], off + 4
    elif link == 113: et, off = struct.unpack(">H", pkt[14:16])[0], 16
    elif link == 276: et, off = struct.unpack(">H", pkt[0:2])[0], 20
    elif link in (0, 108): off, et = 4, (0x86DD if pkt[4] >> 4 == 6 else 0x0800)
    elif link in (12, 14, 101, 228, 229): off, et = 0, (0x86DD if pkt[0] >> 4 == 6 else 0x0800)
    else: return None
    ip = pkt[off:]
    if et == 0x0800 and len(ip) >= 20 and ip[9] == 6:
        ihl = (ip[0] & 15) * 4; total = struct.unpack(">H", ip[2:4])[0]
        src, dst, tcp = ip[12:16], ip[16:20], ip[ihl:total]
    elif et == 0x86DD and len(ip) >= 40 and ip[6] == 6:
        plen = struct.unpack(">H", ip[4:6])[0]
        src, dst, tcp = ip[8:24], ip[24:40], ip[40:40 + plen]
    else: return None
    if len(tcp) < 20: return None
    sport, dport, seq = struct.unpack(">HHI", tcp[:8])
    doff = (tcp[12] >> 4) * 4
    return src, dst, sport, dport, seq, tcp[13], tcp[doff:]


def chunks(side, payload):
    out, i = bytearray(), 0
    while i < len(payload):
        rest = len(payload) - i
        if rest >= 64:
            k = min(15, max(k for k in range(16) if 64 << k <= rest))
            n = 64 << k; code = 48 + k
        else:
            n = min(rest, 48); code = n - 1
        out.append(code << 2 | side); out += payload[i:i + n]; i += n
    return out


def stream_seed(link, recs):
    conn, nxt, out = None, {}, bytearray([0x04 | 0x08])  # end both sides, retention 64
    for pkt in recs:
        t = ip_tcp(link, pkt)
        if not t: continue
        src, dst, sp, dp, seq, flags, payload = t
        key = (src, sp, dst, dp)
        if conn is None: conn = key
        if key == conn: side = 0
        elif key == (conn[2], conn[3], conn[0], conn[1]): side = 1
        else: continue
        if flags & 0x02: nxt[side] = (seq + 1) & 0xFFFFFFFF; continue
        if not payload: continue
        if side in nxt and seq != nxt[side]: continue
        nxt[side] = (seq + len(payload)) & 0xFFFFFFFF
        out += chunks(side, payload)
    return bytes(out) if len(out) > 1 else None


def main():
    for d in (CAP, STR, TLS):
        shutil.rmtree(d, ignore_errors=True); os.makedirs(d)
    for path in sorted(glob.glob(os.path.join(ROOT, "Fixtures", "**", "*.pcap"), recursive=True)):
        data = open(path, "rb").read()
        link, recs = records(data)
        if link is None: continue
        name = os.path.basename(path)[:-5]
        if len(data) <= 52000:
            shutil.copy(path, os.path.join(CAP, name + ".pcap"))
        seed = stream_seed(link, recs)
        if seed and len(seed) <= 20000:
            open(os.path.join(STR, name + ".bin"), "wb").write(seed)
            open(os.path.join(STR, name + "-midstream.bin"), "wb").write(bytes([seed[0] | 1 | 2]) + seed[1:])
        if seed and name.startswith("wss-") and len(seed) <= 32000:
            open(os.path.join(TLS, name + ".bin"), "wb").write(bytes([0]) + seed[1:])
    rfc8448_seeds()


def rfc8448_seeds():
    import re
    text = open(os.path.join(ROOT, "Tests", "WSTLSTests", "Vectors.swift")).read()
    section = text[:text.index("enum Resumed0RTT")]
    hexes = dict(re.findall(r'static let (\w+) = "([0-9a-f]+)"', section))
    flow = [(0, "clientHelloRecord"), (1, "serverHelloRecord"), (1, "serverHandshakeRecord"), (0, "clientFinishedRecord"),
            (1, "newSessionTicketRecord"), (0, "clientApplicationDataRecord"), (1, "serverApplicationDataRecord"),
            (0, "clientAlertRecord"), (1, "serverAlertRecord")]
    body = bytearray()
    for side, name in flow:
        body += chunks(side, bytes.fromhex(hexes[name]))
    for flags in (1, 3, 5):
        open(os.path.join(TLS, "rfc8448-flags%d.bin" % flags), "wb").write(bytes([flags]) + body)


if __name__ == "__main__":
    main()
