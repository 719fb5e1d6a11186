#!/usr/bin/env python3
"""Derives the rewritten TCP-anomaly fixtures from real captures (scapy).

Inputs:  netem-clean.pcap (echo scenario, multi-segment frames, no anomaly)
         tcp-small-base.pcap (few short messages; base for 1-byte segments)
Outputs: tcp-reordered, tcp-duplicated, tcp-overlap, tcp-one-byte-segments,
         tcp-missing-segment, tcp-seq-wrap (.pcap) + Fixtures/logs/tcp-<name>.json
         later additions: tcp-ack-before-data, tcp-late-segment (--only NAME...
         writes just those)

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

# ------------------------------------------------------------------ later additions
def covers(ack_pkt, data_pkt):
    """True if ack_pkt (other direction, ACK flag) acknowledges data_pkt's last byte."""
    if not ack_pkt[TCP].flags & 0x10 or direction(ack_pkt) == direction(data_pkt):
        return False
    end = (data_pkt[TCP].seq + plen(data_pkt)) % M32
    return ((ack_pkt[TCP].ack - end) % M32) < (1 << 31)


def first_cover(pkts, order=None):
    """For every data segment (index into pkts) the index of the first packet, in file
    order `order` (a list of indices; default: pkts' order), of the other direction
    whose ACK covers the segment's end; None if no packet does."""
    order = list(range(len(pkts))) if order is None else order
    res = {}
    for pos, i in enumerate(order):
        if not plen(pkts[i]):
            continue
        res[i] = next((j for j in order[pos + 1:] if covers(pkts[j], pkts[i])), None)
    return res


def make_ack_before_data(clean):
    """Every data segment that the peer acknowledges gets the first packet of the other
    direction whose ACK covers its end placed BEFORE it (as multi-queue NICs and
    `tcpdump -i any` show it).  An ACK that is the first cover of several segments goes
    before the earliest of them.  Distance (output index of that data segment minus
    output index of the ACK) = 1 + (original 0-based index of the ACK % 3), shortened
    (down to 1) where it would put the ACK ahead of an earlier packet of its own
    direction, and clamped so that nothing lands before the SYN-ACK.  ACKs are placed in original order, so the
    cover of a data-carrying ACK (a chain) is placed relative to the ACK's new slot; where
    a later placement pushes an ACK outside 1..3 slots it is placed again (so a few end
    up 1..3 slots away but not at their wanted distance: the log gives the actual one)."""
    pkts = [p.copy() for p in clean]
    n = len(pkts)
    synack = next(i for i, p in enumerate(pkts) if (p[TCP].flags & 0x12) == 0x12)
    fc = first_cover(pkts)
    groups = {}  # ack index -> data indices it is the first cover of
    for d, a in fc.items():
        if a is not None:
            groups.setdefault(a, []).append(d)
    order = list(range(n))
    # first pass: each ACK at its wanted distance.  A later placement can land between an
    # earlier-placed ACK and its data (or two ACKs want the same slot): repeat passes
    # (bounded) that re-place only ACKs now outside 1..3 slots before their data.
    for npass in range(50):
        changed = False
        for a in sorted(groups):
            first = min(order.index(d) for d in groups[a])
            dist = 1 + a % 3
            if npass and 1 <= first - order.index(a) <= 3:
                continue
            order.remove(a)
            first = min(order.index(d) for d in groups[a])
            # keep each direction in order where possible: not ahead of an earlier packet
            # of the ACK's own direction (the distance shrinks, down to 1, instead); only
            # a chain (the cover of a data-carrying ACK) can force that
            own = [k for k, i in enumerate(order) if i < a and direction(pkts[i]) == direction(pkts[a])]
            lb = max(own) + 1 if own else 0
            order.insert(max(first - dist + 1, min(lb, first), synack + 1), a)
            changed = True
        if not changed:
            break
    else:
        sys.exit("ack-before-data: placement did not settle")
    # checks: every acknowledged data segment has a covering packet before it, the moved
    # ACK of each group sits 1..3 slots before the earliest segment of its group, every
    # byte is still there once, and nothing precedes the SYN-ACK
    pos = {i: k for k, i in enumerate(order)}
    moved = []
    for a in sorted(groups, key=pos.get):
        first = min(groups[a], key=pos.get)
        dist = pos[first] - pos[a]
        assert 1 <= dist <= 3, (a, groups[a], dist)
        assert all(pos[d] > pos[a] for d in groups[a])
        moved.append((a, groups[a], dist))
    for d, a in fc.items():
        if a is not None:
            assert any(covers(pkts[j], pkts[d]) for j in order[:pos[d]]), d
    assert sorted(order) == list(range(n)) and min(pos[a] for a in groups) > synack
    times = [p.time for p in pkts]
    out = [pkts[i] for i in order]
    for p, t in zip(out, times):
        p.time = t
    isn = isn_of(pkts)
    same_dir = []  # moved packets that now precede an earlier packet of their own direction
    for a, _, _ in moved:
        jumped = [i for i in order[pos[a] + 1:] if i < a and direction(pkts[i]) == direction(pkts[a])]
        if jumped:
            same_dir.append({"packet": pos[a] + 1, "direction": direction(pkts[a]),
                             "payload_len": plen(pkts[a]),
                             "ahead_of_own_direction_packets": sorted(pos[i] + 1 for i in jumped)})

    def dr(i):
        p = pkts[i]
        return {"packet": pos[i] + 1, "direction": direction(p), "rel_seq": rel_seq(p, isn),
                "len": plen(p)}
    info = {"acks_moved": {
        "count": len(moved),
        "packets": [pos[a] + 1 for a, _, _ in moved],
        "moves": [{"packet": pos[a] + 1, "original_packet": a + 1, "direction": direction(pkts[a]),
                   "rel_ack": (pkts[a][TCP].ack - isn["s2c" if direction(pkts[a]) == "c2s" else "c2s"] - 1) % M32,
                   "payload_len": plen(pkts[a]), "slots_before_first_covered": dist,
                   "first_cover_of": [dr(d) for d in sorted(ds, key=pos.get)]}
                  for a, ds, dist in moved],
        "ahead_of_own_direction": same_dir,
        "unacknowledged_data_segments": [dr(d) for d, a in sorted(fc.items()) if a is None],
    }}
    note = ("REWRITTEN from netem-clean.pcap: ACKs ahead of their data, as a multi-queue NIC or "
            "`tcpdump -i any` shows it. For every data segment that the peer acknowledges, the first "
            "packet of the other direction whose ACK covers the segment's end (in the original file "
            "order) is moved BEFORE it; an ACK that is the first cover of several segments goes before "
            "the earliest of them, at a distance of 1 + (original 0-based packet index % 3) slots, i.e. "
            "1-3 packets (output index of that data segment minus output index of the ACK), never "
            "before the SYN-ACK. ACKs are placed in original order, so where the covering packet itself "
            "carries data (a request/response chain) its own cover is placed before its new slot; such "
            "chains also put a few packets ahead of earlier packets of their own direction (see "
            f"acks_moved.ahead_of_own_direction). {len(moved)} packets moved (acks_moved.packets: output "
            "packet numbers, 1-based). Timestamps keep their slots (monotonic). No packet is dropped, "
            "added or modified: every byte is in the file, and what the peers sent is unchanged.")
    return out, note, info


