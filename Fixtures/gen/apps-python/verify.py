"""Check Fixtures/apps/{socketio,graphql,jsonrpc,json}-*.pcap against Fixtures/logs/<name>.json
with tshark only.

Per capture:
1. TCP: every connection the log names (connections[] and polling_connections[]) is in the
   capture and complete: the client's SYN (without ACK) is the connection's first packet,
   FIN seen from both sides, no RST; and the capture holds no other TCP connection.
2. WebSocket data messages: tshark's frames (tcp.srcport, websocket.opcode, websocket.fin,
   payload length) joined into messages (a text/binary frame with FIN, or one with its
   continuations up to FIN), counted per connection and side, must equal the number the log
   implies: the ws_message_index values of that side's entries are exactly 0..n-1.
   Each entry with a "raw" text (or "raw_hex") must sit in a text (binary) message, and,
   when that message is not compressed (no RSV1: permessage-deflate), have its byte length;
   the text of every text message (tshark's websocket.payload.text: unmasked, inflated)
   must equal the raw of the entries at its ws_message_index.
3. Size < 200 KiB.
Prints per capture the facts the README table quotes.  Exits 1 on any mismatch.
"""
import glob
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.abspath(os.path.join(HERE, "..", ".."))
OUT_DIR = os.path.join(FIXTURES, "apps")
LOG_DIR = os.path.join(FIXTURES, "logs")
PREFIXES = ("socketio-", "graphql-", "jsonrpc-", "json-")


