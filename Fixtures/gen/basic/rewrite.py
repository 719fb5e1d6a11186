#!/usr/bin/env python3
"""Derive link-type / encapsulation variants by REWRITING real captures.

Sources (all real loopback captures made by generate.sh):
  seed-walkthrough.pcap  (Ethernet, IPv4, usec)  -> most variants
  linktypes/nanosecond.pcap (Ethernet, IPv4, nsec) -> bigendian-nsec
  linktypes/ipv6.pcap    (Ethernet, IPv6)        -> ipv6-linktype, ipv6-exthdr
Packet bytes above the rewritten layer are untouched; timestamps are kept.
Also writes the two hand-made damaged files and the logs of all derived
fixtures (copied from the source capture's peer log).
"""
import json
import os
import struct
import sys

FX = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "../.."))
LT = os.path.join(FX, "linktypes")
LOGS = os.path.join(FX, "logs")

DLT_NULL, DLT_EN10MB, LINKTYPE_RAW, LINKTYPE_LOOP = 0, 1, 101, 108
LINKTYPE_IPV4, LINKTYPE_IPV6 = 228, 229


def read_pcap(path):
    b = open(path, "rb").read()
    magic_le = struct.unpack("<I", b[:4])[0]
    if magic_le in (0xA1B2C3D4, 0xA1B23C4D):
        e = "<"
    else:
        e = ">"
    magic, vmaj, vmin, tz, sigfigs, snaplen, linktype = struct.unpack(e + "IHHiIII", b[:24])
    nsec = magic == 0xA1B23C4D
    recs, off = [], 24
    while off < len(b):
        ts, frac, incl, orig = struct.unpack(e + "IIII", b[off:off + 16])
        recs.append([ts, frac, orig, b[off + 16:off + 16 + incl]])
        off += 16 + incl
    return {"snaplen": snaplen, "linktype": linktype, "nsec": nsec}, recs


def write_pcap(path, linktype, recs, snaplen=262144, nsec=False, endian="<"):
    """recs: [ts_sec, ts_frac, orig_len, data]; frac is usec or nsec per `nsec`."""
    magic = 0xA1B23C4D if nsec else 0xA1B2C3D4
    with open(path, "wb") as f:
        f.write(struct.pack(endian + "IHHiIII", magic, 2, 4, 0, 0, snaplen, linktype))
        for ts, frac, orig, data in recs:
            f.write(struct.pack(endian + "IIII", ts, frac, len(data), max(orig, len(data))))
            f.write(data)


def copy_log(src_name, dst_fixture, how):
    with open(os.path.join(LOGS, src_name + ".json")) as f:
        log = json.load(f)
    src_fixture = log["fixture"]
    log = {"fixture": dst_fixture, "derived_from": src_fixture, "derivation": how,
           "connections": log["connections"]}
    name = os.path.splitext(os.path.basename(dst_fixture))[0]
    with open(os.path.join(LOGS, name + ".json"), "w") as f:
        json.dump(log, f, indent=2)
        f.write("\n")


def strip_eth(recs, prefix=b""):
    """Replace the 14-byte Ethernet header by `prefix` (orig_len adjusted)."""
    return [[ts, fr, orig - 14 + len(prefix), prefix + d[14:]] for ts, fr, orig, d in recs]


def insert_after_macs(recs, tags):
    return [[ts, fr, orig + len(tags), d[:12] + tags + d[12:]] for ts, fr, orig, d in recs]


def ipv4_fragments(recs, fragsize=32):
    """Split every IPv4 packet that carries TCP payload into IP fragments
    (scapy fragment(), fragsize 32 so each fragment after the first holds
    WebSocket bytes).  DF is cleared, each fragmented datagram gets a fresh
    unique IP ID (both directions share 127.0.0.1->127.0.0.1), the IPv4
    header checksum is recomputed, and the TCP checksum (which covers the
    whole reassembled segment) is recomputed too (also in the unfragmented
    packets without payload), so that all checksums are
    valid (loopback captures carry the kernel's partial, offloaded TCP
    checksum, which tshark flags as bad).  The first two
    fragments of the HTTP 101 response are written in swapped order."""
    from scapy.all import Ether, IP, TCP, fragment, raw
    out, next_id, swapped = [], 0x5000, False
    for ts, fr, orig, d in recs:
        p = Ether(d)
        if IP in p and TCP in p and len(p[TCP].payload) > 0:
            p[IP].flags = 0
            p[IP].id = next_id
            next_id += 1
            del p[IP].chksum
            del p[TCP].chksum
            frags = [raw(q) for q in fragment(p, fragsize=fragsize)]
            if not swapped and bytes(p[TCP].payload).startswith(b"HTTP/1.1 101"):
                frags[0], frags[1] = frags[1], frags[0]
                swapped = True
            for i, q in enumerate(frags):   # +1 usec per fragment, keeps order
                t, f = ts + (fr + i) // 1000000, (fr + i) % 1000000
                out.append([t, f, len(q), q])
        else:   # unfragmented (no payload): only the TCP checksum is fixed up
            del p[TCP].chksum
            q = raw(p)
            assert len(q) == len(d)
            out.append([ts, fr, orig, q])
    assert swapped
    return out


