#!/usr/bin/env python3
"""Derives the rewritten TCP-anomaly fixtures from real captures (scapy).

Inputs:  netem-clean.pcap (echo scenario, multi-segment frames, no anomaly)
         tcp-small-base.pcap (few short messages; base for 1-byte segments)
Outputs: tcp-reordered, tcp-duplicated, tcp-overlap, tcp-one-byte-segments,
         tcp-missing-segment, tcp-seq-wrap (.pcap) + Fixtures/logs/tcp-<name>.json

Every modified/created packet has its IP total length, IP checksum and TCP
checksum recomputed (fields deleted, packet rebuilt).  Packets are never
re-timed out of order: moved packets take the timestamp of the slot they land
in, inserted packets get a timestamp between their neighbours, so file
timestamps stay monotonic.  All choices are deterministic (derived from the
packet layout of the input), so re-running on the same input gives identical
output.
"""
import argparse
import copy
import json
import os
import sys

from scapy.all import IP, TCP, Ether, Raw, rdpcap, wrpcap  # noqa: F401

SERVER_PORT = 20080
M32 = 1 << 32


# ------------------------------------------------------------------ helpers
def direction(p):
    return "s2c" if p[TCP].sport == SERVER_PORT else "c2s"


def plen(p):
    """TCP payload length from the IP header (ignores Ethernet padding)."""
    return p[IP].len - p[IP].ihl * 4 - p[TCP].dataofs * 4


def payload(p):
    raw = bytes(p[TCP])
    off = p[TCP].dataofs * 4
    return raw[off:off + plen(p)]


def rebuild(p, t=None):
    """Recompute IP length / checksums; keep (or set) the timestamp."""
    ts = p.time if t is None else t
    q = p.copy()
    del q[IP].len
    del q[IP].chksum
    del q[TCP].chksum
    q = Ether(bytes(q))
    q.time = ts
    return q


def with_payload(tmpl, seq, data, flags=None):
    q = tmpl.copy()
    q[TCP].remove_payload()
    q[TCP].seq = seq % M32
    if flags is not None:
        q[TCP].flags = flags
    if data:
        q[TCP].add_payload(Raw(load=data))
    return rebuild(q)


def isn_of(pkts):
    """Initial sequence numbers per direction (from the SYN / SYN-ACK)."""
    isn = {}
    for p in pkts:
        if p[TCP].flags & 0x02:
            isn[direction(p)] = p[TCP].seq
    return isn


def stream(pkts, d, isn):
    """Reassembled byte stream of direction d (relative offset 0 = ISN+1)."""
    buf = {}
    for p in pkts:
        if direction(p) == d and plen(p):
            off = (p[TCP].seq - isn[d] - 1) % M32
            buf.setdefault(off, payload(p))
    out = b""
    for off in sorted(buf):
        seg = buf[off]
        if off + len(seg) > len(out):
            out += seg[len(out) - off:]
    return out


def data_idx(pkts, d):
    return [i for i, p in enumerate(pkts) if direction(p) == d and plen(p)]


def runs(pkts, d, min_len=3):
    """Runs of consecutive full-MSS-ish data segments of direction d (one WS message
    spread over several segments), as lists of packet indices."""
    out, cur = [], []
    for i in data_idx(pkts, d):
        if cur and pkts[cur[-1]][TCP].seq + plen(pkts[cur[-1]]) == pkts[i][TCP].seq \
                and plen(pkts[cur[-1]]) >= 1400:
            cur.append(i)
        else:
            if len(cur) >= min_len:
                out.append(cur)
            cur = [i]
    if len(cur) >= min_len:
        out.append(cur)
    return out


def ws_frames(data, is_client_stream):
    """Map a WebSocket byte stream (HTTP head + frames) to frame boundaries:
    list of (start, header_len, payload_len, opcode)."""
    pos = data.index(b"\r\n\r\n") + 4
    frames = []
    while pos < len(data):
        b0, b1 = data[pos], data[pos + 1]
        ln, h = b1 & 0x7F, 2
        if ln == 126:
            ln, h = int.from_bytes(data[pos + 2:pos + 4], "big"), 4
        elif ln == 127:
            ln, h = int.from_bytes(data[pos + 2:pos + 10], "big"), 10
        if b1 & 0x80:
            h += 4
        frames.append((pos, h, ln, b0 & 0x0F))
        pos += h + ln
    return frames


