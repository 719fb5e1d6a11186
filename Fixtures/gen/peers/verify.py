"""Cross-check every Fixtures/peers/*.pcap against its log with tshark.

For each logged connection and direction, the WebSocket frames tshark sees must be the
ones the log implies (data frames and control frames compared as two sequences, since
control frames may sit between the fragments of a message that the log lists once):

* opcode, FIN and RSV1 of every frame (a message with "fragments": N is N frames,
  FIN on the last, RSV1 on the first when compressed);
* the MASK bit: set on every client frame, clear on every server frame;
* the payload length of every uncompressed single-frame message and control frame,
  and its bytes for short printable text (websocket.payload.text);
* the close code of every close frame.

Also: a proxy capture's two legs must carry the same frame sequence.
Prints the packet count (tshark -r F | wc -l) and exits 1 on any mismatch.
"""
import glob
import json
import os
import subprocess
import sys

from peerfix import LOG_DIR, OUT_DIR, OPC


def tshark(args):
    return subprocess.run(["tshark"] + args, capture_output=True, text=True).stdout


def expected(sent, side):
    out = []
    for e in sent:
        if e["from"] != side:
            continue
        n = e.get("fragments", 1)
        payload = bytes.fromhex(e["payload_hex"])
        for k in range(n):
            out.append((OPC[e["opcode"]] if k == 0 else 0, int(k == n - 1),
                        int(e["compressed"] and k == 0),
                        payload.hex() if n == 1 and not e["compressed"] else None,
                        e.get("close_code")))
    return out


def frames_of(pcap):
    rows = tshark(["-r", pcap, "-Y", "websocket", "-T", "fields", "-E", "occurrence=a",
                   "-e", "tcp.srcport", "-e", "tcp.dstport", "-e", "websocket.opcode",
                   "-e", "websocket.fin", "-e", "websocket.rsv", "-e", "websocket.mask",
                   "-e", "websocket.payload_length", "-e", "websocket.payload_length_ext_16",
                   "-e", "websocket.payload_length_ext_64", "-e", "websocket.payload.close.status_code"])
    frames = []
    for line in rows.splitlines():
        sp, dp, ops, fins, rsvs, masks, l7, l16, l64, codes = (line.split("\t") + [""] * 10)[:10]
        l16, l64, codes = iter(l16.split(",")), iter(l64.split(",")), iter(codes.split(","))
        for op, fin, rsv, mask, ln in zip(ops.split(","), fins.split(","), rsvs.split(","),
                                          masks.split(","), l7.split(",")):
            ln = int(ln)
            if ln == 126:
                ln = int(next(l16))
            elif ln == 127:
                ln = int(next(l64))
            op = int(op, 0)
            code = int(next(codes)) if op == 8 else None
            frames.append((int(sp), int(dp), op, int(fin == "1" or fin == "True"), (int(rsv, 16) >> 2) & 1,
                           int(mask == "1" or mask == "True"), ln, code))
    return frames


def main():
    ok = True
    pcaps = sorted(glob.glob(os.path.join(OUT_DIR, "*.pcap")))
    if not pcaps:
        print("no captures in", OUT_DIR)
        return 1
    for pcap in pcaps:
        name = os.path.basename(pcap)[:-5]
        npk = len(tshark(["-r", pcap]).splitlines())
        text_blob = tshark(["-r", pcap, "-Y", "websocket", "-T", "fields", "-e", "websocket.payload.text"])
        frames = frames_of(pcap)
        log = json.load(open(os.path.join(LOG_DIR, name + ".json")))
        problems = []
        nframes = 0
        legs = []
        for c in log["connections"]:
            leg = []
            for side, (src, dst) in (("client", (c["client_port"], c["server_port"])),
                                     ("server", (c["server_port"], c["client_port"]))):
                got = [f for f in frames if (f[0], f[1]) == (src, dst)]
                nframes += len(got)
                leg.append([f[2:] for f in got])
                bad_mask = [f for f in got if f[5] != (side == "client")]
                if bad_mask:
                    problems.append("%s %d->%d: %d frames with the wrong MASK bit" % (side, src, dst, len(bad_mask)))
                exp = expected(c["sent"], side)
                got = [g for g in got if g[2] < 8] + [g for g in got if g[2] >= 8]
                exp = [e for e in exp if e[0] < 8] + [e for e in exp if e[0] >= 8]
                if [g[2:5] for g in got] != [e[:3] for e in exp]:
                    problems.append("%s %d->%d frames %s != log %s" % (
                        side, src, dst, [g[2:5] for g in got], [e[:3] for e in exp]))
                    continue
                for g, e in zip(got, exp):
                    if e[3] is not None and g[6] != len(e[3]) // 2:
                        problems.append("%s payload length %d != logged %d" % (side, g[6], len(e[3]) // 2))
                    if g[2] == 8 and g[7] != e[4]:
                        problems.append("%s close code %s != logged %s" % (side, g[7], e[4]))
                    if e[3] is not None and g[2] == 1 and 0 < len(e[3]) < 2000:
                        t = bytes.fromhex(e[3]).decode()
                        if t.isprintable() and t not in text_blob:
                            problems.append("%s text %r not seen by tshark" % (side, t[:30]))
            legs.append(leg)
        if "proxy" in log and len(legs) == 2:
            # same frames (opcode, FIN, RSV, length, code; not the MASK bit's owner) on both legs
            strip = lambda fs: [f[:3] + f[4:] for f in fs]  # noqa: E731
            if [strip(x) for x in legs[0]] != [strip(x) for x in legs[1]]:
                problems.append("the two legs carry different frames")
        status = "OK " if not problems else "BAD"
        ok &= not problems
        print("%s %-28s %4d packets %3d ws frames %7d bytes" % (status, name + ".pcap", npk, nframes,
                                                               os.path.getsize(pcap)))
        for p in problems:
            print("      " + p)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