def ipv6_exthdr(recs):
    """Insert Hop-by-Hop (PadN) + Destination Options (PadN) headers between
    the IPv6 header and TCP.  The TCP checksum field is left as captured: the
    pseudo-header uses the upper-layer length and next header 6, both
    unchanged by the insertion (so it is exactly as (in)valid as in the
    loopback capture, where the kernel leaves a partial offload checksum)."""
    hbh = bytes([60, 0, 1, 4, 0, 0, 0, 0])     # next=DestOpts, len 8, PadN(4)
    dst = bytes([6, 0, 1, 4, 0, 0, 0, 0])      # next=TCP,      len 8, PadN(4)
    out = []
    for ts, fr, orig, d in recs:
        assert d[12:14] == b"\x86\xdd" and d[14 + 6] == 6
        ip = bytearray(d[14:54])
        plen = struct.unpack(">H", ip[4:6])[0]
        ip[4:6] = struct.pack(">H", plen + 16)
        ip[6] = 0                                # next header: Hop-by-Hop
        nd = d[:14] + bytes(ip) + hbh + dst + d[54:]
        out.append([ts, fr, orig + 16, nd])
    return out


def main():
    seed_path = os.path.join(FX, "seed-walkthrough.pcap")
    hdr, seed = read_pcap(seed_path)
    assert hdr["linktype"] == DLT_EN10MB and not hdr["nsec"]
    _, nano = read_pcap(os.path.join(LT, "nanosecond.pcap"))
    _, v6 = read_pcap(os.path.join(LT, "ipv6.pcap"))
    for ts, fr, orig, d in seed:
        assert d[12:14] == b"\x08\x00"

    variants = [
        ("bigendian-usec.pcap", "seed-walkthrough", "classic pcap rewritten big-endian (magic a1b2c3d4), usec",
         lambda p: write_pcap(p, DLT_EN10MB, seed, endian=">")),
        ("bigendian-nsec.pcap", "nanosecond", "classic pcap rewritten big-endian (magic a1b23c4d), nsec",
         lambda p: write_pcap(p, DLT_EN10MB, nano, nsec=True, endian=">")),
        ("null-le.pcap", "seed-walkthrough", "Ethernet header replaced by DLT_NULL AF_INET=2 little-endian",
         lambda p: write_pcap(p, DLT_NULL, strip_eth(seed, struct.pack("<I", 2)))),
        ("null-be.pcap", "seed-walkthrough", "Ethernet header replaced by DLT_NULL AF_INET=2 big-endian (as a big-endian host writes it)",
         lambda p: write_pcap(p, DLT_NULL, strip_eth(seed, struct.pack(">I", 2)))),
        ("loop.pcap", "seed-walkthrough", "Ethernet header replaced by LINKTYPE_LOOP AF_INET=2 network order",
         lambda p: write_pcap(p, LINKTYPE_LOOP, strip_eth(seed, struct.pack(">I", 2)))),
        ("raw.pcap", "seed-walkthrough", "Ethernet header stripped, LINKTYPE_RAW",
         lambda p: write_pcap(p, LINKTYPE_RAW, strip_eth(seed))),
        ("ipv4-linktype.pcap", "seed-walkthrough", "Ethernet header stripped, LINKTYPE_IPV4",
         lambda p: write_pcap(p, LINKTYPE_IPV4, strip_eth(seed))),
        ("ipv6-linktype.pcap", "ipv6", "Ethernet header stripped, LINKTYPE_IPV6",
         lambda p: write_pcap(p, LINKTYPE_IPV6, strip_eth(v6))),
        ("vlan-8021q.pcap", "seed-walkthrough", "802.1Q tag (TPID 8100, VID 100) inserted after the MACs",
         lambda p: write_pcap(p, DLT_EN10MB, insert_after_macs(seed, bytes.fromhex("81000064")))),
        ("qinq-8021ad.pcap", "seed-walkthrough", "802.1ad outer tag (TPID 88a8, VID 200) + 802.1Q inner tag (VID 100) inserted",
         lambda p: write_pcap(p, DLT_EN10MB, insert_after_macs(seed, bytes.fromhex("88a800c881000064")))),
        ("ipv4-fragments.pcap", "seed-walkthrough", "TCP segments with payload split into IPv4 fragments (scapy fragment, fragsize 32, DF cleared, new IP IDs, first two fragments of the 101 response swapped)",
         lambda p: write_pcap(p, DLT_EN10MB, ipv4_fragments(seed))),
        ("ipv6-exthdr.pcap", "ipv6", "Hop-by-Hop + Destination Options extension headers inserted before TCP",
         lambda p: write_pcap(p, DLT_EN10MB, ipv6_exthdr(v6))),
    ]
    for name, src, how, fn in variants:
        fn(os.path.join(LT, name))
        copy_log(src, "linktypes/" + name, "rewritten by gen/basic/rewrite.py: " + how)

    # Hand-made damage: seed-walkthrough.pcap cut in the middle of record 10's data.
    b = open(seed_path, "rb").read()
    off = 24
    for i in range(9):
        off += 16 + len(seed[i][3])
    cut = off + 16 + len(seed[9][3]) // 2
    with open(os.path.join(LT, "truncated-mid-record.pcap"), "wb") as f:
        f.write(b[:cut])
    copy_log("seed-walkthrough", "linktypes/truncated-mid-record.pcap",
             "hand-made damage: copy of seed-walkthrough.pcap cut at byte %d, in the middle of record 10's packet data; "
             "frames from record 10 on are missing or partial" % cut)

    with open(os.path.join(LT, "not-a-capture.pcap"), "w") as f:
        f.write("This is not a packet capture.\n"
                "It is a plain text file with a .pcap extension, made by hand\n"
                "(gen/basic/rewrite.py) to test wstrace's error for unknown file formats.\n")
    with open(os.path.join(LOGS, "not-a-capture.json"), "w") as f:
        json.dump({"fixture": "linktypes/not-a-capture.pcap", "derivation": "hand-made text file",
                   "connections": []}, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    main()