def coherence(pkts, allow_unseen=False):
    """Sanity check: no data segment may appear after the peer already ACKed it,
    unless allowed (missing-segment).  Returns a list of problems."""
    isn = isn_of(pkts)
    maxack = {"c2s": 0, "s2c": 0}  # highest relative ack seen *for* this direction
    probs = []
    for n, p in enumerate(pkts, 1):
        d = direction(p)
        other = "s2c" if d == "c2s" else "c2s"
        if p[TCP].flags & 0x10 and other in isn:
            rel = (p[TCP].ack - isn[other] - 1) % M32
            if rel < (1 << 31):
                maxack[other] = max(maxack[other], rel)
        if plen(p):
            rel = (p[TCP].seq - isn[d] - 1) % M32
            if rel + plen(p) <= maxack[d] and not allow_unseen:
                probs.append(f"frame {n}: {d} data {rel}+{plen(p)} already acked ({maxack[d]})")
    return probs


def write(out_dir, name, pkts, check=True, allow_unseen=False):
    if check:
        probs = coherence(pkts, allow_unseen)
        if probs:
            sys.exit(f"{name}: incoherent rewrite: {probs[:3]}")
    path = os.path.join(out_dir, name + ".pcap")
    wrpcap(path, pkts)
    return path


def write_log(logs_dir, name, base_log, note, extra=None):
    with open(base_log) as f:
        log = json.load(f)
    log["fixture"] = name + ".pcap"
    log["note"] = note
    if extra:
        log.update(extra)
    with open(os.path.join(logs_dir, "tcp-" + name.removeprefix("tcp-") + ".json"), "w") as f:
        json.dump(log, f, indent=1)
        f.write("\n")


def rel_seq(p, isn):
    return (p[TCP].seq - isn[direction(p)] - 1) % M32


# ------------------------------------------------------------------ rewrites
def make_reordered(clean):
    pkts = [p.copy() for p in clean]
    isn = isn_of(pkts)
    swaps = []
    # server->client: swap the first two segments of the 2nd multi-segment message
    r = runs(pkts, "s2c")[1]
    a, b = r[0], r[1]
    swaps.append(("s2c", rel_seq(pkts[a], isn), rel_seq(pkts[b], isn)))
    # client->server: first segment of the last multi-segment message moved after
    # the last full segment of that message (arrives after two later segments)
    r2 = runs(pkts, "c2s")[-1]
    c, e = r2[0], r2[-1]
    swaps.append(("c2s", rel_seq(pkts[c], isn), rel_seq(pkts[e], isn)))
    times = [p.time for p in pkts]
    pkts[a], pkts[b] = pkts[b], pkts[a]
    moved = pkts.pop(c)
    pkts.insert(e, moved)
    for p, t in zip(pkts, times):
        p.time = t
    note = ("REWRITTEN from netem-clean.pcap: file order of data segments changed. "
            f"s2c: segment at rel seq {swaps[0][1]} swapped with the next one (rel seq {swaps[0][2]}); "
            f"c2s: segment at rel seq {swaps[1][1]} moved after the segment at rel seq {swaps[1][2]}. "
            "Timestamps keep their slots (monotonic). What the peers sent is unchanged.")
    return pkts, note


def make_duplicated(clean):
    pkts = [p.copy() for p in clean]
    isn = isn_of(pkts)
    rs, rc = runs(pkts, "s2c"), runs(pkts, "c2s")
    targets = [rs[0][0], rs[2][1], rc[1][1]]  # indices in the original list
    desc = []
    for i in sorted(targets, reverse=True):
        dup = pkts[i].copy()
        nxt = pkts[i + 1].time if i + 1 < len(pkts) else pkts[i].time + 0.001
        dup.time = pkts[i].time + (nxt - pkts[i].time) / 2
        pkts.insert(i + 1, dup)
        desc.append(f"{direction(dup)} rel seq {rel_seq(dup, isn)} len {plen(dup)}")
    note = ("REWRITTEN from netem-clean.pcap: byte-identical copies of 3 data segments inserted "
            "right after the originals (" + "; ".join(reversed(desc)) + "). "
            "What the peers sent is unchanged.")
    return pkts, note


