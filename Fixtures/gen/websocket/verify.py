"""Cross-check every Fixtures/websocket/ws-*.pcap against its log with tshark.

For each logged connection and direction, the sequence of WebSocket frames
tshark sees (opcode, FIN, RSV1) must equal the sequence implied by the log (data frames and
control frames compared as two separate sequences)
(a message with "fragments": N -> first frame + N-1 continuation frames,
FIN only on the last, RSV1 only on the first when compressed).  For
uncompressed single-frame messages the unmasked payload must match too.
Also prints packet counts (tshark -r F | wc -l).  Exit status 1 on mismatch.
"""
import glob
import json
import os
import subprocess
import sys

from wsfix import LOG_DIR, OUT_DIR

OPC = {"continuation": 0, "text": 1, "binary": 2, "close": 8, "ping": 9, "pong": 10}
DECODE_AS = {"ws-midstream": 19170, "ws-midstream-deflate": 19180}
TLS_KEYS = {"ws-wss-and-plain": "ws-wss-and-plain.keys"}


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
                        payload.hex() if n == 1 and not e["compressed"] else None))
    return out


def main():
    ok = True
    for pcap in sorted(glob.glob(os.path.join(OUT_DIR, "ws-*.pcap"))):
        name = os.path.basename(pcap)[:-5]
        npk = len(tshark(["-r", pcap]).splitlines())
        args = ["-r", pcap]
        if name in DECODE_AS:
            args += ["-d", "tcp.port==%d,websocket" % DECODE_AS[name]]
        if name in TLS_KEYS:
            args += ["-o", "tls.keylog_file:" + os.path.join(OUT_DIR, TLS_KEYS[name])]
        rows = tshark(args + ["-Y", "websocket", "-T", "fields", "-E", "occurrence=a",
                              "-e", "tcp.srcport", "-e", "tcp.dstport", "-e", "websocket.opcode",
                              "-e", "websocket.fin", "-e", "websocket.rsv",
                              "-e", "websocket.payload_length", "-e", "websocket.payload_length_ext_16",
                              "-e", "websocket.payload_length_ext_64"])
        text_blob = tshark(args + ["-Y", "websocket", "-T", "fields", "-e", "websocket.payload.text"])
        frames = []
        for line in rows.splitlines():
            sp, dp, ops, fins, rsvs, l7, l16, l64 = (line.split("\t") + [""] * 8)[:8]
            l16, l64 = iter(l16.split(",")), iter(l64.split(","))
            for i, (op, fin, rsv, ln) in enumerate(zip(ops.split(","), fins.split(","),
                                                       rsvs.split(","), l7.split(","))):
                ln = int(ln)
                if ln == 126:
                    ln = int(next(l16))
                elif ln == 127:
                    ln = int(next(l64))
                frames.append((int(sp), int(dp), int(op), int(fin), (int(rsv, 16) >> 2) & 1, ln))
        log = json.load(open(os.path.join(LOG_DIR, name + ".json")))
        problems = []
        nframes = 0
        for c in log["connections"]:
            for side, (src, dst) in (("client", (c["client_port"], c["server_port"])),
                                     ("server", (c["server_port"], c["client_port"]))):
                got = [f for f in frames if (f[0], f[1]) == (src, dst)]
                nframes += len(got)
                exp = expected(c["sent"], side)
                # control frames may sit between the fragments of a message while the
                # log lists the message once: compare data and control frames separately
                got = [g for g in got if g[2] < 8] + [g for g in got if g[2] >= 8]
                exp = [e for e in exp if e[0] < 8] + [e for e in exp if e[0] >= 8]
                if [g[2:5] for g in got] != [e[:3] for e in exp]:
                    problems.append("%s %d->%d frames %s != log %s" % (
                        side, src, dst, [g[2:5] for g in got], [e[:3] for e in exp]))
                    continue
                for g, e in zip(got, exp):
                    if e[3] is not None and g[5] != len(e[3]) // 2:
                        problems.append("%s payload length %d != logged %d" % (side, g[5], len(e[3]) // 2))
                    if e[3] is not None and g[2] == 1 and 0 < len(e[3]) < 2000:
                        t = bytes.fromhex(e[3]).decode()
                        if t.isprintable() and t not in text_blob:
                            problems.append("%s text %r not seen by tshark" % (side, t[:30]))
        status = "OK " if not problems else "BAD"
        ok &= not problems
        print("%s %-28s %4d packets %3d ws frames %7d bytes" % (status, name + ".pcap", npk, nframes,
                                                               os.path.getsize(pcap)))
        for p in problems:
            print("      " + p)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