def tshark(args):
    r = subprocess.run(["tshark"] + args, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError("tshark %s: %s" % (" ".join(args), r.stderr))
    return r.stdout


def ws_frames(pcap):
    """[(frame, sport, dport, opcode, fin, length, rsv1)] one per WebSocket frame, in capture order."""
    out = tshark(["-r", pcap, "-Y", "websocket", "-T", "fields", "-E", "occurrence=a", "-E", "separator=\t",
                  "-e", "frame.number", "-e", "tcp.srcport", "-e", "tcp.dstport", "-e", "websocket.opcode",
                  "-e", "websocket.fin", "-e", "websocket.payload_length",
                  "-e", "websocket.payload_length_ext_16", "-e", "websocket.payload_length_ext_64",
                  "-e", "websocket.rsv"])
    frames = []
    for line in out.splitlines():
        num, sp, dp, ops, fins, lens, e16, e64, rsvs = (line.split("\t") + [""] * 9)[:9]
        e16 = iter([x for x in e16.split(",") if x])
        e64 = iter([x for x in e64.split(",") if x])
        for op, fin, ln, rsv in zip(ops.split(","), fins.split(","), lens.split(","), rsvs.split(",")):
            ln = int(ln)
            if ln == 126:
                ln = int(next(e16))
            elif ln == 127:
                ln = int(next(e64))
            frames.append((int(num), int(sp), int(dp), int(op, 0), fin in ("1", "True"), ln,
                           bool(int(rsv, 0) & 0x4)))
    return frames


def ws_texts(pcap):
    """[(sport, dport, text)] the payload of every text frame (opcode 1), in capture order, as
    tshark shows it (websocket.payload.text: unmasked, and inflated when permessage-deflate
    compressed it)."""
    out = json.loads(tshark(["-r", pcap, "-Y", "websocket", "-T", "json", "-e", "tcp.srcport", "-e",
                             "tcp.dstport", "-e", "websocket.opcode", "-e", "websocket.payload.text"]) or "[]")
    rows = []
    for p in out:
        ly = p["_source"]["layers"]
        texts = iter(ly.get("websocket.payload.text", []))
        for op in ly.get("websocket.opcode", []):
            if int(op, 0) == 1:
                rows.append((int(ly["tcp.srcport"][0]), int(ly["tcp.dstport"][0]), next(texts, None)))
    return rows


def tcp_packets(pcap):
    out = tshark(["-r", pcap, "-Y", "tcp", "-T", "fields", "-E", "separator=\t",
                  "-e", "tcp.srcport", "-e", "tcp.dstport", "-e", "tcp.flags.syn", "-e", "tcp.flags.ack",
                  "-e", "tcp.flags.fin", "-e", "tcp.flags.reset"])
    b = lambda x: x in ("1", "True")  # noqa: E731
    return [(int(s), int(d), b(syn), b(ack), b(fin), b(rst))
            for s, d, syn, ack, fin, rst in (l.split("\t") for l in out.splitlines())]


def messages_of(frames, cport, sport):
    """{"client": [(opcode, length, compressed)], "server": [...]} data messages of one connection
    (compressed: RSV1 on the first frame, permessage-deflate)."""
    res = {"client": [], "server": []}
    cur = {}
    for _, sp, dp, op, fin, ln, rsv1 in frames:
        if {sp, dp} != {cport, sport}:
            continue
        side = "client" if sp == cport else "server"
        if op >= 8:
            continue
        if op != 0:
            cur[side] = [op, ln, rsv1]
        else:
            cur[side][1] += ln
        if fin:
            res[side].append(tuple(cur.pop(side)))
    return res


def check(name):
    pcap = os.path.join(OUT_DIR, name + ".pcap")
    log = json.load(open(os.path.join(LOG_DIR, name + ".json")))
    errs = []
    size = os.path.getsize(pcap)
    if size >= 200 * 1024:
        errs.append("size %d >= 200 KiB" % size)
    npk = len(tshark(["-r", pcap]).splitlines())
    frames = ws_frames(pcap)
    pkts = tcp_packets(pcap)

    # 1. TCP connections
    named = [(c["client_port"], c["server_port"]) for c in log["connections"]]
    named += [(c["client_port"], c["server_port"]) for c in log.get("polling_connections", [])]
    seen = {}
    for s, d, syn, ack, fin, rst in pkts:
        seen.setdefault(tuple(sorted((s, d))), []).append((s, d, syn, ack, fin, rst))
    for cport, sport in named:
        ps = seen.get(tuple(sorted((cport, sport))))
        if not ps:
            errs.append("%d->%d: not in the capture" % (cport, sport))
            continue
        s, d, syn, ack, fin, rst = ps[0]
        if not (syn and not ack and s == cport and d == sport):
            errs.append("%d->%d: first packet is not the client's SYN" % (cport, sport))
        fins = {p[0] for p in ps if p[4]}
        if fins != {cport, sport}:
            errs.append("%d->%d: FIN from %s only" % (cport, sport, sorted(fins)))
        if any(p[5] for p in ps):
            errs.append("%d->%d: RST" % (cport, sport))
    extra = set(seen) - {tuple(sorted(k)) for k in named}
    if extra:
        errs.append("TCP connections not in the log: %s" % sorted(extra))

    # 2. WebSocket data messages
    facts = []
    all_texts = ws_texts(pcap)
    ntext = 0
    for c in log["connections"]:
        cport, sport = c["client_port"], c["server_port"]
        wire = messages_of(frames, cport, sport)
        counts = {}
        for side in ("client", "server"):
            ents = [m for m in c["messages"] if m["from"] == side]
            idx = sorted({m["ws_message_index"] for m in ents if m.get("ws_message_index") is not None})
            if idx != list(range(len(idx))):
                errs.append("%d->%d %s: ws_message_index values not 0..n-1: %s" % (cport, sport, side, idx))
            if len(idx) != len(wire[side]):
                errs.append("%d->%d %s: log implies %d WebSocket data messages, capture has %d" %
                            (cport, sport, side, len(idx), len(wire[side])))
            for m in ents:
                i = m.get("ws_message_index")
                if i is None or i >= len(wire[side]):
                    continue
                op, ln, comp = wire[side][i]
                if m.get("raw_hex") is not None:
                    want_op, want_len = 2, len(bytes.fromhex(m["raw_hex"]))
                elif m.get("raw") is not None:
                    want_op, want_len = 1, len(m["raw"].encode("utf-8"))
                else:
                    continue
                if comp:
                    want_len = ln   # permessage-deflate: the wire length is the compressed one
                if (op, ln) != (want_op, want_len):
                    errs.append("%d->%d %s message %d: capture opcode %d length %d, log %d/%d" %
                                (cport, sport, side, i, op, ln, want_op, want_len))
            # text content: the text frames of this side (unfragmented here) against the raw of
            # the entry at the same position among the side's text messages
            texts = [t for sp, dp, t in all_texts if sp == (cport if side == "client" else sport)
                     and dp == (sport if side == "client" else cport)]
            text_idx = [i for i, w in enumerate(wire[side]) if w[0] == 1]
            if len(texts) != len(text_idx):
                errs.append("%d->%d %s: %d text frames, %d text messages" % (cport, sport, side, len(texts),
                                                                             len(text_idx)))
            else:
                at = dict(zip(text_idx, texts))
                for m in ents:
                    i = m.get("ws_message_index")
                    if m.get("raw") is not None and i in at and at[i] != m["raw"]:
                        errs.append("%d->%d %s message %d: capture text %r, log raw %r" %
                                    (cport, sport, side, i, (at[i] or "")[:80], m["raw"][:80]))
                ntext += len(texts)
            counts[side] = (len(ents), len(wire[side]), sum(1 for w in wire[side] if w[2]))
        facts.append("%d->%d%s: entries/ws messages (compressed) client %d/%d (%d) server %d/%d (%d)" % (
            cport, sport, " [%s]" % c["subprotocol"] if c.get("subprotocol") else "",
            *counts["client"], *counts["server"]))
    print("%-32s %4d packets %6d bytes %d TCP connection(s), %d texts compared" % (
        name + ".pcap", npk, size, len(seen), ntext))
    for f in facts:
        print("    " + f)
    for e in errs:
        print("    ERROR " + e)
    return not errs


def main():
    names = sorted(os.path.basename(p)[:-5] for p in glob.glob(os.path.join(LOG_DIR, "*.json"))
                   if os.path.basename(p).startswith(PREFIXES)
                   and os.path.exists(os.path.join(OUT_DIR, os.path.basename(p)[:-5] + ".pcap")))
    if not names:
        print("no captures")
        return 1
    ok = all([check(n) for n in names])
    print("OK" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