def make_overlap(clean):
    pkts = [p.copy() for p in clean]
    isn = isn_of(pkts)
    s2c = stream(pkts, "s2c", isn)
    rs = runs(pkts, "s2c")
    # (a) identical partial overlap: after P1, before P2, a "retransmission" that
    #     repeats the tail of P1 and carries the head of P2 (P2 later overlaps it)
    i1, i2 = rs[1][0], rs[1][1]
    p1 = pkts[i1]
    o1 = rel_seq(p1, isn) + 1000
    l1 = plen(p1) - 1000 + 500
    qa = with_payload(p1, isn["s2c"] + 1 + o1, s2c[o1:o1 + l1])
    qa.time = p1.time + (pkts[i1 + 1].time - p1.time) / 2
    # (b) CONFLICTING overlap: after both segments of another message were seen,
    #     a segment re-covering the boundary of its first two segments with
    #     different bytes (original XOR 0x5A)
    j1, j2 = rs[2][0], rs[2][1]
    q1 = pkts[j1]
    o2 = rel_seq(q1, isn) + plen(q1) - 100
    orig = s2c[o2:o2 + 200]
    bad = bytes(b ^ 0x5A for b in orig)
    qb = with_payload(pkts[j2], isn["s2c"] + 1 + o2, bad)
    qb.time = pkts[j2].time + (pkts[j2 + 1].time - pkts[j2].time) / 2
    # insert later one first so indices stay valid
    pkts.insert(j2 + 1, qb)
    pkts.insert(i1 + 1, qa)
    info = {
        "overlaps": [
            {"direction": "s2c", "kind": "identical", "rel_seq": o1, "len": l1,
             "overlaps_previous": [o1, rel_seq(p1, isn) + plen(p1)],
             "overlapped_later_by_next_segment": [rel_seq(p1, isn) + plen(p1), o1 + l1]},
            {"direction": "s2c", "kind": "conflicting", "rel_seq": o2, "len": 200,
             "original_hex": orig.hex(), "conflicting_hex": bad.hex(),
             "which_is_true": "original (first-received; the peer's kernel kept it)"},
        ]
    }
    note = ("REWRITTEN from netem-clean.pcap: two server->client segments inserted. "
            f"(1) rel seq {o1} len {l1}: identical bytes, overlapping the previous segment's last "
            f"{plen(p1) - 1000} bytes and the next segment's first 500 bytes. "
            f"(2) rel seq {o2} len 200, inserted after both covered segments: bytes CONFLICT "
            "(original XOR 0x5A). The log is what was really sent (the first copy). "
            "rel seq = offset from ISN+1.")
    return pkts, note, info


def make_one_byte(small):
    pkts = [p.copy() for p in small]
    out = []
    shift = 0.0
    step = 1e-6
    count = 0
    for p in pkts:
        if direction(p) == "c2s" and plen(p) > 1:
            data = payload(p)
            flags = int(p[TCP].flags)
            for k in range(len(data)):
                fl = flags if k == len(data) - 1 else (flags & ~0x08)  # PSH on last only
                q = with_payload(p, p[TCP].seq + k, data[k:k + 1], flags=fl)
                q.time = p.time + shift
                shift += step
                out.append(q)
                count += 1
            shift -= step
        else:
            q = p.copy()
            q.time = p.time + shift
            out.append(q)
    note = ("REWRITTEN from tcp-small-base.pcap: every client->server data segment re-split into "
            f"1-byte segments ({count} segments; seq, IP length and checksums recomputed, PSH only on "
            "the last byte of each original segment, timestamps 1 us apart with later packets shifted). "
            "What the peers sent is unchanged.")
    return out, note


