#!/usr/bin/env python3
"""Cross-checks every Fixtures/tcp/*.pcap against its Fixtures/logs/tcp-*.json.

A tiny independent reassembler (per direction, by sequence number, FIRST copy of
a byte wins, SYN data honoured, wrap-safe) rebuilds both byte streams, parses
the HTTP upgrade + WebSocket frames, unmasks them and compares the frames with
the 'sent' list of the log.  For the missing-segment fixture the gap must be
exactly the one recorded in the log's 'lost' object (it is filled from there
before comparing).  Exit status 1 on any mismatch.
"""
import glob
import json
import os
import sys

from scapy.all import IP, TCP, rdpcap

SERVER_PORT = 20080
M32 = 1 << 32
OPS = {1: "text", 2: "binary", 8: "close", 9: "ping", 10: "pong", 0: "continuation"}


def plen(p):
    return p[IP].len - p[IP].ihl * 4 - p[TCP].dataofs * 4


def reassemble(pkts):
    isn, segs = {}, {"c2s": [], "s2c": []}
    for p in pkts:
        d = "s2c" if p[TCP].sport == SERVER_PORT else "c2s"
        if p[TCP].flags & 0x02:
            isn[d] = p[TCP].seq
    for p in pkts:
        d = "s2c" if p[TCP].sport == SERVER_PORT else "c2s"
        n = plen(p)
        if not n:
            continue
        raw = bytes(p[TCP])[p[TCP].dataofs * 4:][:n]
        seq = p[TCP].seq + (1 if p[TCP].flags & 0x02 else 0)
        segs[d].append(((seq - isn[d] - 1) % M32, raw))
    out = {}
    for d, lst in segs.items():
        size = max((o + len(r) for o, r in lst), default=0)
        buf, have = bytearray(size), bytearray(size)
        for o, r in lst:  # file order: first copy wins
            for k, b in enumerate(r):
                if not have[o + k]:
                    buf[o + k] = b
                    have[o + k] = 1
        holes = []
        k = 0
        while k < size:
            if not have[k]:
                s = k
                while k < size and not have[k]:
                    k += 1
                holes.append((s, k - s))
            k += 1
        out[d] = (buf, holes)
    return out


def frames(data):
    pos = data.index(b"\r\n\r\n") + 4
    res = []
    while pos < len(data):
        b0, b1 = data[pos], data[pos + 1]
        ln, h = b1 & 0x7F, 2
        if ln == 126:
            ln, h = int.from_bytes(data[pos + 2:pos + 4], "big"), 4
        elif ln == 127:
            ln, h = int.from_bytes(data[pos + 2:pos + 10], "big"), 10
        key = None
        if b1 & 0x80:
            key = data[pos + h:pos + h + 4]
            h += 4
        pl = bytes(data[pos + h:pos + h + ln])
        if key:
            pl = bytes(c ^ key[i % 4] for i, c in enumerate(pl))
        res.append((OPS.get(b0 & 0x0F, str(b0 & 0x0F)), pl))
        pos += h + ln
    return res


def check(pcap, logp):
    log = json.load(open(logp))
    pkts = rdpcap(pcap)
    st = reassemble(pkts)
    errs = []
    lost = log.get("lost")
    for d in ("c2s", "s2c"):
        buf, holes = st[d]
        if lost and lost["direction"] == d:
            if holes != [(lost["rel_seq"], lost["len"])]:
                errs.append(f"{d}: holes {holes} != lost {lost['rel_seq']}+{lost['len']}")
            else:
                buf[lost["rel_seq"]:lost["rel_seq"] + lost["len"]] = bytes.fromhex(lost["lost_hex"])
        elif holes:
            errs.append(f"{d}: unexpected holes {holes}")
    sent = log["connections"][0]["sent"]
    for d, who in (("c2s", "client"), ("s2c", "server")):
        got = frames(st[d][0])
        want = [(e["opcode"], bytes.fromhex(e["payload_hex"])) for e in sent if e["from"] == who]
        if got != want:
            errs.append(f"{d}: {len(got)} frames on the wire vs {len(want)} logged, or payload mismatch")
    return errs


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "../../..")
    bad = 0
    for pcap in sorted(glob.glob(os.path.join(root, "Fixtures/tcp/*.pcap"))):
        name = os.path.basename(pcap)[:-5]
        logp = os.path.join(root, "Fixtures/logs", "tcp-" + name.removeprefix("tcp-") + ".json")
        errs = check(pcap, logp)
        print(f"{'OK  ' if not errs else 'FAIL'} {name}" + ("" if not errs else ": " + "; ".join(errs)))
        bad += bool(errs)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
