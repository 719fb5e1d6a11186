"""Check every Fixtures/tls/wss-*.pcap of this generator against its log with
the tshark oracle, and print a Markdown table (copied into README.md).

For each (capture, key log) case, tshark decrypts with
    tshark -r X.pcap -o tls.keylog_file:X.keys -Y websocket -T fields ...
and the WebSocket frames it finds per direction are compared with what the
peers logged as sent: data frames (text/binary) and control frames
(ping/pong/close) counted separately, opcodes in order, and the payload length
of every uncompressed message.  Cases that are expected to fail (wrong keys,
mid-stream capture, TLS 1.3 resumption without its keys) must show exactly
the frames listed in EXPECT.  Exit status 1 on any mismatch.
"""
import gzip
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from tlsfix import FIXTURES, LOG_DIR, OUT_DIR, tshark  # noqa: E402

OPC = {"text": 1, "binary": 2, "close": 8, "ping": 9, "pong": 10}

# (label, pcap, keys or None, log, which connections tshark must decrypt)
# "all" = every logged connection; [i] = only those; [] = none.
CASES = []
for _n, _s in FIXTURES.items():
    CASES.append((_n, _n + ".pcap", _n + ".keys", _n, "all"))
    if _s.get("resume") in ("id", "ticket"):
        CASES.append((_n + " (.full.keys)", _n + ".pcap", _n + ".full.keys", _n, "all"))
    if _s.get("resume") == "psk":
        CASES.append((_n + " (.first-only.keys)", _n + ".pcap", _n + ".first-only.keys", _n, [0]))
CASES += [
    ("wss-tls13-aes128gcm (.wrong.keys)", "wss-tls13-aes128gcm.pcap", "wss-tls13-aes128gcm.wrong.keys",
     "wss-tls13-aes128gcm", []),
    ("wss-tls13-aes128gcm (.badline.keys)", "wss-tls13-aes128gcm.pcap", "wss-tls13-aes128gcm.badline.keys",
     "wss-tls13-aes128gcm", "all"),
    ("wss-tls13-aes128gcm.pcapng (DSB, no -o)", "wss-tls13-aes128gcm.pcapng", None, "wss-tls13-aes128gcm", "all"),
    ("wss-tls13-midstream (.keys of aes128gcm)", "wss-tls13-midstream.pcap", "wss-tls13-aes128gcm.keys",
     "wss-tls13-aes128gcm", []),
]


def load_log(name):
    path = os.path.join(LOG_DIR, name + ".json")
    if not os.path.exists(path):   # large logs are committed gzipped
        with gzip.open(path + ".gz", "rt") as f:
            return json.load(f)
    with open(path) as f:
        return json.load(f)


def frames(pcap, keys):
    args = ["-r", os.path.join(OUT_DIR, pcap)]
    if keys:
        args += ["-o", "tls.keylog_file:" + os.path.join(OUT_DIR, keys)]
    rows = tshark(args + ["-Y", "websocket", "-T", "fields", "-E", "occurrence=a",
                          "-e", "tcp.srcport", "-e", "tcp.dstport", "-e", "websocket.opcode",
                          "-e", "websocket.payload_length", "-e", "websocket.payload_length_ext_16",
                          "-e", "websocket.payload_length_ext_64"])
    out = []
    for line in rows.splitlines():
        sp, dp, ops, l7, l16, l64 = (line.split("\t") + [""] * 6)[:6]
        l16, l64 = iter(l16.split(",")), iter(l64.split(","))
        for op, ln in zip(ops.split(","), l7.split(",")):
            ln = int(ln)
            if ln == 126:
                ln = int(next(l16))
            elif ln == 127:
                ln = int(next(l64))
            out.append((int(sp), int(dp), int(op), ln))
    return out, len(tshark(["-r", os.path.join(OUT_DIR, pcap)]).splitlines())


def expected(conn, side):
    return [(OPC[e["opcode"]], None if e["compressed"] else e["payload_len"])
            for e in conn["sent"] if e["from"] == side]


def fmt(d, c):
    return "%d+%d" % (d, c)


def main():
    ok = True
    print("| case | TLS | cipher suite | packets | conns decrypted | client→server data+ctrl (log / tshark) "
          "| server→client data+ctrl (log / tshark) | result |")
    print("|---|---|---|---|---|---|---|---|")
    for label, pcap, keys, logname, want in CASES:
        log = load_log(logname)
        got, npk = frames(pcap, keys)
        conns = log["connections"]
        want_idx = range(len(conns)) if want == "all" else want
        problems, cols, decrypted = [], {"client": [0, 0, 0, 0], "server": [0, 0, 0, 0]}, 0
        for i, c in enumerate(conns):
            conn_frames = 0
            for side, (src, dst) in (("client", (c["client_port"], c["server_port"])),
                                     ("server", (c["server_port"], c["client_port"]))):
                exp = expected(c, side)
                g = [(op, ln) for sp, dp, op, ln in got if (sp, dp) == (src, dst)]
                conn_frames += len(g)
                col = cols[side]
                col[0] += sum(1 for op, _ in exp if op < 8)
                col[1] += sum(1 for op, _ in exp if op >= 8)
                col[2] += sum(1 for op, _ in g if op < 8)
                col[3] += sum(1 for op, _ in g if op >= 8)
                if i not in want_idx:
                    if g:
                        problems.append("conn %d %s: %d frames, expected none" % (i + 1, side, len(g)))
                    continue
                if [op for op, _ in g] != [op for op, _ in exp]:
                    problems.append("conn %d %s opcodes %s != log %s" % (i + 1, side, [op for op, _ in g],
                                                                          [op for op, _ in exp]))
                elif any(el is not None and el != gl for (_, el), (_, gl) in zip(exp, g)):
                    problems.append("conn %d %s payload lengths differ" % (i + 1, side))
            decrypted += conn_frames > 0
        t = log["tls"]
        print("| %s | %s | %s | %d | %d of %d | %s / %s | %s / %s | %s |" % (
            label, t["version"][4:], t["cipher_suite"], npk, decrypted, len(conns),
            fmt(*cols["client"][:2]), fmt(*cols["client"][2:]),
            fmt(*cols["server"][:2]), fmt(*cols["server"][2:]),
            "ok" if not problems else "MISMATCH: " + "; ".join(problems)))
        ok &= not problems
    # ETM on the wire for the CBC fixtures (extension 22 in the ServerHello)
    for n, s in FIXTURES.items():
        if "etm" in s:
            for c in load_log(n)["connections"]:
                if c["tls"]["encrypt_then_mac"] != s["etm"]:
                    print("%s: encrypt_then_mac %s, wanted %s" % (n, c["tls"]["encrypt_then_mac"], s["etm"]))
                    ok = False
    for n, s in FIXTURES.items():
        size = os.path.getsize(os.path.join(OUT_DIR, n + ".pcap"))
        limit = 4 << 20 if s["large"] else 1 << 20
        if size >= limit:
            print("%s.pcap is %d bytes (limit %d)" % (n, size, limit))
            ok = False
    print("verify: " + ("all cases agree" if ok else "MISMATCHES"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