def make_missing(clean, clean_log):
    pkts = [p.copy() for p in clean]
    isn = isn_of(pkts)
    s2c = stream(pkts, "s2c", isn)
    r = runs(pkts, "s2c")[1]
    i = r[1]
    p = pkts.pop(i)
    off, ln = rel_seq(p, isn), plen(p)
    frames = ws_frames(s2c, False)
    hit = None
    for n, (st, h, pl, op) in enumerate(frames):
        if st <= off < st + h + pl:
            hit = (n, st, h, pl, op)
    n, st, h, pl, op = hit
    with open(clean_log) as f:
        sent = json.load(f)["connections"][0]["sent"]
    srv = [k for k, e in enumerate(sent) if e["from"] == "server"]
    sent_index = srv[n]
    assert bytes.fromhex(sent[sent_index]["payload_hex"])[off - (st + h):off - (st + h) + ln] \
        == s2c[off:off + ln], "lost bytes do not match the log"
    lost = {"direction": "s2c", "rel_seq": off, "len": ln,
            "abs_seq": (isn["s2c"] + 1 + off) % M32,
            "sent_index": sent_index,
            "payload_offset": off - (st + h), "payload_len_lost": ln,
            "lost_hex": s2c[off:off + ln].hex()}
    note = (f"REWRITTEN from netem-clean.pcap: one server->client data segment removed (rel seq {off}, "
            f"len {ln}) - a real gap: the client's ACKs still acknowledge it (tshark: previous segment "
            f"not captured / ACKed unseen segment). The lost bytes are payload bytes "
            f"[{off - (st + h)}, {off - (st + h) + ln}) of connections[0].sent[{sent_index}] (0-based; a "
            "server echo spanning several segments); see 'lost'.")
    return pkts, note, {"lost": lost}


def make_seq_wrap(clean):
    pkts = [p.copy() for p in clean]
    isn = isn_of(pkts)
    total = {d: len(stream(pkts, d, isn)) for d in ("c2s", "s2c")}
    delta = {}
    for d in ("c2s", "s2c"):
        # choose the new ISN so that relative offset total/2 + 123 sits exactly at 2^32
        wrap_at = total[d] // 2 + 123
        new_isn = (M32 - 1 - wrap_at) % M32
        delta[d] = (new_isn - isn[d]) % M32
    out = []
    for p in pkts:
        q = p.copy()
        d = direction(q)
        other = "s2c" if d == "c2s" else "c2s"
        q[TCP].seq = (q[TCP].seq + delta[d]) % M32
        if q[TCP].flags & 0x10:
            q[TCP].ack = (q[TCP].ack + delta[other]) % M32
        if any(name == "SAck" for name, _ in q[TCP].options):
            opts = []
            for name, val in q[TCP].options:
                if name == "SAck":
                    val = tuple((v + delta[other]) % M32 for v in val)
                opts.append((name, val))
            q[TCP].options = opts
        out.append(rebuild(q))
    info = {"seq_shift": {d: {"isn": (isn[d] + delta[d]) % M32, "wraps_at_rel_offset":
                              (M32 - ((isn[d] + delta[d]) % M32) - 1) % M32,
                              "stream_len": total[d]} for d in delta}}
    note = ("REWRITTEN from netem-clean.pcap: sequence numbers of both directions (and the "
            "matching ack numbers) shifted so each byte stream crosses 2^32 in the middle of its data "
            f"(c2s ISN {info['seq_shift']['c2s']['isn']}, s2c ISN {info['seq_shift']['s2c']['isn']}; "
            "the byte at relative offset wraps_at_rel_offset has sequence number 0). "
            "What the peers sent is unchanged.")
    return out, note, info


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--clean", required=True)
    ap.add_argument("--small", required=True)
    ap.add_argument("--clean-log", required=True)
    ap.add_argument("--small-log", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--logs", required=True)
    a = ap.parse_args()
    clean = rdpcap(a.clean)
    small = rdpcap(a.small)

    pk, note = make_reordered(clean)
    write(a.out, "tcp-reordered", pk)
    write_log(a.logs, "tcp-reordered", a.clean_log, note)

    pk, note = make_duplicated(clean)
    write(a.out, "tcp-duplicated", pk)
    write_log(a.logs, "tcp-duplicated", a.clean_log, note)

    pk, note, info = make_overlap(clean)
    write(a.out, "tcp-overlap", pk)
    write_log(a.logs, "tcp-overlap", a.clean_log, note, info)

    pk, note = make_one_byte(small)
    write(a.out, "tcp-one-byte-segments", pk)
    write_log(a.logs, "tcp-one-byte-segments", a.small_log, note)

    pk, note, info = make_missing(clean, a.clean_log)
    write(a.out, "tcp-missing-segment", pk, allow_unseen=True)
    write_log(a.logs, "tcp-missing-segment", a.clean_log, note, info)

    pk, note, info = make_seq_wrap(clean)
    write(a.out, "tcp-seq-wrap", pk)
    write_log(a.logs, "tcp-seq-wrap", a.clean_log, note, info)
    print("rewrites done")


if __name__ == "__main__":
    main()