def make_late_segment(clean, clean_log, shift=20):
    """One server->client data segment from the middle of a multi-segment frame is moved
    `shift` packets later in the file: after the client's ACK that covers it and more than
    10 packets of the connection after that ACK."""
    pkts = [p.copy() for p in clean]
    isn = isn_of(pkts)
    s2c = stream(pkts, "s2c", isn)
    r = runs(pkts, "s2c")[1]
    i = r[1]
    p = pkts[i]
    off, ln = rel_seq(p, isn), plen(p)
    frames = ws_frames(s2c, False)
    hit = [(n, st, h, pl) for n, (st, h, pl, op) in enumerate(frames) if st + h <= off and off + ln <= st + h + pl]
    assert hit, "segment is not inside one frame's payload"
    n, st, h, pl = hit[0]
    assert st < rel_seq(pkts[r[0]], isn) + plen(pkts[r[0]]) and off + ln < st + h + pl, "not mid-frame"
    with open(clean_log) as f:
        sent = json.load(f)["connections"][0]["sent"]
    srv = [k for k, e in enumerate(sent) if e["from"] == "server"]
    assert bytes.fromhex(sent[srv[n]]["payload_hex"])[off - (st + h):off - (st + h) + ln] == s2c[off:off + ln]
    ack = next(j for j in range(i + 1, len(pkts)) if covers(pkts[j], p))
    times = [q.time for q in pkts]
    out = pkts[:]
    out.insert(i + shift, out.pop(i))
    for q, t in zip(out, times):
        q.time = t
    new_pos = i + shift
    ack_pos = out.index(pkts[ack])
    assert new_pos - ack_pos > 10
    late = {"direction": "s2c", "packet": new_pos + 1, "original_packet": i + 1,
            "rel_seq": off, "len": ln, "abs_seq": (isn["s2c"] + 1 + off) % M32,
            "covering_ack_packet": ack_pos + 1, "packets_after_covering_ack": new_pos - ack_pos,
            "sent_index": srv[n], "payload_offset": off - (st + h), "payload_len": ln}
    note = (f"REWRITTEN from netem-clean.pcap: one server->client data segment from the middle of a "
            f"multi-segment frame (rel seq {off}, len {ln}; payload bytes [{off - (st + h)}, "
            f"{off - (st + h) + ln}) of connections[0].sent[{srv[n]}], a {pl} B server echo) is moved "
            f"{shift} packets later in the file: from packet {i + 1} to packet {new_pos + 1}, "
            f"{new_pos - ack_pos} packets after the client's ACK that covers it (packet {ack_pos + 1}). "
            "Until it arrives the stream has a hole that the peer has already acknowledged. "
            "Timestamps keep their slots (monotonic). No byte is lost, and what the peers sent is "
            "unchanged; see 'late'.")
    return out, note, {"late": late}


def extra_rewrites(a, clean, only):
    if not only or "tcp-ack-before-data" in only:
        pk, note, info = make_ack_before_data(clean)
        write(a.out, "tcp-ack-before-data", pk, check=False)
        write_log(a.logs, "tcp-ack-before-data", a.clean_log, note, info)
    if not only or "tcp-late-segment" in only:
        pk, note, info = make_late_segment(clean, a.clean_log)
        write(a.out, "tcp-late-segment", pk, check=False)
        write_log(a.logs, "tcp-late-segment", a.clean_log, note, info)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--clean", required=True)
    ap.add_argument("--small", required=True)
    ap.add_argument("--clean-log", required=True)
    ap.add_argument("--small-log", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--logs", required=True)
    ap.add_argument("--only", nargs="*", default=None,
                    help="write only these later-added rewrites (tcp-ack-before-data, "
                         "tcp-late-segment); default: everything")
    a = ap.parse_args()
    clean = rdpcap(a.clean)
    if a.only is not None:
        extra_rewrites(a, clean, set(a.only) or {"tcp-ack-before-data", "tcp-late-segment"})
        print("rewrites done (only: %s)" % " ".join(a.only))
        return
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

    extra_rewrites(a, clean, None)
    print("rewrites done")


if __name__ == "__main__":
    main()
